"""export.data: the release layout and its quirks, read the way training sees it."""
import shutil
import warnings

import numpy as np
import pytest
import rasterio
from rasterio.errors import NotGeoreferencedWarning

pytest.importorskip("torch")

from euromine_qgis.core import release  # noqa: E402
from export.data import (  # noqa: E402
    IGNORE,
    ChangePairs,
    DataError,
    FootprintPatches,
    SeriesStacks,
    discover_sites,
    holdout_split,
    load_site,
)
from export.synthetic import generate_site  # noqa: E402

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
    names = [s.name for s in discover_sites(release_like)]
    assert release.EXCLUDED[0] not in names and len(names) == 2
    with pytest.raises(DataError, match="no site folder for"):
        discover_sites(release_like, split="train")  # the other train sites are not here
    (val,) = discover_sites(release_like, names=[release.SPLITS["val"][0]])
    assert val.years == YEARS and val.synthetic.startswith("export.synthetic")


def test_labels_without_crs_take_the_image_grid_and_255_is_mining(release_like):
    site = discover_sites(release_like)[0]
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
        load_site(discover_sites(tmp_path)[0])


def test_small_site_is_padded_and_padding_ignored(release_like):
    small = discover_sites(release_like, names=[release.SPLITS["val"][0]])  # 97 x 130
    data = FootprintPatches(small, patch=160)
    assert len(data) == 3  # one patch, three years
    image, target = data[0]
    assert image.shape == (10, 160, 160) and image.dtype == np.float32 and target.shape == (160, 160)
    assert (target[97:, :] == IGNORE).all() and (target[:, 130:] == IGNORE).all()
    assert np.isin(target[:97, :130], [0, 1, IGNORE]).all()
    assert np.isfinite(image).all()


def test_nodata_is_ignored_and_zero_after_normalization(release_like):
    sites = discover_sites(release_like)
    arrays = load_site(sites[0])
    data = FootprintPatches(sites[:1], patch=96)
    invalid = ~arrays.valid[0, :96, :96]
    image, target = data[0]
    if invalid.any():
        assert (target[invalid] == IGNORE).all() and (image[:, invalid] == 0).all()
    assert (target[~invalid] != IGNORE).all()


def test_change_pairs_are_the_absolute_label_difference(release_like):
    sites = discover_sites(release_like)[:1]
    pairs = ChangePairs(sites, patch=96)
    arrays = load_site(sites[0])
    assert len(pairs) == len(pairs.index) * 3  # 3 pairs of 3 years per patch
    before, after, change = pairs[1]  # first patch, years 2016 -> 2018
    both = arrays.valid[0, :96, :96] & arrays.valid[2, :96, :96]
    expected = np.abs(arrays.labels[2, :96, :96].astype(int) - arrays.labels[0, :96, :96])
    np.testing.assert_array_equal(change[both], expected[both])
    assert (change[~both] == IGNORE).all() and before.shape == after.shape == (10, 96, 96)


def test_series_stacks_hold_every_year(release_like):
    stacks = SeriesStacks(discover_sites(release_like), patch=96, stride=64)
    images, targets = stacks[0]
    assert images.shape == (3, 10, 96, 96) and targets.shape == (3, 96, 96)


def test_holdout_split_is_site_disjoint(sites):
    train, val = holdout_split(discover_sites(sites[0].parent), every=2)
    assert {s.name for s in train}.isdisjoint({s.name for s in val}) and train and val
