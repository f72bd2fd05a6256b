"""Headless Chromium for the tests that render the project's HTML pages (the evaluation report,
the benchmark's leaderboard): running it, and the images a rendered page embeds."""
from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(CHROMIUM is None,
                                    reason="Debian's chromium is not installed (make env installs it)")


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """Run headless Chromium with ``args`` in a fresh profile under ``tmp_path``."""
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, check=True,
    )


class _Images(HTMLParser):
    """Collects the src of every <img> of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "img":
            self.sources.append(dict(attrs).get("src") or "")


def embedded_pngs(dom: str) -> list[Image.Image]:
    """Every <img> of a rendered page, each checked to be a PNG embedded as a data URI, decoded."""
    parser = _Images()
    parser.feed(dom)
    images = []
    for src in parser.sources:
        match = re.fullmatch(r"data:image/png;base64,([A-Za-z0-9+/=]+)", src)
        assert match, src[:80]
        image = Image.open(io.BytesIO(base64.b64decode(match.group(1))))
        image.load()
        assert image.format == "PNG"
        images.append(image)
    return images
