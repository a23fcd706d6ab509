"""Attribution maps the ImageNet figures need, computed once by the pipeline's stages and stored
as arrays, so that drawing a figure never runs the model."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from .attribution import Gradient, SmoothGrad
from .data.imagenet import load_image, load_records
from .device import configure_cpu_numerics, resolve_device
from .map_store import map_key, write_image_maps, write_index
from .models import ModelBundle
from .selection import select_for, target_index, target_name


class Explainer(Protocol):
    """Anything with `attribute(x, target)`: the methods and SmoothGrad around them."""

    def attribute(self, x: torch.Tensor, target: int | torch.Tensor) -> torch.Tensor: ...


def ig_baseline(bundle: ModelBundle, kind: str) -> float | torch.Tensor:
    """IG's baseline x' in the model's input space: `black` is a black image (normalized zeros,
    not the zero input, which is mid-gray for a mean-0.5 model); `zero` is the zero input."""
    if kind == "zero":
        return 0.0
    if kind == "black":
        return bundle.normalize(torch.zeros(bundle.channels, bundle.input_size, bundle.input_size))
    raise ValueError(f"methods.integrated_gradients.baseline={kind!r}: choose black or zero")


def base_method(cfg: DictConfig, name: str, bundle: ModelBundle, **overrides: Any) -> Explainer:
    """One of `cfg.methods` built for `bundle.net`, with config values overridable per call."""
    node = cfg.methods[name]
    kwargs: dict[str, Any] = {"model": bundle.net, "precision": cfg.precision}
    if name == "integrated_gradients":
        kwargs["baseline"] = ig_baseline(bundle, node.baseline)
    return instantiate({k: v for k, v in node.items() if k != "baseline"}, **kwargs, **overrides)


def smoothgrad(cfg: DictConfig, method: Explainer, **overrides: Any) -> SmoothGrad:
    """SmoothGrad around `method` with the `smoothgrad` config (overridable per call)."""
    sg = cfg.smoothgrad
    kwargs = {"noise_level": sg.noise_level, "n_samples": sg.n_samples,
              "aggregate": sg.aggregate, "batch_size": sg.batch_size, "seed": cfg.seed}
    return SmoothGrad(method, **{**kwargs, **overrides})


def store_methods(cfg: DictConfig, bundle: ModelBundle) -> dict[tuple[str, str], Explainer]:
    """(method, variant) -> attribution for the map store; SmoothGrad(IG) uses
    `smoothgrad.ig_steps` IG steps per noisy sample (n x steps passes per image)."""
    plain = {name: base_method(cfg, name, bundle) for name in cfg.methods}
    smooth_bases = {**plain, "integrated_gradients": base_method(
        cfg, "integrated_gradients", bundle, steps=cfg.smoothgrad.ig_steps)}
    methods: dict[tuple[str, str], Explainer] = {}
    for name in cfg.methods:
        methods[name, "plain"] = plain[name]
        methods[name, "smoothgrad"] = smoothgrad(cfg, smooth_bases[name])
    return methods


def image_batch(bundle: ModelBundle, path: str | Path, n: int,
                device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """An image's [0, 1] pixels on the model's grid and `n` copies of its model input (one per
    target, so every class of an image is explained in one batched call)."""
    pixels = bundle.pixels(load_image(path))
    x = bundle.normalize(pixels).unsqueeze(0).repeat(n, 1, 1, 1).to(device)
    return pixels, x


def attribute_targets(method: Explainer, x: torch.Tensor,
                      targets: Sequence[int]) -> np.ndarray:
    """Maps of `x` (one row per target) as float32 numpy, (T, C, H, W)."""
    target = torch.tensor(list(targets), device=x.device)
    return method.attribute(x, target).detach().float().cpu().numpy()


def resume_dir(cfg: DictConfig, predictions: Sequence[Mapping], images: Sequence[Path],
               store: Path, device: torch.device) -> Path:
    """Where the maps stage keeps finished images until the whole store is written (DVC deletes
    the store itself before a rerun). Named by a hash of everything the maps depend on (settings,
    device type, torch, the predictions, the `images` files and the source of the code that
    computes them), so an interrupted run resumes where it stopped and a changed one starts
    over."""
    config = OmegaConf.to_container(cfg, resolve=True)
    key = {"config": {k: config[k] for k in ("model", "methods", "smoothgrad", "seed",
                                             "precision")},
           "device": device.type, "torch": torch.__version__, "predictions": list(predictions)}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode())
    package = Path(__file__).parent
    sources = sorted([*package.glob("attribution/*.py"), *package.glob("models/*.py"),
                      *(package / name for name in ("maps.py", "map_store.py", "io.py",
                                                    "device.py", "data/imagenet.py"))])
    for path in [*sources, *images]:
        digest.update(path.read_bytes())
    return store.with_name(store.name + ".partial") / digest.hexdigest()[:16]


def compute_map_store(cfg: DictConfig, bundle: ModelBundle, predictions: Sequence[Mapping],
                      store: Path, device: torch.device) -> int:
    """Write `store` (see `map_store`): every method, plain and SmoothGrad, for the label and,
    where the top-1 is wrong, the prediction. Returns the number of maps written.

    Each image is saved to `resume_dir` as soon as it is done and the store is assembled from
    there at the end, so an interrupted run loses at most the image in progress."""
    paths = image_paths(cfg)
    methods = store_methods(cfg, bundle)
    partial = resume_dir(cfg, predictions, [paths[e["id"]] for e in predictions], store, device)
    for stale in (p for p in partial.parent.glob("*") if p != partial):
        shutil.rmtree(stale)
    done = {int(p.stem) for p in partial.glob("*.npz")}
    if done:
        print(f"maps: resuming, {len(done)} of {len(predictions)} images already in {partial}")
    entries, n_maps = [], 0
    for entry in tqdm(predictions, desc="maps", unit="img"):
        targets = {"label": entry["label_index"]}
        if not entry["correct"]:
            targets["prediction"] = entry["prediction_index"]
        if entry["id"] not in done:
            pixels, x = image_batch(bundle, paths[entry["id"]], len(targets), device)
            maps: dict[str, np.ndarray] = {}
            for (name, variant), method in methods.items():
                result = attribute_targets(method, x, list(targets.values()))
                for row, target in enumerate(targets):
                    maps[map_key(target, name, variant)] = result[row]
            write_image_maps(partial, entry["id"], pixels.numpy(), maps)
        n_maps += len(targets) * len(methods)
        keep = ("id", "file", "label", "class_name", "label_index", "prediction_index",
                "prediction_name", "prediction_prob", "correct")
        entries.append({**{k: entry[k] for k in keep}, "targets": list(targets)})
    shutil.rmtree(store, ignore_errors=True)  # no image of an earlier run may linger
    store.mkdir(parents=True)
    for entry in entries:
        (partial / f"{entry['id']}.npz").replace(store / f"{entry['id']}.npz")
    settings = {
        "noise_level": cfg.smoothgrad.noise_level, "n_samples": cfg.smoothgrad.n_samples,
        "aggregate": cfg.smoothgrad.aggregate, "ig_steps": cfg.methods.integrated_gradients.steps,
        "smoothgrad_ig_steps": cfg.smoothgrad.ig_steps,
        "ig_baseline": cfg.methods.integrated_gradients.baseline, "seed": cfg.seed,
        "precision": cfg.precision,
    }
    write_index(store, {"model": bundle.name, "settings": settings, "images": entries})
    shutil.rmtree(partial.parent)
    return n_maps


def noise_sweep(cfg: DictConfig, bundle: ModelBundle, x: torch.Tensor, targets: Sequence[int],
                levels: Sequence[float]) -> np.ndarray:
    """SmoothGrad(gradient) of each image at each noise level, (K, L, C, H, W); level 0 is the
    vanilla gradient itself (noise 0 would only average n identical maps)."""
    gradient = base_method(cfg, "gradient", bundle)
    rows = []
    for k in tqdm(range(len(x)), desc="sweep_noise", unit="img"):
        xk = x[k:k + 1]
        rows.append(np.concatenate([
            attribute_targets(gradient if level == 0 else
                              smoothgrad(cfg, gradient, noise_level=level), xk, [targets[k]])
            for level in levels]))
    return np.stack(rows)


def samples_sweep(cfg: DictConfig, bundle: ModelBundle, x: torch.Tensor, targets: Sequence[int],
                  counts: Sequence[int], noise_level: float) -> np.ndarray:
    """SmoothGrad(gradient) of each image at each sample count n, read off one run of
    max(counts) samples as running means, (K, N, C, H, W)."""
    sg = smoothgrad(cfg, base_method(cfg, "gradient", bundle), noise_level=noise_level,
                    n_samples=max(counts))
    rows = []
    for k in tqdm(range(len(x)), desc="sweep_samples", unit="img"):
        target = torch.tensor([targets[k]], device=x.device)
        running = sg.attribute_running(x[k:k + 1], target, list(counts))
        rows.append(np.concatenate([running[n].detach().float().cpu().numpy() for n in counts]))
    return np.stack(rows)


def choose_pixel(rule: str | Sequence[int], grad: torch.Tensor) -> tuple[int, int]:
    """Fig 2's pixel: `center`, `max_gradient` (largest |dS/dx| summed over channels at x), or
    an explicit [row, col]."""
    height, width = grad.shape[-2:]
    if isinstance(rule, str):
        if rule == "center":
            return height // 2, width // 2
        if rule == "max_gradient":
            flat = int(grad.abs().sum(dim=0).argmax())
            return flat // width, flat % width
        raise ValueError(f"figures.fig2.pixel={rule!r}: choose center, max_gradient or [row, col]")
    row, col = (int(v) for v in rule)
    return row, col


def line_scan(bundle: ModelBundle, pixels: torch.Tensor, target: int, *, pixel_rule: Any,
              n_t: int, epsilon_std: float, seed: int, batch_size: int, precision: str,
              device: torch.device) -> dict[str, np.ndarray]:
    """Fig 2: dS_c/dx of one pixel's channels along x + t*eps (eps ~ N(0, std^2) in [0, 1]
    pixel space), each divided by max_i |dS_c/dx_i| at that point, for t in [0, 1]."""
    generator = torch.Generator().manual_seed(seed)
    eps = torch.randn(pixels.shape, generator=generator) * epsilon_std
    ts = torch.linspace(0.0, 1.0, n_t)
    gradient = Gradient(bundle.net, precision=precision)
    values, pixel = [], None
    for start in tqdm(range(0, n_t, batch_size), desc="line_scan", unit="batch"):
        t = ts[start:start + batch_size].view(-1, 1, 1, 1)
        x = bundle.normalize(pixels.unsqueeze(0) + t * eps).to(device)
        grads = gradient.attribute(x, torch.full((len(x),), target, device=device)).float().cpu()
        if pixel is None:
            pixel = choose_pixel(pixel_rule, grads[0])
        scale = grads.abs().amax(dim=(1, 2, 3)).clamp_min(1e-30)
        values.append(grads[:, :, pixel[0], pixel[1]] / scale[:, None])
    return {"t": ts.numpy(), "ratio": torch.cat(values).numpy(), "pixel": np.array(pixel),
            "x": pixels.numpy(), "x_eps": (pixels + eps).clamp(0, 1).numpy(),
            "epsilon_std": np.array(epsilon_std)}


TWO_OBJECT_METHODS = ("gradient", "integrated_gradients", "guided_backprop", "smoothgrad")


def two_object_maps(cfg: DictConfig, bundle: ModelBundle, x: torch.Tensor,
                    classes: Sequence[int]) -> np.ndarray:
    """Fig 6: each method's map of one photo for each of its classes, (M, 2, C, H, W) in the
    order of TWO_OBJECT_METHODS; SmoothGrad wraps the vanilla gradient."""
    methods = {name: base_method(cfg, name, bundle) for name in TWO_OBJECT_METHODS[:3]}
    methods["smoothgrad"] = smoothgrad(cfg, methods["gradient"])
    return np.stack([attribute_targets(methods[name], x, classes) for name in TWO_OBJECT_METHODS])


def setup_model(cfg: DictConfig) -> tuple[ModelBundle, torch.device]:
    """The configured ImageNet model on the configured device, seeded, denormals flushed."""
    configure_cpu_numerics()
    torch.manual_seed(cfg.seed)
    device = resolve_device(cfg.device)
    return instantiate(cfg.model).to(device), device


def load_predictions(cfg: DictConfig) -> list[dict[str, Any]]:
    """The `predict_imagenet` stage's output: one entry per configured image, sorted by id."""
    return json.loads((Path(cfg.paths.artifacts) / "imagenet" / "predictions.json").read_text())


