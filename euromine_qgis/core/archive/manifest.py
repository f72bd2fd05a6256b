"""A site's ``composites.json``: per finished year, the items used (id, datetime, updated), the
parameters that shape the year and each file's sha256. A rerun reuses a year whose items and
parameters are unchanged and whose files still match; it makes any other year again."""
from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

from ..errors import OutputError
from ..io.checksum import sha256_of

MANIFEST_NAME = "composites.json"
VERSION = 1


def read_manifest(site: Path) -> dict[str, Any]:
    """The years recorded in ``site``'s manifest (year text -> record); empty when there is none or it
    cannot be read (every year is then made again)."""
    try:
        data = json.loads((site / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    years = data.get("years") if isinstance(data, dict) and data.get("version") == VERSION else None
    return years if isinstance(years, dict) else {}


def write_manifest(site: Path, years: dict[str, Any]) -> None:
    """Write ``site``'s manifest atomically (temporary name, then os.replace)."""
    path = site / MANIFEST_NAME
    temp = path.with_name(f".{path.name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        temp.write_text(json.dumps({"version": VERSION, "years": years}, indent=2, sort_keys=True),
                        encoding="utf-8")
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write the manifest ({exc.strerror})") from exc


def year_record(items: list[dict[str, Any]], parameters: dict[str, Any], files: dict[str, Path],
                site: Path) -> dict[str, Any]:
    """A finished year's record: its items, parameters and files (relative path, sha256)."""
    return {"items": items, "parameters": parameters,
            "files": {kind: {"path": path.relative_to(site).as_posix(), "sha256": sha256_of(path)}
                      for kind, path in files.items()}}


def reusable(record: dict[str, Any] | None, items: list[dict[str, Any]], parameters: dict[str, Any],
             site: Path) -> str | None:
    """None when the recorded year can be reused as it is, else why it is made again."""
    if not record:
        return "not made yet"
    if record.get("parameters") != parameters:
        changed = sorted(k for k in {**parameters, **record.get("parameters", {})}
                         if parameters.get(k) != record.get("parameters", {}).get(k))
        return f"changed parameters: {', '.join(changed)}"
    if record.get("items") != items:
        return "the items changed"
    for entry in (record.get("files") or {}).values():
        path = site / str(entry.get("path", ""))
        if not path.is_file() or sha256_of(path) != entry.get("sha256"):
            return f"{path.name} is missing or changed"
    return None
