"""The manifest that marks a site's outputs complete: every file with its size and sha256, what
they were made from, and the site's figures. It is written last and atomically, so a folder
whose manifest verifies holds exactly the files a finished run wrote."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..io.checksum import sha256_of
from ..io.outputs import atomic_outputs

MANIFEST_NAME = "euromine_manifest.json"
FORMAT = 2  # 2: made_from holds every setting that changes an output (batch.sites.output_settings)


def plain(value: object) -> Any:
    """``value`` as JSON gives it back (tuples become lists, int keys strings), for comparisons."""
    return json.loads(json.dumps(value))


def differences(recorded: object, current: object, where: str = "") -> list[str]:
    """What differs between a recorded and a current ``made_from``, one line per changed setting
    or input named by its path of keys (``parameters/threshold: 0.5 -> 0.6``)."""
    if isinstance(recorded, dict) and isinstance(current, dict):
        lines = []
        for key in sorted(recorded.keys() | current.keys()):
            name = f"{where}/{key}" if where else key
            if key not in recorded:
                lines.append(f"{name} added")
            elif key not in current:
                lines.append(f"{name} removed")
            else:
                lines.extend(differences(recorded[key], current[key], name))
        return lines
    if recorded == current:
        return []
    scalars = not isinstance(recorded, (dict, list)) and not isinstance(current, (dict, list))
    return [f"{where or 'everything'}: {recorded!r} -> {current!r}" if scalars else f"{where or 'everything'} changed"]


def write_manifest(folder: Path, made_from: dict[str, Any], result: dict[str, Any]) -> Path:
    """List every file under ``folder`` with size and sha256 and write the manifest beside them."""
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        files[path.relative_to(folder).as_posix()] = {"size": path.stat().st_size, "sha256": sha256_of(path)}
    manifest = {"format": FORMAT, "made_from": plain(made_from), "result": plain(result), "files": files}
    target = folder / MANIFEST_NAME
    with atomic_outputs([target]) as (temp,):
        temp.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return target


def verified_result(folder: Path, made_from: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The recorded result of ``folder`` when its manifest verifies: same ``made_from`` and every
    listed file present with its size and sha256. Otherwise None and the reason, for the log."""
    path = folder / MANIFEST_NAME
    if not folder.exists():
        return None, "not mapped yet"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, f"{folder} has no {MANIFEST_NAME}: its outputs were never completed"
    except (OSError, ValueError) as exc:
        return None, f"{path} is unreadable ({exc})"
    if manifest.get("format") != FORMAT or "files" not in manifest:
        return None, f"{path} is of another format"
    changes = differences(manifest.get("made_from"), plain(made_from))
    if changes:
        return None, "changed since it was mapped: " + "; ".join(changes)
    for name, expected in manifest["files"].items():
        file = folder / name
        if not file.is_file():
            return None, f"{file} is missing"
        if file.stat().st_size != expected["size"] or sha256_of(file) != expected["sha256"]:
            return None, f"{file} differs from the file that was written"
    return manifest["result"], "complete and verified"


def has_manifest(folder: Path) -> bool:
    """Whether ``folder`` carries a manifest (so it was written by a many-site run)."""
    return (folder / MANIFEST_NAME).is_file()
