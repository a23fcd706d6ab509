"""Writes are atomic (issue 13.6): a writer killed mid-write leaves its target absent or the
previous complete version, never truncated, and its temp file is never read as an output; the
bytes are those of a plain write. And an interrupted, then completed maps stage leaves no
`.partial` folder behind (issue 13.7)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from stage_helpers import tiny_bundle
from torch import nn

import smoothgrad.compute.maps as maps_module
from smoothgrad.compute.maps import compute_map_store, resume_dir
from smoothgrad.compute.methods import SmoothGradSettings, method_grid
from smoothgrad.compute.mnist import save_checkpoint
from smoothgrad.outputs.figures.style import _METADATA, plt, save_figure
from smoothgrad.outputs.gallery.build import _save_webp
from smoothgrad.pipeline.builders import method_factories
from smoothgrad.pipeline.config import compose_config
from smoothgrad.store.arrays import TMP_SUFFIX, atomic_path, load_npz, save_npz, write_json
from smoothgrad.store.paths import REPO_ROOT

# The child rewrites `target` forever, alternating two versions, and says when the first is
# complete; `version(i)` is shared with the test, which checks what a kill left.
_CHILD_COMMON = """
import sys
import numpy as np
from smoothgrad.outputs.figures.style import plt, save_figure
from smoothgrad.store.arrays import save_npz

def npz_version(i):
    return np.random.default_rng(i).random(1_500_000).astype(np.float32)

def figure_version(i):
    fig, ax = plt.subplots(figsize=(8, 8))
    ax.imshow(np.random.default_rng(i).random((400, 400)), interpolation="nearest")
    return fig
"""
_CHILD_LOOP = {
    "npz": "save_npz(target, values=npz_version(i % 2))",
    "figure": "save_figure(figure_version(i % 2), target)",
}


def _child(kind: str, target: Path) -> subprocess.Popen:
    code = _CHILD_COMMON + textwrap.dedent(f"""
        target = {str(target)!r}
        i = 0
        while True:
            {_CHILD_LOOP[kind]}
            if i == 0:
                print("ready", flush=True)
            i += 1
        """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "src"),
                                                        os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env,
                            text=True)


def _kill_mid_write(kind: str, target: Path, delays: list[float]) -> list[list[str]]:
    """Start the child, SIGKILL it `delay` s after its first complete write, once per delay;
    returns the folder's file names at each kill."""
    names = []
    for delay in delays:
        child = _child(kind, target)
        try:
            assert child.stdout.readline().strip() == "ready"
            time.sleep(delay)
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
            child.stdout.close()
        names.append(sorted(p.name for p in target.parent.iterdir()))
    return names


_CHILD_NS: dict = {}
exec(_CHILD_COMMON, _CHILD_NS)


def test_a_killed_npz_write_leaves_the_previous_complete_file(tmp_path: Path) -> None:
    target = tmp_path / "maps" / "1.npz"
    versions = [_CHILD_NS["npz_version"](i) for i in (0, 1)]
    names = _kill_mid_write("npz", target, [0.1, 0.4])
    # at least one kill hit a write in progress (its temp file was there), so the test bites
    assert any(f"1.npz{TMP_SUFFIX}" in n for n in names)
    values = load_npz(target)["values"]  # a truncated zip would raise here
    assert any(np.array_equal(values, v) for v in versions)
    # a reader's glob (the maps stage's resume folder) sees only complete files
    assert [p.name for p in target.parent.glob("*.npz")] == ["1.npz"]
    save_npz(target, values=versions[0])  # the next run overwrites a leftover temp file
    assert sorted(p.name for p in target.parent.iterdir()) == ["1.npz"]


def test_a_killed_figure_write_leaves_complete_png_and_pdf(tmp_path: Path) -> None:
    target = tmp_path / "figures" / "fig"
    expected = {}
    for i in (0, 1):
        out = tmp_path / f"expected{i}" / "fig"
        for path in save_figure(_CHILD_NS["figure_version"](i), out):
            expected.setdefault(path.suffix, []).append(path.read_bytes())
    _kill_mid_write("figure", target, [0.2, 0.5])
    for suffix in (".png", ".pdf"):
        path = target.with_suffix(suffix)
        assert path.read_bytes() in expected[suffix]  # complete: one of the two versions
    assert sorted(p.name for p in target.parent.glob("*.p??")) == ["fig.pdf", "fig.png"]


