"""Which PyTorch build `make env` installs: the CUDA build on a machine with an NVIDIA GPU (or with
TORCH=cuda), the CPU build otherwise (or with TORCH=cpu). Prints the choice and installs the build
only when the venv holds the other one, so `make env` stays idempotent.

``python scripts/torch_build.py [--request auto|cpu|cuda] [--install]``; TORCH in the environment
is the default request. The torch version is the one pinned in requirements-export.txt.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from euromine_qgis.core.engine.hardware import nvidia_gpu_name  # noqa: E402 (needs the repository on sys.path)

REQUESTS = ("auto", "cpu", "cuda")
# PyTorch's wheel indexes; the CUDA 13 build matches the CUDA libraries onnxruntime-gpu needs (DESIGN.md)
INDEXES = {"cpu": "https://download.pytorch.org/whl/cpu", "cuda": "https://download.pytorch.org/whl/cu130"}
LOCAL_LABELS = {"cpu": "cpu", "cuda": "cu130"}


def pinned_version(requirements: Path = REPO / "requirements-export.txt") -> str:
    """The torch version pinned (``torch==X``) in ``requirements``."""
    match = re.search(r"^torch==([\w.]+)\s*$", requirements.read_text(encoding="utf-8"), re.M)
    if not match:
        raise SystemExit(f"{requirements}: no 'torch==VERSION' line")
    return match.group(1)


def wanted_build(request: str, gpu: str | None) -> str:
    """'cuda' or 'cpu' for TORCH = ``request`` on a machine whose NVIDIA GPU is ``gpu`` (None: none)."""
    if request not in REQUESTS:
        raise ValueError(f"TORCH={request}: expected one of {', '.join(REQUESTS)}")
    if request == "auto":
        return "cuda" if gpu else "cpu"
    return request


def installed_build(version: str | None) -> str | None:
    """The build of an installed torch ``version`` ('2.13.0+cpu' -> 'cpu', '2.13.0+cu130' -> 'cuda');
    PyPI's plain Linux wheel is a CUDA build. None when torch is not installed."""
    if version is None:
        return None
    label = version.partition("+")[2]
    return "cpu" if label == "cpu" else "cuda"


def reason(request: str, gpu: str | None, build: str) -> str:
    """Why ``build`` was chosen, for the line `make env` prints."""
    if request != "auto":
        return f"TORCH={request}"
    return f"NVIDIA GPU found: {gpu}" if gpu else "no NVIDIA GPU found; TORCH=cuda installs the CUDA build"


def pip_arguments(build: str, version: str) -> list[str]:
    """pip's arguments that install torch ``version`` in ``build`` (the other build replaced)."""
    return ["install", "--disable-pip-version-check", "-q", f"torch=={version}+{LOCAL_LABELS[build]}",
            "--extra-index-url", INDEXES[build]]


def _torch_version() -> str | None:
    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return None


def main(argv: list[str] | None = None) -> int:
    """Print the chosen build; with --install, install it where the venv holds another one."""
    parser = argparse.ArgumentParser(prog="scripts/torch_build.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--request", default=os.environ.get("TORCH") or "auto",
                        help="auto, cpu or cuda (default: TORCH or auto)")
    parser.add_argument("--install", action="store_true", help="install the chosen build when another is installed")
    args = parser.parse_args(argv)
    gpu = nvidia_gpu_name()
    try:
        build = wanted_build(args.request, gpu)
    except ValueError as exc:
        parser.error(str(exc))
    version, present = pinned_version(), installed_build(_torch_version())
    print(f"torch: {'CUDA' if build == 'cuda' else 'CPU'} build ({reason(args.request, gpu, build)})")
    if args.install and present != build:
        subprocess.run([sys.executable, "-m", "pip", *pip_arguments(build, version)], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
