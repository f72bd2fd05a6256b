"""The docs' `processing.run` examples, run as written inside QGIS: each ```python block of a page
under docs/ that calls processing.run, page by page in order of path and in each page's order, with
its /data/ and /tmp/ paths moved to a generated site laid out as the examples expect. Every result
key a block prints or uses must be in the results, so the public ids, parameters and outputs stay as
documented."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import processing
import pytest
import rasterio
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransformContext,
    QgsFeature,
    QgsGeometry,
    QgsRectangle,
    QgsVectorFileWriter,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QMetaType

from euromine_qgis.core.io.coordinates import apply_affine
from euromine_qgis.core.release import SPLITS
from euromine_qgis.qgis_compat import field
from export.synthetic import generate_sites

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
RESULT_KEY = re.compile(r"""result\[["']([A-Z_]+)["']\]""")
EXAMPLE_PATH = re.compile(r"""(["'])/(data|tmp)/""")  # a quoted path the examples read or write
ALGORITHM = re.compile(r"""processing\.run\(\s*["'](euromine:\w+)["']""")


def examples() -> list[tuple[str, str]]:
    """(page: heading, code) of every python block of the docs' pages that calls processing.run."""
    found = []
    for page in sorted(DOCS.rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            if "processing.run(" in match.group(1):
                heading = re.findall(r"^#+ (.*)$", text[:match.start()], re.M)[-1]
                found.append((f"{page.relative_to(DOCS)}: {heading}", match.group(1)))
    return found


def outlines(path: Path, mosaic: Path) -> None:
    """A GeoPackage of one site outline named by field ``name``, inside the mosaic."""
    with rasterio.open(mosaic) as src:
        (left, top), (right, bottom) = apply_affine(src.transform, 10, 10), apply_affine(src.transform, 60, 50)
    layer = QgsVectorLayer("Polygon?crs=EPSG:4326", "sites", "memory")
    layer.dataProvider().addAttributes([field("name", QMetaType.Type.QString)])
    layer.updateFields()
    feature = QgsFeature(layer.fields())
    feature.setGeometry(QgsGeometry.fromRect(QgsRectangle(left, bottom, right, top)))
    feature["name"] = "Quarry north"
    layer.dataProvider().addFeatures([feature])
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    error = QgsVectorFileWriter.writeAsVectorFormatV3(layer, str(path), QgsCoordinateTransformContext(), options)
    assert error[0] == QgsVectorFileWriter.NoError, error
    assert QgsVectorLayer(str(path), "sites", "ogr").crs() == QgsCoordinateReferenceSystem("EPSG:4326")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """What the examples read under /data/: EuroMineNet/Spain_1 and a site of the release's test
    split (the same generated site), annual mosaics S2_YYYY.tif and site outlines sites.gpkg."""
    root = tmp_path_factory.mktemp("data")
    (site,) = generate_sites(tmp_path_factory.mktemp("generated"), 1, seed=2015, size=(96, 96))
    for name in ("Spain_1", SPLITS["test"][0]):
        shutil.copytree(site, root / "EuroMineNet" / name)
    (root / "mosaics").mkdir()
    for image in sorted((site / "image").glob("Year*.tif")):
        shutil.copy(image, root / "mosaics" / f"S2_{image.stem[-4:]}.tif")
    outlines(root / "sites.gpkg", root / "mosaics" / "S2_2015.tif")
    for image in sorted((site / "image").glob("Year*.tif"))[:2]:
        l2a_export(image, root / "l2a" / f"S2L2A_{image.stem[-4:]}.tif")
    return root


# A 13-band L2A export's band order; the release's 10 bands are B2 B3 B4 B5 B6 B7 B8 B8A B11 B12.
L2A_BANDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B11", "B12", "SCL")


def l2a_export(image: Path, out: Path) -> None:
    """A float 0–1 reflectance export with 13 named bands (B1 from B2, B9 from B8A, SCL 4) of a
    release image, as "Your own imagery" starts from."""
    with rasterio.open(image) as src:
        data, profile = src.read().astype("float32") / 10000.0, src.profile
    release = dict(zip(("B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B11", "B12"), data, strict=True))
    release.update(B1=release["B2"], B9=release["B8A"], SCL=(release["B2"] > 0) * 4.0)
    out.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(out, "w", **dict(profile, count=len(L2A_BANDS), dtype="float32")) as dst:
        for i, name in enumerate(L2A_BANDS, 1):
            dst.write(release[name].astype("float32"), i)
            dst.set_band_description(i, name)


def test_every_algorithm_has_an_example():
    assert {ALGORITHM.search(code).group(1) for _, code in examples()} == {
        "euromine:mapfootprints", "euromine:evaluate", "euromine:changelayers", "euromine:detectchange",
        "euromine:mapsites"}


@pytest.mark.slow
def test_readme_examples_run_as_written(euromine_provider, data, tmp_path, monkeypatch, capsys):
    runs: list[tuple[str, dict]] = []
    run = processing.run

    def recorded(algorithm, parameters, *args, **kwargs):
        results = run(algorithm, parameters, *args, **kwargs)
        runs.append((algorithm, results))
        return results

    monkeypatch.setattr(processing, "run", recorded)
    roots = {"data": data, "tmp": tmp_path}
    for heading, code in examples():
        runs.clear()
        script = EXAMPLE_PATH.sub(lambda m: f"{m.group(1)}{roots[m.group(2)]}/", code)
        exec(compile(script, heading, "exec"), {"__name__": "__docs__"})
        printed = capsys.readouterr().out
        assert runs and {a for a, _ in runs} == set(ALGORITHM.findall(code)), heading
        for algorithm, results in runs:
            missing = set(RESULT_KEY.findall(code)) - set(results)
            assert not missing, f"{heading}: {algorithm} returns no {', '.join(sorted(missing))}"
        if "print(" in code:
            assert printed.strip(), f"{heading}: printed nothing"