def test_a_failed_write_keeps_the_previous_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "metrics.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text('{"a": ')
        raise RuntimeError("killed midway")
    assert target.read_text() == '{\n  "a": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_atomic_writers_write_the_bytes_of_a_plain_write(tmp_path: Path) -> None:
    """Figures, thumbnails and checkpoints must keep their bytes (DVC hashes, the smoke run's
    byte-for-byte check): the temp file changes where they are written, not what."""
    def figure():
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.imshow(np.arange(16).reshape(4, 4))
        ax.set_title("bytes")
        return fig

    written = save_figure(figure(), tmp_path / "atomic" / "fig")
    for path in written:
        plain = tmp_path / f"plain{path.suffix}"
        fig = figure()
        fig.savefig(plain, metadata=_METADATA[path.suffix], bbox_inches="tight")
        plt.close(fig)
        assert path.read_bytes() == plain.read_bytes()

    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 30, 3), np.uint8))
    _save_webp(image, tmp_path / "thumbs" / "a.webp", 20, 80)
    plain = image.copy()
    plain.thumbnail((20, 20), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    plain.save(buf, format="WEBP", quality=80, method=6)
    assert (tmp_path / "thumbs" / "a.webp").read_bytes() == buf.getvalue()

    net = nn.Linear(3, 2)
    save_checkpoint(net, tmp_path / "a.pt")
    save_checkpoint(net, tmp_path / "b" / "b.pt")
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b" / "b.pt").read_bytes()
    assert not list(tmp_path.rglob(f"*{TMP_SUFFIX}"))


# --- issue 13.7: no `.partial` folder after an interrupted, then completed maps stage ---

def _entry(image_id: int) -> dict:
    correct = image_id != 2
    return {"id": image_id, "file": f"{image_id}.png", "label": "goldfish",
            "class_name": "goldfish", "label_index": 1,
            "prediction_index": 1 if correct else 7,
            "prediction_name": "goldfish" if correct else "cock",
            "prediction_prob": 0.9 if correct else 0.3, "correct": correct}


def test_an_interrupted_then_completed_maps_stage_leaves_no_partial_folder(
        tmp_path: Path, monkeypatch) -> None:
    factories = method_factories(compose_config().methods)
    bundle = tiny_bundle()
    settings = SmoothGradSettings(noise_level=0.15, n_samples=2, aggregate="mean", batch_size=3,
                                  seed=0)
    methods = {k: m for k, m in method_grid(factories, bundle, "fp32", settings).items()
               if k[0] == "gradient"}
    rng = np.random.default_rng(0)
    files = {}
    for i in (1, 2, 3):
        files[i] = tmp_path / "images" / f"{i}.png"
        files[i].parent.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(files[i])
    key = {"noise_level": 0.15}

    def compute(store: Path) -> int:
        return compute_map_store(methods, bundle, [_entry(i) for i in files], files, store,
                                 torch.device("cpu"), settings=key,
                                 resume=resume_dir(store, key, files.values()))

    compute(tmp_path / "whole")

    real, calls = maps_module.image_batch, []

    def interrupt_after_the_first_image(*args):
        calls.append(args[1])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args)

    store = tmp_path / "resumed"
    monkeypatch.setattr(maps_module, "image_batch", interrupt_after_the_first_image)
    with pytest.raises(KeyboardInterrupt):
        compute(store)
    partial = store.with_name(store.name + ".partial")
    assert [p.name for p in partial.glob("*/*.npz")] == ["1.npz"]
    compute(store)
    assert len(calls) == 4  # images 2, 3 only on the rerun
    assert not partial.exists()
    assert sorted(p.name for p in store.iterdir()) == ["1.npz", "2.npz", "3.npz", "index.json"]
    for name in ("1.npz", "2.npz", "3.npz", "index.json"):
        assert (store / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()
