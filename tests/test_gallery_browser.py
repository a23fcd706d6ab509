"""Open a generated gallery in Debian's headless Chromium, flip every control (maps side by side,
per-image scores, sort by SmoothGrad's reduction) and check what the page shows, and that no
request leaves the file system.

The browser is driven over the DevTools protocol on `--remote-debugging-pipe` (fds 3 and 4,
NUL-terminated JSON), so the test needs no pip package and no downloaded browser.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from omegaconf import DictConfig
from test_gallery import (
    REFERENCE_ID,
    ROWS,
    SETTINGS,
    SMOOTH_SPECKLE,
    map_scores,
    write_scores,
    write_store,
)

from smoothgrad.outputs.gallery import build_gallery
from smoothgrad.pipeline.config import compose_config
from smoothgrad.store.paths import REPO_ROOT

pytestmark = pytest.mark.browser

SCREENSHOT = REPO_ROOT / "reports" / "gallery" / "screenshot.png"
INSTALL = ["apt-get", "install", "-y", "chromium"]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,1000", "--remote-debugging-pipe"]
TIMEOUT = 30.0


def chromium_path() -> str:
    """Debian's chromium (never a browser download); the test is skipped without it. CI
    (`.ci/run`) installs it first, so there the test always runs."""
    path = shutil.which("chromium")
    if path is None:
        pytest.skip(f"Debian's chromium is missing: run `sudo {' '.join(INSTALL)}`")
    return path


def _above_nine(fd: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class Browser:
    """A minimal DevTools client: one page, its commands, and every event it received."""

    def __init__(self, executable: str, profile: Path) -> None:
        self.log = profile / "chromium.log"
        to_child, self._write = os.pipe()
        self._read, from_child = os.pipe()
        # bash puts the pipe ends on the fds Chromium expects (3: commands, 4: replies); they
        # first move above 9 so that neither already sits on fd 3 or 4 (dash cannot, fds > 9).
        to_child, from_child = (_above_nine(fd) for fd in (to_child, from_child))
        script = f'exec "$0" "$@" 3<&{to_child} 4>&{from_child} {to_child}<&- {from_child}>&-'
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                ["bash", "-c", script, executable, *FLAGS, f"--user-data-dir={profile}"],
                pass_fds=(to_child, from_child), stdout=subprocess.DEVNULL, stderr=log)
        os.close(to_child)
        os.close(from_child)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"]

    def _gone(self) -> RuntimeError:
        tail = self.log.read_text(errors="replace")[-2000:]
        return RuntimeError(f"chromium closed its DevTools pipe; its log ends:\n{tail}")

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise TimeoutError("no reply from chromium")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise self._gone()
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        try:
            os.write(self._write, json.dumps(message).encode() + b"\0")
        except BrokenPipeError:
            raise self._gone() from None
        deadline = time.monotonic() + TIMEOUT
        while True:
            reply = self._message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_event(self, method: str) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._message(deadline))
        return next(e for e in self.events if e.get("method") == method)

    def js(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not self.js(expression):
            if time.monotonic() > deadline:
                raise TimeoutError(f"never true: {expression}")
            time.sleep(0.05)

    def close(self) -> None:
        self.session = None  # Browser.close is a browser-level command, not the page's
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.send("Browser.close")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._read)
        os.close(self._write)


@pytest.fixture(scope="module")
def smoke() -> DictConfig:
    """The smoke profile's `gallery` settings (what CI's pipeline run uses)."""
    return compose_config(["profile=smoke"]).gallery


@pytest.fixture(scope="module")
def gallery(tmp_path_factory: pytest.TempPathFactory, smoke: DictConfig) -> Path:
    """A gallery built with the smoke profile's settings from a synthetic store with a wrong
    row, an unconfident one and the authors' maps for one image (every control has an effect)."""
    root = tmp_path_factory.mktemp("gallery")
    store, references = write_store(root)
    return build_gallery(store, root / "gallery", references, scores=write_scores(store),
                         thumbnail_size=smoke.thumbnail_size, quality=smoke.quality,
                         confident_threshold=smoke.confident_threshold)


