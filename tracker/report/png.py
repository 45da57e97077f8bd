"""A PNG of a report (for slides): headless Chromium screenshots the file's header and chart.

The page is opened as report.html#slide, where its script draws the chart without Plotly's
toolbar and its styles hide the range buttons, hints and tables; a first run measures the
laid-out page (its script writes the height on <body>), the second takes a picture that tall.

Chromium runs with the network off (every host resolves to nothing, a dead proxy) and a fresh
profile, so taking the picture fetches nothing, like viewing the file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from tracker.core.errors import TrackerError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# Flags shared with the browser test: headless, no GPU, no sandbox (containers, root), and
# nothing that talks to the network in the background.
OFFLINE_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--no-first-run",
    "--no-default-browser-check", "--disable-quic", "--metrics-recording-only",
    "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
)


def find_chromium() -> str:
    """The Chromium binary: $TRACKER_CHROMIUM, else the first of CANDIDATES on PATH."""
    env = os.environ.get("TRACKER_CHROMIUM")
    if env:
        if shutil.which(env):
            return shutil.which(env)
        raise TrackerError(f"--png: TRACKER_CHROMIUM={env!r} is not an executable "
                           "(the HTML report was written)")
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    raise TrackerError("--png needs Chromium and none was found (install it: "
                       "`apt-get install chromium`, or set TRACKER_CHROMIUM to its path); "
                       "the HTML report was written")


SLIDE = "#slide"        # the report's view for slides: header, chart and legend only
_HEIGHT = re.compile(r'<body\b[^>]*\bdata-page-height="(\d+)"')


def _run(cmd: list[str], timeout: float, what: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TrackerError(f"Chromium did not finish {what} in {timeout:.0f} s "
                           "(the HTML report was written)") from None


def slide_height(html_path: Path, width: int = 1400, timeout: float = 90) -> int | None:
    """The height in pixels of the report's slide view at this width, as its script measured
    it once the chart and its labels were laid out (None if Chromium did not say)."""
    binary = find_chromium()
    with tempfile.TemporaryDirectory(prefix="tracker-chromium-") as profile:
        proc = _run([binary, *OFFLINE_FLAGS, f"--user-data-dir={profile}", "--hide-scrollbars",
                     f"--window-size={width},1000", "--virtual-time-budget=5000", "--dump-dom",
                     Path(html_path).resolve().as_uri() + SLIDE], timeout, "measuring the page")
    m = _HEIGHT.search(proc.stdout or "")
    return int(m.group(1)) if proc.returncode == 0 and m else None


def screenshot(html_path: Path, png_path: Path, width: int = 1400, height: int | None = None,
               timeout: float = 90, fallback_height: int = 1000) -> Path:
    """Screenshot html_path in its slide view (header, chart and legend; no toolbar, no range
    buttons) to png_path. Without `height`, the page is measured first (slide_height), so the
    picture holds the whole chart and no blank below it; `fallback_height` if that fails."""
    binary = find_chromium()
    html_path, png_path = Path(html_path).resolve(), Path(png_path).resolve()
    if height is None:
        height = slide_height(html_path, width, timeout) or fallback_height
    png_path.parent.mkdir(parents=True, exist_ok=True)
    png_path.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="tracker-chromium-") as profile:
        cmd = [binary, *OFFLINE_FLAGS, f"--user-data-dir={profile}", "--hide-scrollbars",
               f"--window-size={width},{height}", "--virtual-time-budget=5000",
               f"--screenshot={png_path}", html_path.as_uri() + SLIDE]
        proc = _run(cmd, timeout, "the screenshot")
    if proc.returncode != 0 or not png_path.exists() or png_path.stat().st_size == 0:
        tail = " ".join((proc.stderr or "").strip().splitlines()[-3:])
        raise TrackerError(f"Chromium could not write {png_path} (exit {proc.returncode}): "
                           f"{tail or 'no output'}")
    return png_path
