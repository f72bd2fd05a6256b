"""QGIS's Python on Windows, macOS and Linux, described by a few facts (``Platform``) rather than read
from ``sys`` at every call, so the decisions that follow from them can be tested for every platform:
which interpreter runs pip (inside QGIS ``sys.executable`` is the QGIS program, not Python), the ABI
tag, and how a command is quoted and where a person runs it."""
from __future__ import annotations

import os
import re
import shlex
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath

WINDOWS_SHELL = "in the OSGeo4W Shell (Start menu › QGIS › OSGeo4W Shell{admin})"
MACOS_SHELL = "in the Terminal"
_PYTHON_NAME = re.compile(r"python(\d+(\.\d+)?)?(\.exe)?", re.IGNORECASE)


@dataclass(frozen=True)
class Platform:
    """The facts about the running Python that decide how to install into it."""

    system: str  # sys.platform: win32, darwin, linux
    executable: str  # sys.executable: a Python, or the QGIS program that embeds one
    prefix: str  # sys.prefix: the Python's installation (a venv's folder inside one)
    version: tuple[int, int]  # (major, minor)
    abi: str  # the wheel ABI tag: cp311, cp313t (free-threaded)
    externally_managed: bool = False  # PEP 668: the system's Python, pip installs refused outside --user/--target
    in_venv: bool = False
    exists: Callable[[str], bool] = field(default=os.path.exists, compare=False)  # which paths exist

    @classmethod
    def current(cls) -> Platform:
        """This process's Python."""
        free_threaded = "t" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""
        stdlib = sysconfig.get_path("stdlib")
        return cls(system=sys.platform, executable=sys.executable, prefix=sys.prefix,
                   version=(sys.version_info.major, sys.version_info.minor),
                   abi=f"cp{sys.version_info.major}{sys.version_info.minor}{free_threaded}",
                   externally_managed=bool(stdlib) and (Path(stdlib) / "EXTERNALLY-MANAGED").exists(),
                   in_venv=sys.prefix != sys.base_prefix)

    @property
    def windows(self) -> bool:
        return self.system == "win32"

    def path(self, *parts: str) -> PurePath:
        """``parts`` joined as this platform joins paths."""
        return (PureWindowsPath if self.windows else PurePosixPath)(*parts)


def python_candidates(platform: Platform) -> list[str]:
    """Where QGIS's Python interpreter may be, best first: ``sys.executable`` when it is a Python inside
    the prefix; else inside the prefix (``python.exe`` on Windows, ``bin/python3.X`` elsewhere) and, on
    macOS, the Python inside QGIS.app (``Contents/MacOS/bin/python3``). A Python embedded in QGIS may
    report the QGIS program, or the first ``python3`` on ``PATH`` (another Python), as ``sys.executable``."""
    candidates = []
    executable = platform.path(platform.executable)
    if _PYTHON_NAME.fullmatch(executable.name) and platform.path(platform.prefix) in executable.parents:
        candidates.append(platform.executable)
    major, minor = platform.version
    if platform.windows:
        candidates += [str(platform.path(platform.prefix, name)) for name in ("python.exe", "python3.exe")]
    else:
        candidates += [str(platform.path(platform.prefix, "bin", name))
                       for name in (f"python{major}.{minor}", "python3")]
    if platform.system == "darwin":
        parts = platform.path(platform.executable).parts
        apps = [i for i, part in enumerate(parts) if part.endswith(".app")]
        if apps:
            candidates.append(str(platform.path(*parts[:apps[0] + 1], "Contents", "MacOS", "bin", "python3")))
    return candidates


def python_interpreter(platform: Platform) -> str | None:
    """The interpreter QGIS runs on, as a path that exists, or None when none of the candidates does."""
    return next((c for c in python_candidates(platform) if platform.exists(c)), None)


def quote(argument: str, platform: Platform) -> str:
    """``argument`` quoted for the platform's shell: cmd.exe takes double quotes only."""
    if not platform.windows:
        return shlex.quote(argument)
    return f'"{argument}"' if any(c in argument for c in ' <>|&^"()') else argument


def command_line(arguments: list[str], platform: Platform) -> str:
    """``arguments`` as one line to paste into the platform's shell."""
    return " ".join(quote(a, platform) for a in arguments)


def in_shell(command: str, platform: Platform, administrator: bool = False) -> str:
    """``command`` with where to run it: the OSGeo4W Shell on Windows (as administrator where it
    writes into QGIS's own folder), the Terminal on macOS."""
    if platform.windows:
        return f"{WINDOWS_SHELL.format(admin=', run as administrator' if administrator else '')}: {command}"
    if platform.system == "darwin":
        return f"{MACOS_SHELL}: {command}"
    return command
