"""The fetch step: verified files, repairs, one-line errors, no corrupt or partial file left in
data/."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dvc_data.hashfile.tree import Tree

from smoothgrad.data import fetch as fetch_module
from smoothgrad.data.fetch import FetchSummary, fetch
from smoothgrad.data.manifest import COLUMNS, DataError, default_manifest, read_manifest

REPO = Path(__file__).resolve().parents[1]
REAL_MIRROR = Path(os.environ.get("SMOOTHGRAD_DATA_MIRROR") or REPO.parent / "shared" / "data")
needs_mirror = pytest.mark.skipif(not REAL_MIRROR.is_dir(), reason=f"no mirror at {REAL_MIRROR}")

PLAIN = b"plain file\n" * 10
NESTED = bytes(range(256)) * 4
MNIST_LIKE = b"\x00\x00\x08\x01" + bytes(1000)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_manifest(path: Path, rows: list[tuple[str, bytes, bytes, str]]) -> Path:
    """rows: (relpath, stored bytes, content bytes, public_url)."""
    lines = ["\t".join(COLUMNS)]
    for rel, raw, content, url in rows:
        lines.append("\t".join([rel, str(len(raw)), _sha(raw), _sha(content), url]))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def mirror(tmp_path: Path) -> tuple[Path, Path]:
    """A tiny mirror (plain, nested, gzipped and mirror-only files) and its manifest."""
    root = tmp_path / "mirror"
    gz = gzip.compress(MNIST_LIKE, mtime=0)
    files = {"a.txt": PLAIN, "sub/b.bin": NESTED, "mnist/c-ubyte.gz": gz, "only-here.txt": b"x"}
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    manifest = _write_manifest(
        tmp_path / "manifest.tsv",
        [
            ("a.txt", PLAIN, PLAIN, "https://example.invalid/a.txt"),
            ("sub/b.bin", NESTED, NESTED, "https://example.invalid/b.bin"),
            ("mnist/c-ubyte.gz", gz, MNIST_LIKE, "https://example.invalid/c-ubyte.gz"),
            ("only-here.txt", b"x", b"x", "-"),
        ],
    )
    return root, manifest


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_fetch_from_mirror_then_verify(tmp_path: Path, mirror: tuple[Path, Path]) -> None:
    root, manifest = mirror
    data = tmp_path / "data"
    assert fetch(data, root, manifest) == FetchSummary(verified=0, fetched=4)
    assert _files(data) == ["a.txt", "mnist/c-ubyte", "only-here.txt", "sub/b.bin"]
    assert (data / "mnist/c-ubyte").read_bytes() == MNIST_LIKE  # stored decompressed
    assert fetch(data, root, manifest) == FetchSummary(verified=4, fetched=0)
    assert fetch(data, None, manifest, verify_only=True) == FetchSummary(verified=4, fetched=0)


def test_verify_only_reports_a_corrupt_file_in_one_line(
    tmp_path: Path, mirror: tuple[Path, Path]
) -> None:
    root, manifest = mirror
    data = tmp_path / "data"
    fetch(data, root, manifest)
    target = data / "sub/b.bin"
    target.write_bytes(b"\xff" + NESTED[1:])
    with pytest.raises(DataError) as err:
        fetch(data, root, manifest, verify_only=True)
    assert str(err.value) == (
        f"{target}: sha256 mismatch (expected {_sha(NESTED)}, got {_sha(target.read_bytes())}); "
        "run `make data` to repair it"
    )
    assert target.read_bytes()[0] == 0xFF  # only checked


def test_fetch_repairs_corrupt_and_missing_files(
    tmp_path: Path, mirror: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The bad copy goes to .smoothgrad-quarantine/ next to data/ (DVC tracks all of data/)."""
    root, manifest = mirror
    data = tmp_path / "data"
    fetch(data, root, manifest)
    capsys.readouterr()
    bad = b"\xff" + NESTED[1:]
    (data / "sub/b.bin").write_bytes(bad)
    (data / "mnist/c-ubyte").unlink()
    summary = fetch(data, root, manifest)
    assert summary == FetchSummary(verified=2, fetched=1, repaired=("sub/b.bin",))
    assert str(summary) == "data: 2 verified, 1 fetched, 1 repaired"
    assert (data / "sub/b.bin").read_bytes() == NESTED
    assert (data / "mnist/c-ubyte").read_bytes() == MNIST_LIKE
    (moved,) = (tmp_path / ".smoothgrad-quarantine").glob("*/sub/b.bin")
    assert moved.read_bytes() == bad
    assert _files(data) == ["a.txt", "mnist/c-ubyte", "only-here.txt", "sub/b.bin"]
    assert capsys.readouterr().out == (
        f"repaired {data / 'sub/b.bin'}: sha256 mismatch (expected {_sha(NESTED)}, got "
        f"{_sha(bad)}); fetched again, the bad copy is in {moved}\n"
    )


