"""Look at the dashboard as a person would: start it, open a page in headless Chromium, save a screenshot.

Used by tests/test_dashboard.py (the end-to-end check) and by hand while developing:

    .venv/bin/python dashboard/browser.py --warehouse warehouse/powercrm.duckdb --out tests/artifacts sales line_loss

Chromium is Debian's (`apt-get install chromium`, /usr/bin/chromium), driven over the DevTools
protocol (the `websockets` client the core dependencies already bring). Everything stays on
127.0.0.1: the dashboard listens on a free loopback port, Chromium runs with a fresh profile
and without background networking, and both are stopped when done.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("POWERCRM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
)
# the charts of a page are drawn (SVG or canvas) and Streamlit has finished running the script
CHARTS_READY_JS = """
(() => {
  const charts = document.querySelectorAll('[data-testid="stVegaLiteChart"]');
  const drawn = [...charts].filter(c => c.querySelector('svg, canvas')).length;
  const running = document.querySelector('[data-testid="stStatusWidget"]') !== null
      && /running/i.test(document.querySelector('[data-testid="stStatusWidget"]').innerText || '');
  const skeleton = document.querySelector('[data-testid="stSkeleton"]') !== null;
  return JSON.stringify({charts: charts.length, drawn: drawn, running: running, skeleton: skeleton,
      exceptions: document.querySelectorAll('[data-testid="stException"]').length,
      title: (document.querySelector('h1') || {}).innerText || ''});
})()
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 2.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 (loopback only)
        return r.read()


@contextlib.contextmanager
def dashboard_server(warehouse: Path, *, port: int | None = None, timeout: float = 60.0,
                     log: Path | None = None) -> Iterator[str]:
    """Run `streamlit run dashboard/app.py` on 127.0.0.1:<free port>; yields its base URL."""
    port = port or free_port()
    env = dict(os.environ, POWERCRM_WAREHOUSE=str(warehouse), STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    cmd = [sys.executable, "-m", "streamlit", "run", str(HERE / "app.py"), "--server.headless", "true",
           "--server.address", "127.0.0.1", "--server.port", str(port), "--server.fileWatcherType", "none",
           "--browser.gatherUsageStats", "false", "--global.developmentMode", "false",
           "--client.toolbarMode", "viewer"]
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the dashboard exited with status {proc.returncode} before it served {url}")
            try:
                if _get(url + "/_stcore/health").strip() == b"ok":
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"the dashboard did not answer on {url} within {timeout:.0f}s")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log:
            out.close()


class Chromium:
    """Headless Chromium with a fresh profile, driven over the DevTools protocol."""

    def __init__(self, binary: str = CHROMIUM, width: int = 1440, height: int = 1000, timeout: float = 30.0):
        from websockets.sync.client import connect

        self.width, self.height = width, height
        self.profile = tempfile.mkdtemp(prefix="powercrm-chromium-")
        self.proc = subprocess.Popen(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", "--remote-debugging-address=127.0.0.1",
             "--remote-debugging-port=0", f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._ids = itertools.count(1)
        self._stack = contextlib.ExitStack()
        try:
            port_file = Path(self.profile) / "DevToolsActivePort"
            deadline = time.monotonic() + timeout
            while not (port_file.is_file() and port_file.read_text().strip()):
                if self.proc.poll() is not None:
                    raise RuntimeError(f"chromium exited with status {self.proc.returncode} at start")
                if time.monotonic() > deadline:
                    raise TimeoutError("chromium did not open its DevTools port")
                time.sleep(0.1)
            port = int(port_file.read_text().split()[0])
            targets = []
            while not targets:
                targets = [t for t in json.loads(_get(f"http://127.0.0.1:{port}/json/list")) if t["type"] == "page"]
                if time.monotonic() > deadline:
                    raise TimeoutError("chromium opened no page")
                time.sleep(0.1)
            self.ws = self._stack.enter_context(
                connect(targets[0]["webSocketDebuggerUrl"], max_size=None, open_timeout=timeout))
            self.call("Page.enable")
            self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                      mobile=False)
        except BaseException:
            self.close()
            raise

    def call(self, method: str, **params) -> dict:
        msg_id = next(self._ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=60))
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def evaluate(self, expression: str):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return r.get("result", {}).get("value")

    def open(self, url: str, *, min_charts: int = 1, timeout: float = 60.0) -> dict:
        """Navigate and wait until the page has run and at least `min_charts` charts are drawn."""
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + timeout
        state: dict = {}
        stable = 0
        while time.monotonic() < deadline:
            time.sleep(0.5)
            raw = self.evaluate(CHARTS_READY_JS)
            state = json.loads(raw) if raw else {}
            ready = (state.get("title") and not state.get("running") and not state.get("skeleton")
                     and state.get("drawn", 0) >= min_charts and state.get("drawn") == state.get("charts"))
            stable = stable + 1 if ready else 0
            if stable >= 3:  # the same for 1.5 s: the script finished and the charts are drawn
                return state
        raise TimeoutError(f"{url}: charts not drawn within {timeout:.0f}s (last state {state})")

    def screenshot(self, out: Path, *, full_page: bool = True, max_height: int = 9000) -> Path:
        if full_page:
            h = self.evaluate("Math.max(...[...document.querySelectorAll("
                              "'[data-testid=\"stMain\"], [data-testid=\"stAppViewContainer\"], section, body')]"
                              ".map(e => e.scrollHeight))") or self.height
            h = int(min(max(h, self.height), max_height))
            self.call("Emulation.setDeviceMetricsOverride", width=self.width, height=h, deviceScaleFactor=1,
                      mobile=False)
            time.sleep(1.5)  # charts re-layout to the taller viewport
        data = self.call("Page.captureScreenshot", format="png")["data"]
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(base64.b64decode(data))
        if full_page:
            self.call("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height,
                      deviceScaleFactor=1, mobile=False)
        return out

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._stack.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


PAGES = ("overview", "sales", "line_loss", "price", "recovery", "profit", "credit", "key_accounts", "service",
         "quality")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Screenshot dashboard pages with headless Chromium.")
    ap.add_argument("pages", nargs="*", default=list(PAGES), help=f"pages to open (default all: {' '.join(PAGES)})")
    ap.add_argument("--warehouse", default=os.environ.get("POWERCRM_WAREHOUSE", "warehouse/powercrm.duckdb"))
    ap.add_argument("--out", default="tests/artifacts", help="folder for the PNG files")
    args = ap.parse_args(argv)
    with dashboard_server(Path(args.warehouse)) as url, Chromium() as browser:
        for page in args.pages:
            state = browser.open(url + ("/" if page == "overview" else f"/{page}"),
                                 min_charts=0 if page == "overview" else 1)
            path = browser.screenshot(Path(args.out) / f"dashboard_{page}.png")
            print(f"{page:<14} {state['drawn']} charts, {state['exceptions']} exceptions -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
