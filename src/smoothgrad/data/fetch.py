"""Fill `data/` with the files of the manifest, from a mirror folder or the public URLs.

    python -m smoothgrad.data.fetch [--data-dir data] [--mirror PATH] [--verify-only]

Files already in `data/` are verified, not fetched again; a missing one is fetched, and a corrupt
one is repaired: fetched again, and the bad copy moved to `.smoothgrad-quarantine/` next to
`data/` (outside it, since DVC tracks `data/`), with one line saying so. A fetched file is written
to a temporary name next to its target, checked, and only then renamed, so an interrupted or
wrong download never leaves a corrupt file in `data/`. Problems end the run with one line on
stderr (file, expected and actual hash, what to do) and exit code 1.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import os
import secrets
import shutil
import sys
import time
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tqdm import tqdm

from .manifest import (
    MISSING,
    DataError,
    ManifestEntry,
    check_file,
    read_manifest,
    sha256_file,
    verify_file,
)

MIRROR_ENV = "SMOOTHGRAD_DATA_MIRROR"
TIMEOUT_S = 60.0
_PART = ".smoothgrad-part"  # suffix of temporary files; leftovers of a killed run are removed
QUARANTINE = ".smoothgrad-quarantine"  # next to data/: where bad copies go (git-ignored)

Opener = Callable[[str, float], BinaryIO]


@dataclass(frozen=True)
class FetchSummary:
    verified: int  # already present and intact
    fetched: int  # were missing, copied or downloaded now
    repaired: tuple[str, ...] = ()  # were corrupt: fetched again, bad copy quarantined
    extra: tuple[str, ...] = ()  # files in data/ the manifest lacks: they change DVC's hash of it

    def __str__(self) -> str:
        repaired = f", {len(self.repaired)} repaired" if self.repaired else ""
        return f"data: {self.verified} verified, {self.fetched} fetched{repaired}"


def _urlopen(url: str, timeout: float) -> BinaryIO:
    return urllib.request.urlopen(url, timeout=timeout)


@contextmanager
def _temp_next_to(target: Path) -> Iterator[Path]:
    """A fresh temporary path in the target's folder (same filesystem, so the final rename is
    atomic), removed on the way out unless it was renamed. Not made by mkstemp, whose 0600 mode
    would end up on the data files."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}{_PART}"
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def _download(url: str, dest: Path, opener: Opener) -> None:
    """Download `url` into `dest`, retrying once: transient network errors are common."""
    for attempt in (1, 2):
        try:
            with opener(url, TIMEOUT_S) as response, open(dest, "wb") as out:
                shutil.copyfileobj(response, out)
            return
        # URLError, HTTPError, timeouts, resets (OSError); truncated bodies (IncompleteRead)
        except (OSError, http.client.HTTPException) as err:
            if attempt == 2:
                raise DataError(
                    f"cannot download {url}: {err}; check the network or set {MIRROR_ENV} "
                    "to a mirror folder"
                ) from None


def _open_source(path: Path, compressed: bool) -> BinaryIO:
    return gzip.open(path) if compressed else open(path, "rb")  # noqa: SIM115 (caller closes)


def _fetch_one(
    entry: ManifestEntry,
    data_dir: Path,
    mirror: Path | None,
    opener: Opener,
    quarantine: Path,
) -> None:
    """Fetch `entry` into `data_dir`; a copy already there is moved into `quarantine` (after the
    new one is checked, so a failed fetch leaves it in place to be reported, not deleted)."""
    target = data_dir / entry.target
    with _temp_next_to(target) as raw_tmp, _temp_next_to(target) as tmp:
        if mirror is not None:
            source = mirror / entry.path
            if not source.is_file():
                raise DataError(
                    f"{entry.path}: not in the mirror {mirror}; point {MIRROR_ENV} (or --mirror) "
                    "at a folder holding MANIFEST.tsv's files, or unset it to download"
                )
            raw, origin = source, str(source)
        elif entry.public_url is None:
            raise DataError(
                f"{entry.path}: has no public URL, only the mirror has it; set {MIRROR_ENV} "
                "(or --mirror) to the mirror folder, e.g. ../shared/data"
            )
        else:
            _download(entry.public_url, raw_tmp, opener)
            raw, origin = raw_tmp, entry.public_url
        try:
            with _open_source(raw, entry.compressed) as src, open(tmp, "wb") as out:
                shutil.copyfileobj(src, out)
        except (gzip.BadGzipFile, EOFError, zlib.error) as err:  # a damaged or truncated .gz
            raise DataError(
                f"{entry.path}: cannot read {origin}: {err}; the source is damaged, fetch "
                "it again or use another source"
            ) from None
        actual = sha256_file(tmp)
        if actual != entry.content_sha256:
            what = "sha256 of the content" if entry.compressed else "sha256"
            raise DataError(
                f"{entry.path}: {what} mismatch in {origin} (expected {entry.content_sha256}, "
                f"got {actual}); the source is corrupt or changed, nothing was written to "
                f"{data_dir}: use another source ({MIRROR_ENV} or the public URL)"
            )
        if target.exists():
            (quarantine / entry.target).parent.mkdir(parents=True, exist_ok=True)
            shutil.move(target, quarantine / entry.target)
        os.replace(tmp, target)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        pass
    return True


