"""export.data: the release layout and its quirks, read the way training sees it."""
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.errors import NotGeoreferencedWarning

pytest.importorskip("torch")

from euromine_qgis.core import release
from euromine_qgis.core.io import layout
from export.data import (
    ChangePairs,
    DataError,
    FootprintPatches,
    SeriesStacks,
    holdout_split,
    load_site,
    training_sites,
)
from export.synthetic import generate_site

YEARS = (2016, 2017, 2018)


@pytest.fixture(scope="module")
def release_like(tmp_path_factory):
    """Three sites named as in the release (one of them excluded by it), one smaller than a patch."""
    root = tmp_path_factory.mktemp("release")
    generate_site(root, release.SPLITS["train"][0], seed=1, size=(180, 170), years=YEARS)
    generate_site(root, release.SPLITS["val"][0], seed=2, size=(97, 130), years=YEARS)
    generate_site(root, release.EXCLUDED[0], seed=3, size=(64, 64), years=YEARS)
    return root


def test_excluded_sites_are_skipped_and_splits_select(release_like):
    names = [s.name for s in training_sites(release_like)]
    assert release.EXCLUDED[0] not in names and len(names) == 2
    with pytest.raises(DataError, match="no site folder for"):
        training_sites(release_like, split="train")  # the other train sites are not here
    (val,) = training_sites(release_like, names=[release.SPLITS["val"][0]])
    assert val.years == YEARS and val.synthetic.startswith("export.synthetic")


def test_labels_without_crs_take_the_image_grid_and_255_is_mining(release_like):
    site = training_sites(release_like)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(site.label(2016)) as lab, rasterio.open(site.image(2016)) as img:
            assert lab.crs is None and img.crs is not None and set(np.unique(lab.read(1))) <= {0, 255}
            expected = lab.read(1) == 255
    arrays = load_site(site)
    assert arrays.images.dtype == np.int16 and arrays.images.shape[:2] == (3, 10)
    np.testing.assert_array_equal(arrays.labels[0], expected)


def test_label_on_another_grid_is_an_error(tmp_path, release_like):
    site_dir = tmp_path / "Austria_1"
    shutil.copytree(release_like / release.SPLITS["train"][0], site_dir)
    label = site_dir / "label" / "Year2017.tif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(label, "w", driver="GTiff", height=5, width=5, count=1, dtype="uint8") as dst:
            dst.write(np.zeros((1, 5, 5), np.uint8))
    with pytest.raises(DataError, match=r"Year2017.tif: label is 5x5"):
        load_site(training_sites(tmp_path)[0])


def test_small_site_is_padded_and_padding_ignored(release_like):
    small = training_sites(release_like, names=[release.SPLITS["val"][0]])  # 97 x 130
    data = FootprintPatches(small, patch=160)
    assert len(data) == 3  # one patch, three years
    sample = data[0]
    image, mask, valid = sample["image"], sample["mask"], sample["valid"]
    assert image.shape == (10, 160, 160) and image.dtype == np.float32 and mask.shape == valid.shape == (160, 160)
    assert not valid[97:, :].any() and not valid[:, 130:].any()
    assert np.isin(mask, [0, 1]).all() and mask.dtype == np.int64 and valid.dtype == bool
    assert np.isfinite(image).all()


def test_nodata_is_ignored_and_zero_after_normalization(tmp_path, release_like):
    site_dir = tmp_path / release.SPLITS["train"][0]
    shutil.copytree(release_like / release.SPLITS["train"][0], site_dir)
    with rasterio.open(site_dir / "image" / "Year2016.tif", "r+") as dst:
        data = dst.read()
        data[:, :5] = dst.nodata
        dst.write(data)
    sites = training_sites(tmp_path)
    arrays = load_site(sites[0])
    sample = FootprintPatches(sites, patch=96)[0]  # first patch of 2016
    assert not arrays.valid[0, :5].any()
    assert (sample["image"][:, :5] == 0).all() and not sample["valid"][:5].any()
    np.testing.assert_array_equal(sample["valid"], arrays.valid[0, :96, :96])


def test_a_label_nodata_value_is_not_valid(tmp_path, release_like):
    site_dir = tmp_path / release.SPLITS["train"][0]
    shutil.copytree(release_like / release.SPLITS["train"][0], site_dir)
    label = site_dir / "label" / "Year2016.tif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(label, "r+") as dst:
            data = dst.read(1)
            data[:4] = 7
            dst.write(data, 1)
            dst.nodata = 7
    arrays = load_site(training_sites(tmp_path)[0])
    assert not arrays.valid[0, :4].any() and not arrays.labels[0, :4].any()


def test_change_pairs_are_the_absolute_label_difference(release_like):
    sites = training_sites(release_like)[:1]
    pairs = ChangePairs(sites, patch=96)
    arrays = load_site(sites[0])
    assert len(pairs) == len(pairs.index) * 3  # 3 pairs of 3 years per patch
    sample = pairs[1]  # first patch, years 2016 -> 2018
    both = arrays.valid[0, :96, :96] & arrays.valid[2, :96, :96]
    expected = np.abs(arrays.labels[2, :96, :96].astype(int) - arrays.labels[0, :96, :96])
    np.testing.assert_array_equal(sample["mask"], expected)
    np.testing.assert_array_equal(sample["valid"], both)
    assert sample["image"].shape == (2, 10, 96, 96)
    np.testing.assert_array_equal(sample["image"][1], FootprintPatches(sites, patch=96)[2]["image"])  # after = 2018


def test_series_stacks_hold_every_year(release_like):
    stacks = SeriesStacks(training_sites(release_like), patch=96, stride=64)
    sample = stacks[0]
    assert sample["image"].shape == (3, 10, 96, 96) and sample["mask"].shape == sample["valid"].shape == (3, 96, 96)


def test_site_layout_comes_from_core(release_like):
    site = training_sites(release_like)[0]
    assert site.image(2016) == layout.image_path(site.root, 2016)
    assert site.label(2016) == layout.label_path(site.root, 2016)


def test_holdout_split_is_site_disjoint(sites):
    train, val = holdout_split(training_sites(sites[0].parent), every=2)
    assert {s.name for s in train}.isdisjoint({s.name for s in val}) and train and val


@pytest.mark.slow
def test_the_training_data_loader_needs_no_onnxruntime():
    code = "import sys, export.data; assert 'onnxruntime' not in sys.modules, 'onnxruntime was imported'"
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
