"""The install itself: pip, run by QGIS's own interpreter, fills a temporary sibling of the final
folder; the result is checked (no numpy beside QGIS's, onnxruntime imports from it) and only then
renamed onto the final name, so a failed or cancelled install leaves nothing. The folder is put on
``sys.path`` after the install and at every plugin load (``activate``)."""
from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..core.engine.hardware import nvidia_gpu_name
from ..core.progress import Reporter
from .plan import (
    InstallError,
    Plan,
    archive_folder,
    canonical_name,
    cuda_runtime_found,
    install_folder,
    plan_archive_install,
    plan_install,
)
from .platforms import Platform

MARKER = "euromine-install.json"  # written last into a finished install: what it holds
SHADOWING = ("numpy",)  # never beside QGIS's own: a second copy on sys.path could be imported instead
# no console window flashing up on Windows while pip runs
_NO_WINDOW = getattr(subprocess, "CREATE_NO_WINDOW", 0)


def qgis_paths(exclude: Path | None = None) -> list[str]:
    """The folders this Python imports from (QGIS's sys.path), less ``exclude``."""
    return [p for p in sys.path if p and os.path.exists(p) and (exclude is None or Path(p) != exclude)]


def installed_names(paths: Sequence[str]) -> set[str]:
    """The canonical names of the distributions importable from ``paths``."""
    return {canonical_name(d.metadata["Name"]) for d in importlib.metadata.distributions(path=list(paths))
            if d.metadata["Name"]}


def activate(folder: Path) -> bool:
    """Put a finished install on ``sys.path``, after QGIS's own folders; False when there is none."""
    if not (folder / MARKER).is_file():
        return False
    if str(folder) not in sys.path:
        sys.path.append(str(folder))
        importlib.invalidate_caches()
    return True


def activate_installed(settings_dir: str) -> bool:
    """``activate`` the installs (onnxruntime, the archive packages) of the profile at ``settings_dir``
    for this Python, where there are any; whether onnxruntime's was there."""
    platform = Platform.current()
    activate(Path(archive_folder(settings_dir, platform)))
    return activate(Path(install_folder(settings_dir, platform)))


def _run(arguments: list[str], reporter: Reporter, env: dict[str, str] | None = None) -> tuple[int, list[str]]:
    """Run ``arguments``, passing each output line to the log and stopping it when the user cancels."""
    lines: list[str] = []
    process = subprocess.Popen(arguments, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               text=True, errors="replace", env=env, creationflags=_NO_WINDOW)
    try:
        for line in process.stdout:
            lines.append(line.rstrip())
            reporter.info(line.rstrip())
            if reporter.is_canceled():
                process.terminate()
                process.wait()
                reporter.check()
        return process.wait(), lines
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()


def _pip(plan: Plan, staging: Path, reporter: Reporter) -> None:
    code, lines = _run([plan.python, "-m", "pip", "--version"], reporter.silent())
    if code != 0:
        debian = plan.platform.system == "linux" and Path("/etc/debian_version").exists()
        fix = "sudo apt install python3-pip, then install again" if debian else plan.manual_command()
        raise InstallError(f"QGIS's Python ({plan.python}) has no pip ({lines[-1] if lines else code}). "
                           f"Install it: {fix}")
    step = 60.0 / len(plan.requirements)
    seen = 0

    def progress(line: str) -> None:
        nonlocal seen
        if line.startswith(("Collecting", "Processing")):
            seen += 1
            reporter.progress(10 + step * min(seen, len(plan.requirements)))
        reporter.info(line)

    code, lines = _run(plan.pip_arguments(staging), Reporter(progress=reporter.progress, info=progress,
                                                             is_canceled=reporter.is_canceled))
    if code != 0:
        tail = " / ".join(line for line in lines[-4:] if line.strip())
        raise InstallError(f"pip could not install {' '.join(plan.requirements)} (exit code {code}: {tail}); "
                           f"nothing was installed. Install by hand: {plan.manual_command()}")


def _check(plan: Plan, staging: Path, paths: list[str], reporter: Reporter) -> None:
    """No package that would shadow QGIS's own, and the plan's module (onnxruntime, pystac_client)
    importable from ``staging`` behind QGIS's folders, as the plugin will import it."""
    shadowing = sorted(p.name for p in staging.iterdir() if re.split(r"[-.]", p.name)[0].lower() in SHADOWING)
    if shadowing:
        raise InstallError(f"pip put {', '.join(shadowing)} beside QGIS's own; nothing was installed. "
                           f"Install by hand: {plan.manual_command()}")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*paths, str(staging)])}
    probe = f"import {plan.module}; print({plan.module}.__file__)"
    code, lines = _run([plan.python, "-c", probe], reporter.silent(), env)
    imported = Path(lines[-1]) if code == 0 and lines else None
    if imported is None or staging not in imported.parents:
        raise InstallError(f"{plan.module} does not import from the new install ({' / '.join(lines[-3:])}); "
                           f"nothing was installed. Install by hand: {plan.manual_command()}")


def _move_into_place(staging: Path, folder: Path) -> None:
    """Rename ``staging`` onto ``folder``; an older install there is replaced, or kept if that fails."""
    old = None
    if folder.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{folder.name}-old-", dir=folder.parent))
        old.rmdir()
        folder.rename(old)
    try:
        staging.rename(folder)
    except OSError:
        if old is not None:
            old.rename(folder)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def install(plan: Plan, reporter: Reporter) -> Path:
    """Install ``plan`` and put it on ``sys.path``; returns the folder. On any failure or
    cancellation nothing is left (an older install stays as it was)."""
    folder = Path(plan.folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    for leftover in folder.parent.glob(f".{folder.name}-*"):  # an install killed midway
        shutil.rmtree(leftover, ignore_errors=True)
    paths = qgis_paths(exclude=folder)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        reporter.progress(5)
        reporter.info(f"Installing {' '.join(plan.requirements)} into {folder}")
        _pip(plan, staging, reporter)
        reporter.check()
        reporter.progress(75)
        _check(plan, staging, paths, reporter)
        (staging / MARKER).write_text(json.dumps({"build": plan.build, "requirements": list(plan.requirements),
                                                  "python": plan.python}, indent=1), encoding="utf-8")
        reporter.check()
        _move_into_place(staging, folder)
    except OSError as exc:
        raise InstallError(f"{folder}: {exc.strerror or exc}; nothing was installed. "
                           f"Install by hand: {plan.manual_command()}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    activate(folder)
    reporter.progress(100)
    return folder


def install_onnxruntime(device: str, settings_dir: str, reporter: Reporter) -> Plan:
    """Install the onnxruntime build DEVICE (auto | cpu | gpu) calls for into the profile at
    ``settings_dir``, for this Python; what the message bar's Install and euromine:installdependencies run."""
    platform = Platform.current()
    folder = Path(install_folder(settings_dir, platform))
    gpu = nvidia_gpu_name()
    plan = plan_install(device, settings_dir, platform, gpu, gpu is not None and cuda_runtime_found(platform),
                        installed_names(qgis_paths(exclude=folder)))
    install(plan, reporter)
    return plan


def install_archive(settings_dir: str, reporter: Reporter) -> Plan:
    """Install the archive packages of the composites (pystac-client and what it needs that QGIS's
    Python lacks) into the profile at ``settings_dir``, for this Python."""
    platform = Platform.current()
    folder = Path(archive_folder(settings_dir, platform))
    plan = plan_archive_install(settings_dir, platform, installed_names(qgis_paths(exclude=folder)))
    install(plan, reporter)
    return plan
