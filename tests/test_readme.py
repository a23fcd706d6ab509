"""The README's usage example runs as written."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
from PIL import Image

from smoothgrad.store.paths import REPO_ROOT


def _mirror() -> Path:
    return Path(os.environ.get("SMOOTHGRAD_DATA_MIRROR", REPO_ROOT.parent / "shared" / "data"))


def test_readme_usage_example_runs(tmp_path: Path, monkeypatch) -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    code = re.search(r"## Explain one image with SmoothGrad.*?```python\n(.*?)```", readme, re.S)
    assert code, "README lost its usage example"
    data = REPO_ROOT / "data" if (REPO_ROOT / "data").is_dir() else _mirror()
    (tmp_path / "data").symlink_to(data.resolve())
    monkeypatch.chdir(tmp_path)
    exec(compile(code.group(1), "README.md", "exec"), {})
    gray = np.asarray(Image.open(tmp_path / "smoothgrad.png"))
    assert gray.shape == (224, 224) and gray.max() == 255 and gray.std() > 10
