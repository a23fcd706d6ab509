"""The list of input files (`manifest.tsv`, a copy of the mirror's MANIFEST.tsv) and checking
files against it.

The manifest is packaged with the code, so the expected hashes come from the commit being run,
never from the mirror or the server that is being checked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath

from smoothgrad.errors import DataError  # re-exported: older code imports it from here

COLUMNS = ("path", "bytes", "sha256", "content_sha256", "public_url")
# src/smoothgrad/data/manifest.py -> the repository, so callers' "data/..." paths do not depend
# on the current folder.
REPO_ROOT = Path(__file__).resolve().parents[3]
FIX = "run `make data` to repair it"
MISSING = "missing"


@dataclass(frozen=True)
class ManifestEntry:
    """One input file as listed in the manifest (paths relative to the mirror / `data/`)."""

    path: str  # where it is in the mirror and at the public URL
    bytes: int  # size of that file (for `.gz`: of the compressed file)
    sha256: str  # of that file
    content_sha256: str  # of its decompressed bytes for `.gz`, else equal to sha256
    public_url: str | None  # None: only the mirror has it

    @property
    def compressed(self) -> bool:
        return self.path.endswith(".gz")

    @property
    def target(self) -> str:
        """Path under `data/`: `.gz` files are stored decompressed, because the gzip wrapper
        differs between the mirror and the public URL while the content does not, and `data/`
        (hence DVC's hash of it) must be the same whichever source filled it."""
        return self.path[: -len(".gz")] if self.compressed else self.path


def default_manifest() -> Path:
    """The manifest shipped inside the package."""
    return Path(str(resources.files("smoothgrad.data") / "manifest.tsv"))


def read_manifest(path: str | Path | None = None) -> list[ManifestEntry]:
    """Parse a manifest TSV (default: the packaged one); malformed input raises DataError."""
    path = Path(path) if path is not None else default_manifest()
    try:
        lines = path.read_text().splitlines()
    except OSError as err:
        raise DataError(f"cannot read manifest {path}: {err.strerror}; check the path") from None
    if not lines or tuple(lines[0].split("\t")) != COLUMNS:
        raise DataError(f"{path}: header is not {'<TAB>'.join(COLUMNS)}; is this a manifest?")
    entries = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split("\t")
        try:
            rel, size, sha, content_sha, url = fields
            entry = ManifestEntry(rel, int(size), sha, content_sha, None if url == "-" else url)
        except ValueError:
            raise DataError(
                f"{path}:{number}: expected {len(COLUMNS)} tab-separated fields "
                f"({', '.join(COLUMNS)}); fix the line"
            ) from None
        pure = PurePosixPath(entry.path)
        if pure.is_absolute() or ".." in pure.parts:
            raise DataError(f"{path}:{number}: path {entry.path!r} leaves the data folder")
        entries.append(entry)
    return entries


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, streamed (MNIST's training images are 47 MB)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def check_file(entry: ManifestEntry, data_dir: str | Path) -> str | None:
    """What is wrong with the stored copy of `entry` ("missing", "sha256 mismatch (...)"), or
    None if it is intact; `fetch` repairs what this reports, `verify_file` raises it."""
    target = Path(data_dir) / entry.target
    if not target.is_file():
        return MISSING
    actual = sha256_file(target)
    if actual != entry.content_sha256:
        return f"sha256 mismatch (expected {entry.content_sha256}, got {actual})"
    return None


def verify_file(entry: ManifestEntry, data_dir: str | Path) -> None:
    """Check the stored copy of `entry` in `data_dir`; DataError (one line) if absent or wrong."""
    problem = check_file(entry, data_dir)
    if problem is not None:
        raise DataError(f"{Path(data_dir) / entry.target}: {problem}; {FIX}")


def verify_inputs(
    paths: Iterable[str | Path],
    data_dir: str | Path = "data",
    root: str | Path = REPO_ROOT,
    manifest: str | Path | None = None,
) -> int:
    """Check every manifest file under `paths` (files or folders in `data_dir` that a stage
    reads; relative paths are taken from `root`, the repository) before the stage computes
    anything from it, so inputs cannot be wrong quietly. Returns the number of files checked.

    Raises DataError naming the first missing or corrupt file (or missing folder) and the fix;
    ValueError for a path outside `data_dir` or without manifest entries: a caller bug.
    """
    root = Path(root)
    data_root = (root / data_dir).resolve()
    entries = read_manifest(manifest)
    selected: dict[str, ManifestEntry] = {}
    for path in paths:
        full = (root / path).resolve()
        if not full.is_relative_to(data_root):
            raise ValueError(f"{path} is not in {data_root}: only fetched inputs can be checked")
        rel = full.relative_to(data_root).as_posix()
        under = [e for e in entries if rel in (".", e.target) or e.target.startswith(rel + "/")]
        if not under:
            raise ValueError(f"{path}: no file of the manifest is there; is the path right?")
        if not full.exists():
            kind = MISSING if [e.target for e in under] == [rel] else "folder missing"
            raise DataError(f"{path}: {kind}; {FIX}")
        selected.update((e.target, e) for e in under)
    for entry in selected.values():
        problem = check_file(entry, data_root)
        if problem is not None:
            raise DataError(f"{Path(data_dir) / entry.target}: {problem}; {FIX}")
    return len(selected)