@pytest.fixture(scope="module")
def page(gallery: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    browser = Browser(chromium_path(), tmp_path_factory.mktemp("chromium-profile"))
    try:
        browser.send("Network.enable")
        browser.send("Page.enable")
        browser.send("Page.navigate", url=gallery.as_uri())
        browser.wait_event("Page.loadEventFired")
        yield browser
    finally:
        browser.close()


ROW_STATE = """Array.from(document.querySelectorAll('.row')).map(r => ({
  id: Number(r.dataset.id), shown: !r.hidden,
  maps: Array.from(r.querySelectorAll('figure.ours:not([hidden]) img'), i => i.getAttribute('src')),
  captions: Array.from(r.querySelectorAll('figure.ours:not([hidden]) figcaption'),
                       c => c.textContent),
  scores: Array.from(r.querySelectorAll('figure.ours:not([hidden]) .score'), c => c.textContent),
  gain: Array.from(r.querySelectorAll('.gain div'), c => c.textContent),
  authors: Array.from(r.querySelectorAll('figure.authors:not([hidden]) img'),
                      i => i.getAttribute('src')),
  predColor: getComputedStyle(r.querySelector('.pred')).backgroundColor}))"""
ORDER = "Array.from(document.querySelectorAll('.row'), r => Number(r.dataset.id))"


def rows(page: Browser) -> dict[int, dict[str, Any]]:
    return {r["id"]: r for r in page.js(ROW_STATE)}


def click(page: Browser, selector: str) -> None:
    page.js(f"document.querySelector({json.dumps(selector)}).click()")


def sort_by(page: Browser, value: str) -> list[int]:
    """Pick a sort option; the row ids in page order."""
    page.js(f"(() => {{ const s = document.querySelector('#sort'); s.value = {json.dumps(value)};"
            " s.dispatchEvent(new Event('change', {bubbles: true})); })()")
    return page.js(ORDER)


def expected(image_id: int, target: str, method: str, variant: str, times: bool) -> str:
    target = target if image_id in WRONG else "label"
    return f"maps/{image_id}/{target}-{method}-{variant}{'-x' if times else ''}.webp"


WRONG = {i for i, label, prediction, _ in ROWS if label != prediction}


def assert_maps(page: Browser, target: str, method: str, variants: tuple[str, ...],
                times: bool) -> None:
    shown = rows(page)
    assert {i: r["maps"] for i, r in shown.items()} == {
        i: [expected(i, target, method, v, times) for v in variants] for i in shown}
    # The new images really load (a missing file would leave naturalWidth at 0).
    page.wait_for("Array.from(document.querySelectorAll('.row:not([hidden]) figure:not([hidden])"
                  " img')).every(i => i.complete && i.naturalWidth > 0)")


def score_text(image_id: int, target: str, variant: str) -> str:
    scores = map_scores(image_id, target if image_id in WRONG else "label", variant)
    return " \u00b7 ".join(f"{k} {v:#.3g}" for k, v in scores.items())  # JS toPrecision(3)


def test_controls_hover_and_offline(page: Browser, gallery: Path, smoke: DictConfig) -> None:
    threshold = smoke.confident_threshold
    confident = {i: prob >= threshold for i, *_, prob in ROWS}
    assert 0 < sum(confident.values()) < len(ROWS), "the rows must straddle the threshold"
    header = page.js("document.querySelector('header').innerText")
    assert "synthetic_net" in header and f"n_samples={SETTINGS['n_samples']}" in header
    assert f"{100 * threshold:.1f}%" in header  # the confident threshold is shown
    assert "speckle: high-frequency energy share; lower = smoother" in header
    state = rows(page)
    assert sorted(state) == [i for i, *_ in ROWS]
    assert page.js("Array.from(document.querySelectorAll('.row img'))"
                   ".every(i => i.loading === 'lazy')")
    red = "rgb(229, 57, 53)"
    assert {i: r["predColor"] == red for i, r in state.items()} == {
        i: label != prediction for i, label, prediction, _ in ROWS}
    # By default plain and SmoothGrad side by side, each with its scores, and the reduction.
    pair = ("plain", "smoothgrad")
    assert_maps(page, "label", "gradient", pair, False)
    assert state[1]["captions"] == ["Gradient", "Gradient + SmoothGrad"]
    assert {i: r["scores"] for i, r in state.items()} == {
        i: [score_text(i, "label", v) for v in pair] for i in state}
    assert state[1]["gain"] == ["speckle \u221250%", "tv \u221250%"]
    assert state[2]["gain"] == ["speckle \u221280%", "tv \u221220%"]

    click(page, "input[name=method][value=integrated_gradients]")
    assert_maps(page, "label", "integrated_gradients", pair, False)
    assert rows(page)[1]["captions"][0] == "Integrated Gradients"
    click(page, "input[name=method][value=guided_backprop]")
    assert_maps(page, "label", "guided_backprop", pair, False)
    click(page, "#times-image")
    assert_maps(page, "label", "guided_backprop", pair, True)
    click(page, "input[name=variant][value=vargrad]")  # the other aggregates on demand
    click(page, "input[name=variant][value=plain]")
    assert_maps(page, "label", "guided_backprop", ("smoothgrad", "vargrad"), True)
    assert rows(page)[1]["captions"] == ["Guided BackProp \u00d7 image + SmoothGrad",
                                         "Guided BackProp \u00d7 image + VarGrad"]
    click(page, "input[name=variant][value=vargrad]")
    click(page, "input[name=variant][value=plain]")
    click(page, "input[name=target][value=prediction]")  # only the wrong rows change
    assert_maps(page, "prediction", "guided_backprop", pair, True)
    assert rows(page)[4]["gain"] == ["speckle \u221290%", "tv \u221210%"]
    click(page, "input[name=method][value=gradient]")
    assert_maps(page, "prediction", "gradient", pair, True)  # loaded before the next flip
    click(page, "#times-image")
    assert_maps(page, "prediction", "gradient", pair, False)

    # Sorted by SmoothGrad's reduction of a measure, for the maps the rows show.
    def by_reduction(target: str, most: bool) -> list[int]:
        smooth = {i: SMOOTH_SPECKLE[i, target if i in WRONG else "label"] for i, *_ in ROWS}
        return sorted(smooth, key=lambda i: smooth[i] if most else -smooth[i])

    assert sort_by(page, "speckle:most") == by_reduction("prediction", True) == [4, 1, 3, 2]
    assert sort_by(page, "speckle:least") == by_reduction("prediction", False)
    assert sort_by(page, "tv:most") == by_reduction("prediction", False)
    click(page, "input[name=target][value=label]")
    assert page.js(ORDER) == by_reduction("label", False)
    click(page, "input[name=target][value=prediction]")
    assert sort_by(page, "id") == [i for i, *_ in ROWS]

    assert all(r["authors"] == [] for r in rows(page).values())
    click(page, "#authors")  # the authors' gradient and SmoothGrad, beside ours
    assert {i: r["authors"] for i, r in rows(page).items()} == {
        i: [f"maps/{i}/authors-{v}.webp" for v in pair] if i == REFERENCE_ID else []
        for i, *_ in ROWS}
    assert_maps(page, "prediction", "gradient", pair, False)

    # Mouse-over a map: the large view shows it beside its image; leaving hides it.
    box = page.js("(() => { const r = document.querySelector('.row[data-id=\"2\"] img.map')"
                  ".getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()")
    page.send("Input.dispatchMouseEvent", type="mouseMoved", x=box[0], y=box[1])
    large = page.js("({hidden: document.querySelector('#large').hidden,"
                    " image: document.querySelector('#large-image').getAttribute('src'),"
                    " map: document.querySelector('#large-map').getAttribute('src')})")
    assert large == {"hidden": False, "image": "maps/2/image.webp",
                     "map": expected(2, "prediction", "gradient", "plain", False)}
    # Both large images finish loading before the mouse leaves, or hiding them aborts a load.
    page.wait_for("['#large-image', '#large-map'].map(s => document.querySelector(s))"
                  ".every(i => i.complete && i.naturalWidth > 0)")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    shot = page.send("Page.captureScreenshot", format="png")["data"]
    SCREENSHOT.write_bytes(base64.b64decode(shot))
    page.send("Input.dispatchMouseEvent", type="mouseMoved", x=5, y=5)
    assert page.js("document.querySelector('#large').hidden")

    click(page, "#confident")  # hides the rows below the threshold
    assert {i: r["shown"] for i, r in rows(page).items()} == confident
    assert page.js("document.querySelector('#count').textContent") == (
        f"showing {sum(confident.values())} of {len(ROWS)} images")

    requests = [e["params"]["request"]["url"] for e in page.events
                if e.get("method") == "Network.requestWillBeSent"]
    assert len(requests) > len(ROWS) * 3  # the page, its thumbnails, each control's new maps
    assert all(url.startswith(("file://", "data:")) for url in requests), requests
    urls = {e["params"]["requestId"]: e["params"]["request"]["url"] for e in page.events
            if e.get("method") == "Network.requestWillBeSent"}
    failed = [(urls.get(e["params"]["requestId"]), e["params"]["errorText"]) for e in page.events
              if e.get("method") == "Network.loadingFailed"]
    assert not failed
    assert all(url.startswith(gallery.parent.as_uri()) for url in requests
               if url.startswith("file://"))