def test_failed_repair_keeps_the_bad_copy_in_place(
    tmp_path: Path, mirror: tuple[Path, Path]
) -> None:
    """A repair whose source is bad too changes nothing, so the bad file is still reported."""
    root, manifest = mirror
    data = tmp_path / "data"
    fetch(data, root, manifest)
    (data / "a.txt").write_bytes(b"bad")
    (root / "a.txt").write_bytes(b"also bad")
    with pytest.raises(DataError, match=r"^a.txt: sha256 mismatch in "):
        fetch(data, root, manifest)
    assert (data / "a.txt").read_bytes() == b"bad"
    assert not (tmp_path / ".smoothgrad-quarantine").exists()


def test_deleted_file_is_fetched_again(tmp_path: Path, mirror: tuple[Path, Path]) -> None:
    root, manifest = mirror
    data = tmp_path / "data"
    fetch(data, root, manifest)
    (data / "mnist/c-ubyte").unlink()
    with pytest.raises(DataError, match=r"mnist/c-ubyte: missing; run `make data`"):
        fetch(data, root, manifest, verify_only=True)
    assert fetch(data, root, manifest) == FetchSummary(verified=3, fetched=1)
    assert (data / "mnist/c-ubyte").read_bytes() == MNIST_LIKE


def test_bad_source_writes_nothing(tmp_path: Path, mirror: tuple[Path, Path]) -> None:
    root, manifest = mirror
    (root / "a.txt").write_bytes(b"tampered")
    data = tmp_path / "data"
    with pytest.raises(DataError) as err:
        fetch(data, root, manifest)
    message = str(err.value)
    assert message.startswith("a.txt: sha256 mismatch")
    assert f"expected {_sha(PLAIN)}, got {_sha(b'tampered')}" in message
    assert "\n" not in message
    assert _files(data) == []


def test_truncated_gzip_in_mirror_writes_nothing(tmp_path: Path, mirror: tuple[Path, Path]) -> None:
    root, manifest = mirror
    gz = root / "mnist/c-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[:-20])
    data = tmp_path / "data"
    # The gzip entry comes third: the two files before it stay, intact.
    with pytest.raises(DataError, match=r"^mnist/c-ubyte.gz: cannot read .*damaged"):
        fetch(data, root, manifest)
    assert _files(data) == ["a.txt", "sub/b.bin"]


def test_file_missing_from_mirror(tmp_path: Path, mirror: tuple[Path, Path]) -> None:
    root, manifest = mirror
    (root / "sub/b.bin").unlink()
    with pytest.raises(DataError, match=r"^sub/b.bin: not in the mirror .*SMOOTHGRAD_DATA_MIRROR"):
        fetch(tmp_path / "data", root, manifest)


def test_missing_mirror_folder(tmp_path: Path, mirror: tuple[Path, Path]) -> None:
    _, manifest = mirror
    with pytest.raises(DataError, match=r"mirror folder .*nowhere does not exist"):
        fetch(tmp_path / "data", tmp_path / "nowhere", manifest)


def test_public_urls(tmp_path: Path, mirror: tuple[Path, Path]) -> None:
    """Without a mirror the public URLs are used (file:// here: no network in tests)."""
    root, _ = mirror
    gz = (root / "mnist/c-ubyte.gz").read_bytes()
    manifest = _write_manifest(
        tmp_path / "public.tsv",
        [
            ("a.txt", PLAIN, PLAIN, (root / "a.txt").as_uri()),
            ("mnist/c-ubyte.gz", gz, MNIST_LIKE, (root / "mnist/c-ubyte.gz").as_uri()),
        ],
    )
    data = tmp_path / "data"
    assert fetch(data, None, manifest) == FetchSummary(verified=0, fetched=2)
    assert (data / "a.txt").read_bytes() == PLAIN
    assert (data / "mnist/c-ubyte").read_bytes() == MNIST_LIKE


