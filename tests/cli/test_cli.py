"""The `euromine` command, run as users run it (a real process), in QGIS's environment and in the
clean numpy-2 venv: results as JSON, exit codes and the engine's messages, progress as plain lines
or a bar on a terminal, and Ctrl-C (a real SIGINT) leaving nothing partial."""
from __future__ import annotations

import fcntl
import json
import os
import re
import select
import shlex
import signal
import struct
import subprocess
import termios
import time
from pathlib import Path

import rasterio

from euromine_qgis.core.engine.bundled import SYNTHETIC_LABEL, bundled_models
from tests.rasters import random_scene, write_image

REPO = Path(__file__).resolve().parents[2]


def images_of(site: Path) -> list[Path]:
    return sorted((site / "image").glob("Year*.tif"))


def test_models_lists_every_bundled_model_with_its_card(euromine):
    cards = euromine.json("models")["MODELS"]
    assert [c["name"] for c in cards] == [m.name for m in bundled_models()]
    for card in cards:
        assert Path(card["file"]).is_file()
        assert (SYNTHETIC_LABEL in card["trained_on"]) == card["synthetic_training"]
        assert card["receptive_field"] >= 1 and card["alignment"] >= 1
        assert card["metrics"]["heldout"]
    text = euromine.run("models").stdout
    assert "unet_footprint: U-Net footprint model (footprint)" in text and SYNTHETIC_LABEL in text


def test_mapfootprints_json_result_and_plain_progress_lines(euromine, sites, tmp_path):
    images = images_of(sites[1])[:3]
    out = euromine.run("mapfootprints", "--images", *images, "--output-folder", tmp_path / "out", "--json")
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)  # stdout holds the JSON alone
    years = [int(p.stem[-4:]) for p in images]
    assert result["YEARS"] == years and result["MODEL_NAME"] == "spectral_baseline"
    assert result["PROVIDER"] == "CPUExecutionProvider"
    assert [Path(p).name for p in result["FOOTPRINTS"]] == [f"footprint_{y}.tif" for y in years]
    for year, path in zip(years, result["FOOTPRINTS"], strict=True):
        with rasterio.open(path) as src:
            assert src.read(1).max() <= 1 or src.nodata == 255
        assert result["AREA_HA"][str(year)] >= 0
    lines = out.stderr.splitlines()
    assert any(line.startswith("Execution provider: CPUExecutionProvider") for line in lines)
    assert [line for line in lines if line.endswith("%")] == [f"{p}%" for p in range(10, 101, 10)]
    assert "\r" not in out.stderr  # not a terminal: no bar


def test_bad_input_exits_2_with_the_engine_message(euromine, tmp_path):
    image = write_image(tmp_path / "Year2020.tif", random_scene(40, 40), crs=None)
    out = euromine.run("mapfootprints", "--images", image, "--output-folder", tmp_path / "out")
    assert out.returncode == 2
    assert f"euromine mapfootprints: error: {image}: image has no CRS" in out.stderr
    assert not list((tmp_path / "out").glob("*.tif"))
    out = euromine.run("mapfootprints", "--images", image, "--years", "2030", "--output-folder", tmp_path / "out")
    assert out.returncode == 2 and "no image for year(s) 2030; the inputs hold 2020" in out.stderr
    out = euromine.run("mapfootprints", "--images", image, "--input-bands", "1,,3", "--output-folder", tmp_path / "o")
    assert out.returncode == 2 and "INPUT_BANDS '1,,3': an item is empty" in out.stderr
    assert euromine.run("mapfootprints", "--output-folder", tmp_path).returncode == 2  # usage: --images missing


def _lines_until(stream, wanted: str, timeout: float) -> list[str]:
    """Lines of ``stream`` up to and including the first that equals ``wanted``."""
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if lines[-1] == wanted:
            return lines
    raise AssertionError(f"no line {wanted!r} within {timeout} s: {lines[-20:]}")


def test_ctrl_c_mid_run_exits_130_and_leaves_nothing_partial(euromine, tmp_path):
    image = write_image(tmp_path / "in" / "Year2021.tif", random_scene(1024, 1024, seed=3))
    out_dir = tmp_path / "out"
    run = euromine.popen("mapfootprints", "--images", image, "--model", "unet_footprint", "--tile-overlap", "32",
                         "--device", "cpu", "--probabilities", "float32", "--output-folder", out_dir)
    try:
        _lines_until(run.stderr, "10%", timeout=300)  # mid-run: a tenth of the tiles are mapped and written
        run.send_signal(signal.SIGINT)
        rest = run.stderr.read()
        assert run.wait(timeout=120) == 130, rest
    finally:
        run.kill()
    assert "the run was cancelled; no partial output was kept" in rest
    assert "100%" not in rest
    assert sorted(p.name for p in out_dir.iterdir() if p.name != ".euromine.lock") == []


def test_progress_bar_on_a_terminal(euromine, sites, tmp_path):
    """stderr on a pseudo-terminal: tqdm's bar, ending at 100/100."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))  # 30 rows, 100 columns
    run = subprocess.Popen([*euromine.argv, "mapfootprints", "--images", *map(str, images_of(sites[0])[:2]),
                            "--output-folder", str(tmp_path / "out")], env=euromine.env, stdout=subprocess.DEVNULL,
                           stderr=slave, cwd=euromine.env["EUROMINE_TEST_CWD"])
    os.close(slave)
    shown = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 120)
            if not ready:
                break
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the other end closed: the run is over
                break
            if not chunk:
                break
            shown += chunk
        assert run.wait(timeout=120) == 0, shown.decode(errors="replace")[-2000:]
    finally:
        os.close(master)
        run.kill()
    text = shown.decode(errors="replace")
    assert "100/100 %" in text and "\r" in text  # the bar redrawn in place
    assert "Execution provider:" in text  # log lines still shown, above the bar


def test_help_names_exit_codes_and_what_the_command_leaves_out(euromine):
    out = euromine.run("changelayers", "--help")
    assert out.returncode == 0 and "exit codes: 0 done, 2 bad input" in out.stdout
    assert "Polygon outputs (GeoPackage) are made only by the QGIS algorithms" in " ".join(out.stdout.split())


def documented_commands() -> str:
    """The example block of the docs' page on the command (the one that runs every subcommand)."""
    text = (REPO / "docs" / "user-guide" / "command.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", text, re.DOTALL)
    return next(b for b in blocks if "euromine mapsites --sites-folder" in b)


def test_documented_examples_run_as_written(euromine, tmp_path):
    from export.synthetic import generate_sites

    (site,) = generate_sites(tmp_path / "demo" / "sites", 1, seed=2015, size=(96, 96))
    script = documented_commands().replace("build/demo/sites", str(site.parent))
    assert script.count("euromine ") >= 6
    prelude = f"set -euo pipefail\neuromine() {{ {' '.join(map(shlex.quote, euromine.argv))} \"$@\"; }}\n"
    out = subprocess.run(["bash", "-c", prelude + script], env=euromine.env, cwd=tmp_path, capture_output=True,
                         text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads((tmp_path / "out" / "sites.json").read_text())
    assert result["MAPPED"] == [site.name]
    for made in ("footprints/footprint_2020.tif", "change/trajectory.tif", "change/area_table.csv",
                 "change/footprints_by_year.png", "change_2016_2020.tif", "evaluation.csv", "report.html",
                 "sites/summary.csv"):
        assert (tmp_path / "out" / made).is_file(), made
