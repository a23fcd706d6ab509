"""Throughput of the maps stage at the configured (paper) settings: the six maps of an image
(gradient, IG, Guided BackProp; each plain and inside SmoothGrad, SmoothGrad(IG) with
`smoothgrad.ig_steps` steps) for the first images of `data/pair-saliency/images`, target = the
model's top-1 class.

    .venv/bin/python benchmarks/maps_throughput.py --images 2            # images/s here
    .venv/bin/python benchmarks/maps_throughput.py --profile --images 1  # op-level profile
    git worktree add /tmp/old <commit>                                   # code before a change
    .venv/bin/python benchmarks/maps_throughput.py --old /tmp/old --images 2 --rounds 2

With `--old`, each round runs the old tree (at `--old-precision`) and this tree (at
`--precision`, default: the config's) one after the other, each in a fresh process, so a busy
neighbour slows both alike; then prints the medians and their ratio, and the fidelity of every
map kind: this tree at `--precision` against this tree at fp32 (same noise) beside fp32 against
fp32 with another seed (a new noise draw), for the first `--fidelity-images` images.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parents[1]
IMAGES = HERE / "data" / "pair-saliency" / "images"


def image_paths(n: int) -> list[Path]:
    return sorted(IMAGES.glob("*.png"), key=lambda p: int(p.stem))[:n]


def worker(args: argparse.Namespace) -> None:
    """Compute the maps in this process (run with the tree to measure first on sys.path)."""
    import torch

    from smoothgrad.compute.inputs import image_batch
    from smoothgrad.pipeline.builders import model_on_device, store_methods
    from smoothgrad.pipeline.config import load_config

    overrides = [f"device={args.device}", f"seed={args.seed}"]
    overrides += [f"precision={args.precision}"] if args.precision else []
    cfg = load_config([*overrides, *args.overrides])
    bundle, device = model_on_device(cfg)
    methods = store_methods(cfg, bundle)
    if args.smooth_only:
        methods = {k: m for k, m in methods.items() if k[1] == "smoothgrad"}
    inputs = [image_batch(bundle, path, 1, device)[1] for path in image_paths(args.images)]
    with torch.no_grad():
        targets = [bundle.net(x).argmax(1) for x in inputs]
    methods[next(iter(methods))].attribute(inputs[0], targets[0])  # warm up (oneDNN, allocator)

    def run() -> dict[str, np.ndarray]:
        maps = {}
        for k, (x, target) in enumerate(zip(inputs, targets, strict=True)):
            for (name, variant), method in methods.items():
                maps[f"{k}/{name}/{variant}"] = method.attribute(x, target).cpu().numpy()
        return maps

    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    if args.profile:
        from torch.profiler import ProfilerActivity, profile
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA]
                                               if device.type == "cuda" else [])
        with profile(activities=activities) as prof:
            maps = run()
        key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
        print(prof.key_averages().table(sort_by=key, row_limit=args.profile,
                                        max_name_column_width=34))
    else:
        maps = run()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    if args.out:
        np.savez(args.out, **maps)
    print(json.dumps({"seconds": seconds, "images": len(inputs), "device": str(device),
                      "precision": cfg.precision, "torch": torch.__version__,
                      "threads": torch.get_num_threads()}))


def spawn(tree: Path, args: argparse.Namespace, *, precision: str | None, seed: int = 0,
          images: int, out: Path | None = None, smooth_only: bool = False) -> dict:
    """One worker run of `tree`'s code in a fresh process; its JSON line."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", "--device",
               args.device, "--images", str(images), "--seed", str(seed)]
    command += ["--precision", precision] if precision else []
    command += ["--out", str(out)] if out else []
    command += ["--smooth-only"] if smooth_only else []
    command += args.overrides
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    result = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True,
                            check=False)
    if result.returncode:
        sys.exit(f"worker failed in {tree}:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def spearman_abs(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr
    return float(spearmanr(np.abs(a).sum(1).ravel(), np.abs(b).sum(1).ravel()).statistic)


def rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / ||b|| (L2 over the whole map)."""
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def compare(args: argparse.Namespace) -> None:
    old, new = Path(args.old).resolve(), Path(args.new).resolve()
    times: dict[str, list[float]] = {"old": [], "new": []}
    info: dict[str, dict] = {}
    tmp = Path(tempfile.mkdtemp(prefix="maps_throughput_"))
    for r in range(args.rounds):
        for side, tree, precision in (("old", old, args.old_precision),
                                      ("new", new, args.precision)):
            out = tmp / f"{side}.npz" if r == 0 else None
            info[side] = spawn(tree, args, precision=precision, images=args.images, out=out)
            times[side].append(info[side]["images"] / info[side]["seconds"])
            print(f"# round {r + 1} {side} ({info[side]['precision']}): "
                  f"{times[side][-1]:.4f} images/s", flush=True)
    median = {side: statistics.median(v) for side, v in times.items()}
    print(f"\n# device={info['new']['device']} torch={info['new']['torch']} "
          f"threads={info['new']['threads']} images={args.images} rounds={args.rounds}")
    print("| code | precision | images/s per round | median images/s | new/old |")
    print("|---|---|---|---|---|")
    for side in ("old", "new"):
        rounds = ", ".join(f"{v:.4f}" for v in times[side])
        print(f"| {side} | {info[side]['precision']} | {rounds} | {median[side]:.4f} | "
              f"{median[side] / median['old']:.2f} |")
    pairs = [n / o for o, n in zip(times["old"], times["new"], strict=True)]
    print(f"new/old within each round: {', '.join(f'{p:.2f}' for p in pairs)}; median "
          f"{statistics.median(pairs):.2f}")
    if args.fidelity_images:
        fidelity(args, new, tmp)


def fidelity(args: argparse.Namespace, new: Path, tmp: Path) -> None:
    k = args.fidelity_images
    fp32 = tmp / "fp32.npz"
    run = spawn(new, args, precision="fp32", images=k, out=fp32)
    print(f"\n# new fp32 (fidelity reference): {run['images'] / run['seconds']:.4f} images/s")
    spawn(new, args, precision="fp32", seed=1, images=k, out=tmp / "seed1.npz",
          smooth_only=True)
    maps = {name: np.load(tmp / f"{name}.npz") for name in ("new", "old", "fp32", "seed1")}
    print(f"# fidelity over the first {k} image(s): Spearman of |map| (summed over channels) "
          "and ||a - b|| / ||b||")
    print(f"| map | new {args.precision or 'default'} vs new fp32 (same noise): rho, rel | "
          "new fp32 seed 0 vs seed 1 (new noise): rho, rel | old fp32 vs new fp32: rho, rel |")
    print("|---|---|---|---|")
    for key in [key for key in maps["fp32"].files if key.startswith("0/")]:
        cells = []
        for a, b in (("new", "fp32"), ("seed1", "fp32"), ("old", "fp32")):
            pairs = [(maps[a][f"{i}/{key[2:]}"], maps[b][f"{i}/{key[2:]}"]) for i in range(k)
                     if f"{i}/{key[2:]}" in maps[a].files]
            if not pairs:
                cells.append("– (no noise)")
                continue
            rho = np.mean([spearman_abs(u, v) for u, v in pairs])
            rel = np.mean([rel_diff(u, v) for u, v in pairs])
            cells.append(f"{rho:.4f}, {rel:.2e}")
        print(f"| {key[2:]} | " + " | ".join(cells) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--precision", default=None, help="default: the config's")
    parser.add_argument("--old", default=None, help="a worktree of the code to compare with")
    parser.add_argument("--new", default=str(HERE),
                        help="the tree to measure against --old (default: this one)")
    parser.add_argument("--old-precision", default=None, help="default: the old config's")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--fidelity-images", type=int, default=1)
    parser.add_argument("--profile", type=int, nargs="?", const=15, default=0,
                        help="print torch.profiler's op table (this many rows)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("overrides", nargs="*", help="config overrides for every run (key=value)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--smooth-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker or not args.old:
        if not args.worker:
            sys.path.insert(0, str(HERE / "src"))
        worker(args)
    else:
        compare(args)


if __name__ == "__main__":
    main()