def image_paths(cfg: DictConfig) -> dict[int, Path]:
    """Image id -> file, for all the images in the metadata."""
    return {r.id: r.path for r in load_records(cfg.imagenet.images_dir, cfg.imagenet.metadata)}


def selected_inputs(cfg: DictConfig, bundle: ModelBundle, rule: Mapping[str, Any]
                    ) -> tuple[list[dict[str, Any]], torch.Tensor, list[int]]:
    """The images a figure's rule picks: their prediction entries, [0, 1] pixels on the
    model's grid (K, C, H, W), and the class each map explains (`figures.target`)."""
    entries = select_for(load_predictions(cfg), rule)
    paths = image_paths(cfg)
    pixels = torch.stack([bundle.pixels(load_image(paths[e["id"]])) for e in entries])
    return entries, pixels, [target_index(e, cfg.figures.target) for e in entries]


def sweep_arrays(cfg: DictConfig, bundle: ModelBundle, entries: Sequence[Mapping[str, Any]],
                 pixels: torch.Tensor, maps: np.ndarray, values: Sequence[float]
                 ) -> dict[str, np.ndarray]:
    """What a sweep stage stores for Figs 3 and 4 (besides its own settings): the images
    (`selected_inputs`), their maps (K, V, C, H, W) as float16, the swept values and the labels
    of the rows."""
    return {"pixels": pixels.numpy().astype(np.float16), "maps": maps.astype(np.float16),
            "values": np.array(values), "model": np.array(bundle.name),
            "ids": np.array([e["id"] for e in entries]),
            "class_names": np.array([target_name(e, cfg.figures.target) for e in entries])}
