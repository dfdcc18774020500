"""Headless Chromium for the page tests (report, plan, preview): the DOM as rendered and a screenshot.

Chromium is Debian's (`/usr/bin/chromium`, or $CHROMIUM); `make test` installs it. A missing browser fails
the test rather than skipping it: the pages are to be seen rendered.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--force-device-scale-factor=1"]


def chromium(args: list[str], profile: Path) -> subprocess.Popen[bytes]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `make browser` (or `make test`) installs Debian's chromium; "
                    "or point $CHROMIUM at a Chromium binary", pytrace=False)
    return subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(process: subprocess.Popen[bytes], what: str) -> bytes:
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"chromium ({what}) did not finish in 60 s: {err.decode(errors='replace')[-2000:]}")
    assert process.returncode == 0, f"chromium ({what}) failed: {err.decode(errors='replace')[-2000:]}"
    return out


def render(page: Path, root: Path, window: tuple[int, int]) -> tuple[str, Path]:
    """The page's DOM after rendering, and a screenshot of `window` pixels (both browsers at once)."""
    url = page.resolve().as_uri()  # file://: the page must need nothing else
    shot = root / f"{page.stem}.png"
    dump = chromium(["--dump-dom", url], root / "profile-dom")
    snap = chromium([f"--screenshot={shot}", f"--window-size={window[0]},{window[1]}", url], root / "profile-png")
    dom = finish(dump, "--dump-dom").decode("utf-8")
    finish(snap, "--screenshot")
    return dom, shot
