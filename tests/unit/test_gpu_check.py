"""`make gpu-check` on a machine without a GPU: it refuses in one line with a non-zero exit, and the
GPU tests it runs skip under make test. Its full CPU dry run (scripts/gpu_check.py --cpu-dry-run,
about 20 s) is not part of make test."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.gpu_support import cuda_problem

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(cuda_problem() is None, reason="a GPU works here: the check would run, not refuse")
def test_gpu_check_refuses_without_a_working_gpu(tmp_path):
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "gpu_check.py"), "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.splitlines() == [f"gpu-check refused: no working GPU: {cuda_problem()}"]
    assert not (tmp_path / "out").exists()  # nothing written, not even the folder