def _remove_leftovers(data_dir: Path) -> None:
    """Temporary files of a killed run (SIGKILL skips cleanup) would otherwise stay in `data/`
    and change its DVC hash; those of a fetch still running next to this one are kept."""
    if data_dir.is_dir():
        for leftover in data_dir.rglob(f"*{_PART}"):
            pid = leftover.name.split(".")[-3]
            if not (pid.isdigit() and _pid_alive(int(pid))):
                leftover.unlink(missing_ok=True)


def fetch(
    data_dir: str | Path = "data",
    mirror: str | Path | None = None,
    manifest: str | Path | None = None,
    verify_only: bool = False,
    opener: Opener = _urlopen,
) -> FetchSummary:
    """Verify what `data_dir` has, fetch what it lacks and repair what is corrupt (from
    `mirror`, else the public URLs), printing one line per repaired file.

    Raises DataError on the first unobtainable file (or, with `verify_only`, the first missing
    or corrupt one); files fetched before it stay.
    """
    data_dir = Path(data_dir)
    quarantine = data_dir.resolve().parent / QUARANTINE / time.strftime("%Y%m%d-%H%M%S")
    entries = read_manifest(manifest)
    mirror_dir = Path(mirror) if mirror is not None else None
    if not verify_only:
        if mirror_dir is not None and not mirror_dir.is_dir():
            raise DataError(
                f"mirror folder {mirror_dir} does not exist (resolved: {mirror_dir.resolve()}); "
                f"fix {MIRROR_ENV} / --mirror or unset it to download from the public URLs"
            )
        _remove_leftovers(data_dir)
    verified = fetched = 0
    repaired: list[str] = []
    for entry in tqdm(entries, desc="data", unit="file", disable=None, leave=False):
        if verify_only:
            verify_file(entry, data_dir)
            verified += 1
            continue
        problem = check_file(entry, data_dir)
        if problem is None:
            verified += 1
            continue
        _fetch_one(entry, data_dir, mirror_dir, opener, quarantine)
        if problem == MISSING:
            fetched += 1
        else:
            repaired.append(entry.target)
            tqdm.write(
                f"repaired {data_dir / entry.target}: {problem}; fetched again, the bad copy "
                f"is in {quarantine / entry.target}"
            )
    expected = {entry.target for entry in entries}
    extra = sorted(
        rel
        for rel in (p.relative_to(data_dir).as_posix() for p in data_dir.rglob("*") if p.is_file())
        if rel not in expected and not rel.endswith(_PART)
    )
    return FetchSummary(verified, fetched, tuple(repaired), tuple(extra))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m smoothgrad.data.fetch", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--data-dir", default="data", help="where the files go (default: data)")
    parser.add_argument(
        "--mirror",
        default=os.environ.get(MIRROR_ENV) or None,
        help=f"folder to copy from instead of downloading (default: ${MIRROR_ENV})",
    )
    parser.add_argument("--manifest", default=None, help="manifest TSV (default: the packaged one)")
    parser.add_argument(
        "--verify-only", action="store_true", help="only check the files, fetch nothing"
    )
    args = parser.parse_args(argv)
    try:
        summary = fetch(args.data_dir, args.mirror, args.manifest, args.verify_only)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # permissions, disk full: str(err) names the file
        print(f"error: {err}; check permissions and free space, then run it again", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; no partial file was kept, run it again to resume", file=sys.stderr)
        return 130
    if summary.extra:
        more = f" (and {len(summary.extra) - 1} more)" if len(summary.extra) > 1 else ""
        print(
            f"warning: {Path(args.data_dir) / summary.extra[0]}{more} is not in the manifest; "
            "DVC tracks all of data/, so `dvc status` shows it changed: remove it",
            file=sys.stderr,
        )
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
