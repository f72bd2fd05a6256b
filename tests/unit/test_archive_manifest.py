"""The resume record: a year is reused only when its items, its parameters and its files are those
recorded."""
from __future__ import annotations

from euromine_qgis.core.archive.manifest import MANIFEST_NAME, read_manifest, reusable, write_manifest, year_record

ITEMS = [{"id": "a", "datetime": "2020-05-01T10:00:00Z", "updated": "2024-01-01T00:00:00Z"}]
PARAMETERS = {"months": [4, 5], "max_cloud": 80.0}


def test_a_year_is_reused_only_when_nothing_changed(tmp_path):
    image = tmp_path / "image" / "Year2020.tif"
    image.parent.mkdir()
    image.write_bytes(b"composite")
    write_manifest(tmp_path, {"2020": year_record(ITEMS, PARAMETERS, {"image": image}, tmp_path)})
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["image", MANIFEST_NAME])
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]
    record = read_manifest(tmp_path)["2020"]
    assert record["files"]["image"]["path"] == "image/Year2020.tif"
    assert reusable(record, ITEMS, PARAMETERS, tmp_path) is None
    assert reusable(record, ITEMS, {**PARAMETERS, "max_cloud": 50.0}, tmp_path) == "changed parameters: max_cloud"
    updated = [{**ITEMS[0], "updated": "2025-02-01T00:00:00Z"}]
    assert reusable(record, updated, PARAMETERS, tmp_path) == "the items changed"
    image.write_bytes(b"changed")
    assert "Year2020.tif" in reusable(record, ITEMS, PARAMETERS, tmp_path)
    assert reusable(None, ITEMS, PARAMETERS, tmp_path) == "not made yet"


def test_an_unreadable_manifest_means_every_year_is_made_again(tmp_path):
    assert read_manifest(tmp_path) == {}
    (tmp_path / MANIFEST_NAME).write_text("{not json")
    assert read_manifest(tmp_path) == {}
