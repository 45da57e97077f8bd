"""A PNG of a report (for slides): headless Chromium screenshots the file's header and chart.

Chromium runs with the network off (every host resolves to nothing, a dead proxy) and a fresh
profile, so taking the picture fetches nothing, like viewing the file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import TrackerError

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


def screenshot(html_path: Path, png_path: Path, width: int = 1400, height: int = 1000,
               timeout: float = 90) -> Path:
    """Screenshot html_path (in its '#slide' view: header and chart) to png_path."""
    binary = find_chromium()
    html_path, png_path = Path(html_path).resolve(), Path(png_path).resolve()
    png_path.parent.mkdir(parents=True, exist_ok=True)
    png_path.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="tracker-chromium-") as profile:
        cmd = [binary, *OFFLINE_FLAGS, f"--user-data-dir={profile}", "--hide-scrollbars",
               f"--window-size={width},{height}", "--virtual-time-budget=5000",
               f"--screenshot={png_path}", html_path.as_uri() + "#slide"]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TrackerError(f"Chromium did not finish the screenshot in {timeout:.0f} s "
                               "(the HTML report was written)") from None
    if proc.returncode != 0 or not png_path.exists() or png_path.stat().st_size == 0:
        tail = " ".join((proc.stderr or "").strip().splitlines()[-3:])
        raise TrackerError(f"Chromium could not write {png_path} (exit {proc.returncode}): "
                           f"{tail or 'no output'}")
    return png_path
