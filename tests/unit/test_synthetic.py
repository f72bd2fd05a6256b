"""Synthetic EuroMineNet-layout sites: file layout, determinism, and scenes hard enough to matter."""

from __future__ import annotations

import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.errors import NotGeoreferencedWarning

from export import synthetic
from export.synthetic import BANDS, YEARS, Cover

REPO = Path(__file__).resolve().parents[2]
SEEDS = range(12)
SIM_SIZE = (121, 133)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _read_label(path: Path) -> tuple[np.ndarray, dict]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path) as src:
            return src.read(1), {"crs": src.crs, "transform": src.transform, "nodata": src.nodata,
                                 "count": src.count, "dtype": src.dtypes[0], "shape": src.shape}


def _indices(img: np.ndarray) -> dict[str, np.ndarray]:
    b = {name: img[i].astype(np.float64) for i, name in enumerate(BANDS)}
    return {
        "ndvi": (b["B8"] - b["B4"]) / (b["B8"] + b["B4"] + 1),
        "ndwi": (b["B3"] - b["B8"]) / (b["B3"] + b["B8"] + 1),
        **b,
    }


@pytest.fixture(scope="module")
def written_site(tmp_path_factory) -> Path:
    return synthetic.generate_site(tmp_path_factory.mktemp("one"), "Site_A", seed=3, size=(101, 173))


@pytest.fixture(scope="module")
def sims() -> list[synthetic.SyntheticSite]:
    return [synthetic.simulate_site(seed, SIM_SIZE) for seed in SEEDS]


# --------------------------------------------------------------------------- layout and files


def test_layout_has_exactly_one_image_and_label_per_year(written_site):
    assert written_site.name == "Site_A"
    names = {f"Year{y}.tif" for y in YEARS}
    assert {p.name for p in (written_site / "image").iterdir()} == names
    assert {p.name for p in (written_site / "label").iterdir()} == names
    assert {p.name for p in written_site.iterdir()} == {"image", "label"}