def test_mirror_only_file_needs_the_mirror(tmp_path: Path) -> None:
    manifest = _write_manifest(tmp_path / "m.tsv", [("only-here.txt", b"x", b"x", "-")])
    with pytest.raises(DataError, match=r"^only-here.txt: has no public URL.*DATA_MIRROR"):
        fetch(tmp_path / "data", None, manifest)


class _Broken(io.BytesIO):
    """A response body that dies halfway, like a dropped connection."""

    def read(self, size: int | None = -1) -> bytes:
        if self.tell() > 0:
            raise ConnectionResetError("connection reset by peer")
        return super().read(10)


def test_partial_download_leaves_no_file(tmp_path: Path) -> None:
    manifest = _write_manifest(tmp_path / "m.tsv", [("a.txt", PLAIN, PLAIN, "https://x/a.txt")])
    calls: list[str] = []

    def opener(url: str, timeout: float) -> io.BytesIO:
        calls.append(url)
        return _Broken(PLAIN)

    data = tmp_path / "data"
    with pytest.raises(DataError, match=r"^cannot download https://x/a.txt: .*reset"):
        fetch(data, None, manifest, opener=opener)
    assert calls == ["https://x/a.txt"] * 2  # retried once
    assert _files(data) == []


def test_download_retries_once_then_succeeds(tmp_path: Path) -> None:
    manifest = _write_manifest(tmp_path / "m.tsv", [("a.txt", PLAIN, PLAIN, "https://x/a.txt")])
    bodies = [_Broken(PLAIN), io.BytesIO(PLAIN)]
    data = tmp_path / "data"
    assert fetch(data, None, manifest, opener=lambda url, timeout: bodies.pop(0)).fetched == 1
    assert _files(data) == ["a.txt"]
    assert (data / "a.txt").read_bytes() == PLAIN


def test_short_download_is_rejected(tmp_path: Path) -> None:
    """A body cut short without an error (server closed early) fails the hash check."""
    manifest = _write_manifest(tmp_path / "m.tsv", [("a.txt", PLAIN, PLAIN, "https://x/a.txt")])
    data = tmp_path / "data"
    with pytest.raises(DataError, match=r"^a.txt: sha256 mismatch in https://x/a.txt"):
        fetch(data, None, manifest, opener=lambda url, timeout: io.BytesIO(PLAIN[:7]))
    assert _files(data) == []


