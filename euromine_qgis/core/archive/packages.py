"""The archive packages the composites need beyond the core, pinned: pyproject.toml's ``archive`` extra,
requirements.txt and the plugin's installer (dependencies/plan.py) use these pins (a unit test keeps
them equal)."""
from __future__ import annotations

ARCHIVE_PINS = ("pystac-client==0.9.1", "pystac==1.14.3")
ARCHIVE_MODULE = "pystac_client"  # what must import for a run