def test_image_files_follow_the_release_conventions(written_site):
    for year in YEARS:
        with rasterio.open(written_site / "image" / f"Year{year}.tif") as src:
            assert src.count == 10 and set(src.dtypes) == {"int16"}
            assert src.shape == (101, 173)
            assert src.crs.to_epsg() == 4326
            assert src.nodata == 0 and src.nodatavals == (0,) * 10
            assert src.descriptions == BANDS
            assert src.compression.name.lower() == "deflate"
            t = src.transform
            assert t.b == 0 and t.d == 0 and t.a > 0 and t.e < 0  # north-up
            lon, lat = src.xy(src.height // 2, src.width // 2)
            assert 37 <= lat <= 66 and -9 <= lon <= 28
            assert t.a * 111320 * np.cos(np.radians(lat)) == pytest.approx(10, rel=0.01)
            assert -t.e * 110574 == pytest.approx(10, rel=1e-6)
            img = src.read()
        zero = img == 0
        # 0 only ever means nodata: a pixel is all-zero or has no zero band.
        assert np.array_equal(zero.any(axis=0), zero.all(axis=0))
        assert img.min() >= 0 and img[:, ~zero[0]].min() >= 1


def test_label_files_have_no_georeferencing_and_only_0_255(written_site):
    for year in YEARS:
        path = written_site / "label" / f"Year{year}.tif"
        with pytest.warns(NotGeoreferencedWarning):
            rasterio.open(path).close()
        label, meta = _read_label(path)
        assert meta["crs"] is None and meta["transform"].is_identity
        assert meta["nodata"] is None and meta["count"] == 1 and meta["dtype"] == "uint8"
        assert meta["shape"] == (101, 173)
        assert set(np.unique(label)) <= {0, 255}


def test_files_match_the_simulation(written_site):
    site = synthetic.simulate_site(3, (101, 173))
    for year in (2015, 2024):
        with rasterio.open(written_site / "image" / f"Year{year}.tif") as src:
            assert np.array_equal(src.read(), site.images[year])
        label, _ = _read_label(written_site / "label" / f"Year{year}.tif")
        assert np.array_equal(label, site.labels[year])


# --------------------------------------------------------------------------- determinism


def test_same_seed_gives_byte_identical_files(tmp_path, written_site):
    again = synthetic.generate_site(tmp_path, "Site_A", seed=3, size=(101, 173))
    assert _files(again) == _files(written_site)


def test_different_seed_gives_different_files(tmp_path, written_site):
    other = synthetic.generate_site(tmp_path, "Site_A", seed=4, size=(101, 173), years=(2015,))
    name = "image/Year2015.tif"
    assert _files(other)[name] != _files(written_site)[name]


def test_a_subset_of_years_is_written_exactly_as_in_the_full_run(tmp_path, written_site):
    part = synthetic.generate_site(tmp_path, "Site_A", seed=3, size=(101, 173), years=[2019, 2016])
    files = _files(part)
    assert sorted(files) == ["image/Year2016.tif", "image/Year2019.tif",
                             "label/Year2016.tif", "label/Year2019.tif"]
    full = _files(written_site)
    assert all(files[k] == full[k] for k in files)


@pytest.mark.slow
def test_generate_sites_names_sizes_and_independence_from_n(tmp_path):
    for seed in range(4):
        folders = synthetic.generate_sites(tmp_path / f"s{seed}", 3, seed, years=(2015,))
        assert [f.name for f in folders] == ["Synthetic_1", "Synthetic_2", "Synthetic_3"]
        shapes = []
        for folder in folders:
            with rasterio.open(folder / "image" / "Year2015.tif") as src:
                shapes.append(src.shape)
        assert min(shapes[0]) < 160, shapes  # a site smaller than a benchmark patch
        assert all(91 <= side <= 419 and side % 2 == 1 for shape in shapes for side in shape)
        alone = synthetic.generate_sites(tmp_path / f"alone{seed}", 1, seed, years=(2015,))
        assert _files(alone[0]) == _files(folders[0])
    assert synthetic.site_seed(1, 0) != synthetic.site_seed(0, 1)


@settings(max_examples=15, deadline=None)
@given(h=st.integers(24, 200), w=st.integers(24, 200), seed=st.integers(0, 2**32 - 1))
def test_any_size_gives_consistent_arrays(h, w, seed):
    site = synthetic.simulate_site(seed, (h, w), years=(2015, 2024))
    for year in site.years:
        assert site.images[year].shape == (10, h, w) and site.images[year].dtype == np.int16
        assert site.labels[year].shape == (h, w) and site.labels[year].dtype == np.uint8
        # The label is the mining land cover, nothing else.
        mining = np.isin(site.cover[year], [int(c) for c in synthetic.MINING_COVERS])
        assert np.array_equal(site.labels[year] == 255, mining)
        assert set(np.unique(site.labels[year])) <= {0, 255}


def test_bad_sizes_and_years_are_refused(tmp_path, capsys):
    with pytest.raises(ValueError):
        synthetic.simulate_site(0, (10, 200))
    with pytest.raises(ValueError):
        synthetic.simulate_site(0, (50, 50), years=())
    for bad, message in (("2019-2016", "runs backwards"), ("20x5", "cannot read '20x5'"), ("", "names no year")):
        with pytest.raises(SystemExit):
            synthetic.main([str(tmp_path / "out"), "--years", bad])
        assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- scene content


def test_footprint_grows_pauses_and_shrinks(sims):
    areas = np.array([[(s.labels[y] > 0).sum() for y in YEARS] for s in sims])
    change = np.diff(areas, axis=1)
    assert (areas[:, -1] > 0).all()
    assert ((change > 0).sum(axis=1) >= 3).mean() >= 0.9  # mines grow over several years
    assert (change < 0).any(axis=1).sum() >= 3  # reclamation outpaces growth in some years
    assert (change == 0).any(axis=1).sum() >= 3  # and some mines pause
    assert all(not np.array_equal(s.labels[2015], s.labels[2024]) for s in sims)


def test_reclaimed_land_leaves_the_footprint_while_still_partly_bare(sims):
    found = 0
    for s in sims:
        for year in YEARS:
            reveg = s.cover[year] == Cover.REVEGETATING
            regraded = s.cover[year] == Cover.REGRADED
            assert not (s.labels[year][reveg]).any()
            assert (s.labels[year][regraded] == 255).all()
            if reveg.sum() >= 10:
                ndvi = _indices(s.images[year])["ndvi"][reveg & (s.images[year][0] > 0)]
                found += ndvi.size > 0 and np.median(ndvi) < 0.6
    assert found >= 2


def test_mines_contain_water_that_counts_as_mining(sims):
    sites_with_ponds = 0
    for s in sims:
        pixels = 0
        for year in YEARS:
            ix = _indices(s.images[year])
            water = (ix["ndwi"] > 0.2) & (ix["B8"] < 900) & (ix["B2"] > 0)
            pixels += (water & (s.labels[year] == 255)).sum()
        sites_with_ponds += pixels >= 10
    assert sites_with_ponds >= 4


def test_bare_fields_outside_mines_defeat_a_bare_soil_detector(sims):
    with_bare_fields = 0
    inter = union = 0
    for s in sims:
        bare_outside = 0
        for year in YEARS:
            ix = _indices(s.images[year])
            bare = (ix["ndvi"] < 0.25) & (ix["B11"] > ix["B8"]) & (ix["B2"] > 0) & (ix["B2"] < 2000)
            mining = s.labels[year] == 255
            bare_outside += (bare & ~mining).sum()
            inter += (bare & mining).sum()
            union += (bare | mining).sum()
        with_bare_fields += bare_outside >= 50
    assert with_bare_fields == len(sims)
    assert inter / union < 0.6


def test_clouds_haze_and_nodata_margins_occur_and_show(sims):
    cond = [(s, y, s.conditions[y]) for s in sims for y in YEARS]
    assert sum(c.haze > 0 for _, _, c in cond) >= 5
    assert sum(c.cloud_fraction > 0 for _, _, c in cond) >= 5
    assert sum(c.nodata_fraction > 0 for _, _, c in cond) >= 5
    for s, year, c in cond:
        img = s.images[year]
        nodata = (img == 0).all(axis=0)
        assert nodata.mean() == pytest.approx(c.nodata_fraction)
        assert nodata.mean() < 0.5
        # cloud: bright and flat through visible and NIR
        cloud = (img[0] > 4500) & (np.abs(img[6] / np.maximum(img[0], 1) - 1) < 0.2)
        if c.cloud_fraction == 0:
            assert cloud.sum() == 0
        elif c.cloud_fraction > 0.02:
            assert cloud.sum() > 0.3 * c.cloud_fraction * cloud.size


def test_haze_brightens_blue_more_than_swir(sims):
    checked = 0
    for s in sims:
        clear = [y for y in YEARS if s.conditions[y].haze == 0 and s.conditions[y].cloud_fraction == 0]
        for year in YEARS:
            c = s.conditions[year]
            if c.haze == 0 or c.cloud_fraction > 0 or not clear:
                continue
            forest = (s.cover[year] == Cover.FOREST) & (s.images[year][0] > 0)
            forest &= (s.images[clear[0]][0] > 0)
            hazy = s.images[year][:, forest].astype(float)
            ref = s.images[clear[0]][:, forest].astype(float)
            d_blue, d_swir = hazy[0].mean() - ref[0].mean(), hazy[9].mean() - ref[9].mean()
            assert d_blue - d_swir > 0.2 * c.haze
            checked += 1
    assert checked >= 3


def test_spectra_are_plausible(sims):
    ndvi_veg, nir_water, ndwi_water = [], [], []
    for s in sims:
        for year in YEARS:
            c = s.conditions[year]
            if c.haze or c.cloud_fraction:
                continue
            ix = _indices(s.images[year])
            valid = s.images[year][0] > 0
            veg = np.isin(s.cover[year], [Cover.FOREST, Cover.GRASS, Cover.CROP_GREEN]) & valid
            lake = (s.cover[year] == Cover.WATER) & valid
            ndvi_veg.append(ix["ndvi"][veg])
            nir_water.append(ix["B8"][lake])
            ndwi_water.append(ix["ndwi"][lake])
    assert np.concatenate(ndvi_veg).mean() > 0.6
    water = np.concatenate(nir_water)
    assert water.size > 100 and water.mean() < 500
    assert np.concatenate(ndwi_water).mean() > 0.3
    spectra = synthetic.SPECTRA
    assert spectra.shape == (len(Cover), 10) and (spectra > 0).all() and (spectra < 10000).all()


# --------------------------------------------------------------------------- CLI and speed


@pytest.mark.slow
def test_cli_writes_sites_and_prints_their_folders(tmp_path):
    out = tmp_path / "sites"
    cmd = [sys.executable, "-m", "export.synthetic", str(out), "--sites", "2", "--seed", "5",
           "--size", "95", "131", "--years", "2016,2019"]
    for _ in range(2):  # the second run overwrites
        run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        assert run.stdout.split() == [str(out / "Synthetic_1"), str(out / "Synthetic_2")]
    for site in ("Synthetic_1", "Synthetic_2"):
        names = sorted(p.name for p in (out / site / "image").iterdir())
        assert names == ["Year2016.tif", "Year2019.tif"]
        with rasterio.open(out / site / "image" / "Year2016.tif") as src:
            assert src.shape == (95, 131)
    expected = synthetic.generate_sites(tmp_path / "api", 2, 5, (95, 131), (2016, 2019))
    assert _files(expected[1]) == _files(out / "Synthetic_2")

    bad = subprocess.run(cmd[:4] + ["--years", "2019-2016"], cwd=REPO, capture_output=True, text=True)
    assert bad.returncode != 0 and "backwards" in bad.stderr


def test_module_imports_neither_torch_nor_qgis():
    code = ("import sys, export.synthetic; "
            "bad = [m for m in ('torch', 'qgis') if m in sys.modules]; assert not bad, bad")
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_a_demo_sized_site_is_fast(tmp_path):
    start = time.perf_counter()
    synthetic.generate_site(tmp_path, "Demo", seed=2015, size=(384, 320))
    # Well under 2 s on a laptop core; the bound leaves room for a loaded CI machine.
    assert time.perf_counter() - start < 6
