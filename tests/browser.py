"""Browser-test harness: a Streamlit script under ``streamlit run`` and Debian chromium through Playwright.

Used by tests (through the fixtures in tests/fixtures/browser.py) and by bench scripts (directly)::

    with StreamlitServer(script, env) as app, launch_chromium() as browser:
        page = browser.new_page()
        meter = WsMeter.attach(page)
        page.goto(app.base_url)
        wait_for_idle(page)
        draw_box(page, (100, 100), (300, 250))
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
APP_SELECTOR = '[data-testid="stApp"]'
CANVAS_SELECTOR = "canvas.dc-canvas"
T = TypeVar("T")


def chromium_missing_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not found (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright)"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], T | None], *, timeout: float = 30.0, interval: float = 0.1, what: str = "") -> T:
    """Poll ``predicate`` until it returns something truthy; raise TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # the thing polled may not exist yet
            last_exc = exc
        if time.monotonic() > deadline:
            detail = f" (last error: {last_exc!r})" if last_exc else ""
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what or predicate!r}{detail}")
        time.sleep(interval)


class StreamlitServer:
    """``streamlit run script`` on a free localhost port in a subprocess; stopped by ``stop()``/context exit.

    ``env`` is added to this process's environment (GT_HOME, GT_DATABASE_URL, ...). Output goes to
    ``log_path`` so a failing test can show it (``log_tail()``).
    """

    def __init__(
        self,
        script: str | Path,
        env: Mapping[str, str] | None = None,
        *,
        log_path: Path | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        self.script = Path(script).resolve()
        if not self.script.is_file():
            raise FileNotFoundError(f"Streamlit script not found: {self.script}")
        self.env = dict(env or {})
        self.port = free_port()
        # honour a base path given the way Streamlit reads config from the environment
        base_path = self.env.get("STREAMLIT_SERVER_BASE_URL_PATH", "").strip("/")
        self.base_url = f"http://127.0.0.1:{self.port}" + (f"/{base_path}" if base_path else "")
        self.log_path = log_path or Path(os.environ.get("TMPDIR", "/tmp")) / f"streamlit-{self.port}.log"
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> StreamlitServer:
        env = {**os.environ, **self.env}
        # a real server runs its embedded background worker, as `streamlit run app.py` does for users
        env["GT_EMBEDDED_WORKER"] = self.env.get("GT_EMBEDDED_WORKER", "1")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
        cmd = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(self.script),
            "--server.headless",
            "true",
            "--server.port",
            str(self.port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
            "--server.runOnSave",
            "false",
        ]
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            cmd, env=env, cwd=str(REPO), stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            wait_until(
                self._healthy, timeout=self.startup_timeout, interval=0.2, what=f"{self.base_url}/_stcore/health"
            )
        except TimeoutError as exc:
            self.stop()
            raise RuntimeError(f"Streamlit did not start: {exc}\n--- log ---\n{self.log_tail()}") from exc
        return self

    def _healthy(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {self.proc.returncode}:\n{self.log_tail()}")
        try:
            with urllib.request.urlopen(f"{self.base_url}/_stcore/health", timeout=2) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        log = getattr(self, "_log", None)
        if log is not None and not log.closed:
            log.close()

    def __enter__(self) -> StreamlitServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def launch_chromium(headless: bool = True) -> Iterator[Any]:
    """Debian's chromium driven by Playwright (its own browser download does not work on these machines)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS), headless=headless)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: Any, *, width: int = 1280, height: int = 1000) -> Any:
    """A page in a fresh context (no shared cookies or cache), sized so a 1000 px canvas fits."""
    context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1)
    return context.new_page()


# ---------------------------------------------------------------- waiting for Streamlit


def script_state(page: Any) -> str | None:
    """Streamlit's script state on the page: "initial", "running", "notRunning", "rerunRequested"..."""
    return page.get_attribute(APP_SELECTOR, "data-test-script-state", timeout=5000)


def wait_for_idle(page: Any, *, timeout: float = 30.0, settle: float = 0.4) -> None:
    """Wait until the script is not running, and stays so for ``settle`` seconds (debounced reruns)."""
    page.wait_for_selector(APP_SELECTOR, timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        state = script_state(page)
        running = page.locator('[data-testid="stStatusWidget"]').count() > 0
        if state == "notRunning" and not running:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= settle:
                return
        else:
            quiet_since = None
        page.wait_for_timeout(50)
    raise TimeoutError(f"Streamlit still running after {timeout:g}s (state {script_state(page)!r})")


def exception_text(page: Any) -> str | None:
    """The text of the first st.exception / error block on the page, if any."""
    loc = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    return loc.first.inner_text() if loc.count() else None


# ---------------------------------------------------------------- canvas


@dataclass(frozen=True)
class Box:
    """A rectangle in page (CSS) pixels."""

    x: float
    y: float
    width: float
    height: float


def canvas_box(page: Any, index: int = 0, *, timeout: float = 30.0) -> Box:
    """Where the index-th drawable canvas sits on the page (waits for it to appear)."""
    loc = page.locator(CANVAS_SELECTOR).nth(index)
    loc.wait_for(state="visible", timeout=timeout * 1000)
    bb = loc.bounding_box()
    if bb is None:
        raise RuntimeError("the canvas has no bounding box (not rendered?)")
    return Box(bb["x"], bb["y"], bb["width"], bb["height"])


def draw_box(
    page: Any, start: tuple[float, float], end: tuple[float, float], *, index: int = 0, steps: int = 8
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Drag from ``start`` to ``end`` (canvas pixels) with the mouse: down, moves, up.

    Chromium delivers mouse events at whole CSS pixels while the canvas may sit at a fractional page
    offset, so the points are snapped to whole page pixels. Returns the (start, end) canvas points the
    browser actually received (within 0.5 px of those asked for).
    """
    cb = canvas_box(page, index)
    x0, y0 = round(cb.x + start[0]), round(cb.y + start[1])
    x1, y1 = round(cb.x + end[0]), round(cb.y + end[1])
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=steps)
    page.mouse.up()
    return (x0 - cb.x, y0 - cb.y), (x1 - cb.x, y1 - cb.y)


def screenshot(page: Any, path: Path | None = None, *, clip: Box | None = None) -> Any:
    """A PIL RGB image of the page (or of ``clip``); also written to ``path`` when given."""
    from PIL import Image

    kwargs: dict[str, Any] = {}
    if clip is not None:
        kwargs["clip"] = {"x": clip.x, "y": clip.y, "width": clip.width, "height": clip.height}
    data = page.screenshot(**kwargs)
    if path is not None:
        path.write_bytes(data)
    return Image.open(io.BytesIO(data)).convert("RGB")


def canvas_screenshot(page: Any, index: int = 0, path: Path | None = None) -> Any:
    """A PIL image of exactly the canvas area (1 image pixel = 1 canvas pixel at device_scale_factor 1)."""
    return screenshot(page, path, clip=canvas_box(page, index))


def pixel(image: Any, xy: tuple[float, float]) -> tuple[int, int, int]:
    r, g, b = image.getpixel((round(xy[0]), round(xy[1])))[:3]
    return int(r), int(g), int(b)


def color_distance(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    return float(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) ** 0.5)


def hex_rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


# ---------------------------------------------------------------- bytes over the wire


@dataclass
class WsMeter:
    """Bytes of websocket frames the page received and sent (Streamlit's protocol runs on one websocket)."""

    received: int = 0
    sent: int = 0
    frames_received: int = 0
    frames_sent: int = 0
    marks: dict[str, tuple[int, int]] = field(default_factory=dict)

    @classmethod
    def attach(cls, page: Any) -> WsMeter:
        meter = cls()
        page.on("websocket", meter._on_websocket)
        return meter

    def _on_websocket(self, ws: Any) -> None:
        ws.on("framereceived", self._on_received)
        ws.on("framesent", self._on_sent)

    def _on_received(self, payload: str | bytes) -> None:
        self.received += len(payload.encode() if isinstance(payload, str) else payload)
        self.frames_received += 1

    def _on_sent(self, payload: str | bytes) -> None:
        self.sent += len(payload.encode() if isinstance(payload, str) else payload)
        self.frames_sent += 1

    def mark(self, name: str) -> None:
        self.marks[name] = (self.received, self.sent)

    def since(self, name: str) -> tuple[int, int]:
        """(received, sent) bytes since ``mark(name)``."""
        r, s = self.marks[name]
        return self.received - r, self.sent - s


@dataclass
class HttpMeter:
    """Bytes of HTTP responses (headers + body as transferred) the page fetched: scripts, styles, media."""

    received: int = 0
    requests: int = 0
    by_url: dict[str, int] = field(default_factory=dict)
    bodies: dict[str, int] = field(default_factory=dict)

    @classmethod
    def attach(cls, page: Any) -> HttpMeter:
        meter = cls()
        page.on("requestfinished", meter._on_finished)
        return meter

    def _on_finished(self, request: Any) -> None:
        try:
            sizes = request.sizes()
        except Exception:  # the page may be closing
            return
        body = int(sizes.get("responseBodySize", 0))
        n = body + int(sizes.get("responseHeadersSize", 0))
        self.received += n
        self.requests += 1
        self.by_url[request.url] = self.by_url.get(request.url, 0) + n
        self.bodies[request.url] = self.bodies.get(request.url, 0) + body

    def under(self, path_prefix: str, *, body_only: bool = False) -> dict[str, int]:
        """Bytes per URL whose path starts with ``path_prefix`` (e.g. "/media/": st.image, the canvas)."""
        source = self.bodies if body_only else self.by_url
        return {url: n for url, n in source.items() if urlsplit(url).path.startswith(path_prefix)}


def read_json(path: Path) -> Any:
    """JSON from a file another process writes atomically; None while it does not exist."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
