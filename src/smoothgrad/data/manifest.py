"""The list of input files (`manifest.tsv`, a copy of the mirror's MANIFEST.tsv) and hashing.

The manifest is packaged with the code, so the expected hashes come from the commit being run,
never from the mirror or the server that is being checked.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath

COLUMNS = ("path", "bytes", "sha256", "content_sha256", "public_url")
_CHUNK = 1 << 20


class DataError(Exception):
    """A data problem the user can fix; its message is one line naming the file and the fix."""


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
        (hence `data.dvc`) must be the same whichever source filled it."""
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
    """Hex sha256 of a file, read in chunks (MNIST's training images are 47 MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify_file(entry: ManifestEntry, data_dir: str | Path) -> None:
    """Check the stored copy of `entry` in `data_dir`; DataError (one line) if absent or wrong."""
    target = Path(data_dir) / entry.target
    if not target.is_file():
        raise DataError(f"{target}: missing; run `make data` to fetch it")
    actual = sha256_file(target)
    if actual != entry.content_sha256:
        raise DataError(
            f"{target}: sha256 mismatch (expected {entry.content_sha256}, got {actual}); "
            "delete it and run `make data` to fetch it again"
        )