def test_leftovers_of_a_killed_run_are_removed(tmp_path: Path, mirror: tuple[Path, Path]) -> None:
    root, manifest = mirror
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    dead = 2**22 + 1  # above Linux's largest pid_max: no such process
    (data / f"sub/.b.bin.{dead}.abcd.smoothgrad-part").write_bytes(b"half")
    running = data / f".a.txt.{os.getpid()}.abcd.smoothgrad-part"  # a concurrent fetch's
    running.write_bytes(b"in progress")
    fetch(data, root, manifest)
    assert _files(data) == [running.name, "a.txt", "mnist/c-ubyte", "only-here.txt", "sub/b.bin"]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("path\tsize\n", "header is not"),
        ("\t".join(COLUMNS) + "\na.txt\t12\tabc\n", r":2: expected 5 tab-separated fields"),
        ("\t".join(COLUMNS) + "\n../x\t1\ta\ta\t-\n", "leaves the data folder"),
    ],
)
def test_malformed_manifest(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "m.tsv"
    path.write_text(text)
    with pytest.raises(DataError, match=match):
        read_manifest(path)


def test_cli_corrupt_byte_exit_code_and_one_line(tmp_path: Path, mirror: tuple[Path, Path]) -> None:
    root, manifest = mirror
    data = tmp_path / "data"
    fetch(data, root, manifest)
    target = data / "a.txt"
    target.write_bytes(b"Q" + PLAIN[1:])
    cmd = [sys.executable, "-m", "smoothgrad.data.fetch", "--data-dir", str(data)]
    cmd += ["--manifest", str(manifest), "--mirror", str(root)]
    result = subprocess.run([*cmd, "--verify-only"], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"error: {target}: sha256 mismatch (expected {_sha(PLAIN)}")
    assert "Traceback" not in result.stderr
    repair = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert repair.returncode == 0, repair.stderr
    assert repair.stdout.startswith(f"repaired {target}: sha256 mismatch")
    assert repair.stdout.endswith("\ndata: 3 verified, 0 fetched, 1 repaired\n")
    assert target.read_bytes() == PLAIN


# --- the real inputs --------------------------------------------------------------------------


def test_packaged_manifest() -> None:
    entries = read_manifest()
    assert len(entries) == 614
    assert len({e.target for e in entries}) == len(entries)
    assert sum(e.path.startswith("pair-saliency/images/") for e in entries) == 200
    if REAL_MIRROR.is_dir():  # drift between the mirror and the committed copy
        assert default_manifest().read_bytes() == (REAL_MIRROR / "MANIFEST.tsv").read_bytes()


def _dvc_dir_md5(folder: Path) -> str:
    """DVC's hash of a directory: md5 of the sorted (relpath, md5) list, as `dvc add` makes it."""
    listing = [
        {"md5": hashlib.md5(p.read_bytes()).hexdigest(), "relpath": rel}
        for rel, p in ((p.relative_to(folder).as_posix(), p) for p in folder.rglob("*"))
        if p.is_file()
    ]
    tree = Tree.from_list(listing, hash_name="md5")
    tree.digest()
    return tree.hash_info.value


@pytest.fixture(scope="module")
def real_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("real") / "data"
    assert fetch(data, REAL_MIRROR) == FetchSummary(verified=0, fetched=614)
    return data


@needs_mirror
def _recorded_data() -> dict:
    """What DVC recorded for data/: in data.dvc, or in dvc.lock once a `data` stage owns it."""
    if (REPO / "data.dvc").exists():
        (out,) = yaml.safe_load((REPO / "data.dvc").read_text())["outs"]
    else:
        (out,) = yaml.safe_load((REPO / "dvc.lock").read_text())["stages"]["data"]["outs"]
    return out


def test_fresh_fetch_matches_data_dvc(real_data: Path) -> None:
    """`dvc status` is clean right after a fresh fetch: same files, same DVC directory hash."""
    out = _recorded_data()
    assert out["path"] == "data"
    assert out["nfiles"] == len(_files(real_data))
    assert out["size"] == sum(p.stat().st_size for p in real_data.rglob("*") if p.is_file())
    assert _dvc_dir_md5(real_data) == out["md5"]


@needs_mirror
def test_cli_acceptance_on_real_data(real_data: Path) -> None:
    """Acceptance: a corrupted byte gives the one-line error and is repaired; a deleted file
    comes back."""
    target = real_data / "pair-saliency/images/7.png"
    original = target.read_bytes()
    target.write_bytes(original[:100] + bytes([original[100] ^ 1]) + original[101:])
    env = {**os.environ, "SMOOTHGRAD_DATA_MIRROR": str(REAL_MIRROR)}
    cmd = [sys.executable, "-m", "smoothgrad.data.fetch", "--data-dir", str(real_data)]
    bad = subprocess.run([*cmd, "--verify-only"], capture_output=True, text=True, check=False)
    assert bad.returncode == 1
    assert bad.stderr.count("\n") == 1
    assert f"{target}: sha256 mismatch (expected {_sha(original)}" in bad.stderr
    repaired = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    assert repaired.returncode == 0, repaired.stderr
    assert repaired.stdout.endswith("data: 613 verified, 0 fetched, 1 repaired\n")
    assert target.read_bytes() == original
    target.unlink()
    good = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    assert good.returncode == 0, good.stderr
    assert good.stdout == "data: 613 verified, 1 fetched\n"
    assert target.read_bytes() == original


def test_cli_os_error_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def denied(*args: object) -> FetchSummary:
        raise PermissionError(13, "Permission denied", "data/a.txt")

    monkeypatch.setattr(fetch_module, "fetch", denied)
    assert fetch_module.main(["--data-dir", "data"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "Permission denied: 'data/a.txt'; check permissions" in err


def test_extra_files_are_reported(tmp_path: Path, mirror: tuple[Path, Path]) -> None:
    """A stray file in data/ would silently change DVC's hash of data/: it is named, not deleted."""
    root, manifest = mirror
    data = tmp_path / "data"
    fetch(data, root, manifest)
    (data / "sub/notes.txt").write_text("mine")
    assert fetch(data, root, manifest).extra == ("sub/notes.txt",)
    cmd = [sys.executable, "-m", "smoothgrad.data.fetch", "--data-dir", str(data)]
    result = subprocess.run(
        [*cmd, "--manifest", str(manifest), "--verify-only"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout == "data: 4 verified, 0 fetched\n"
    assert result.stderr == (
        f"warning: {data / 'sub/notes.txt'} is not in the manifest; DVC tracks all of "
        "data/, so `dvc status` shows it changed: remove it\n"
    )
    assert (data / "sub/notes.txt").exists()
