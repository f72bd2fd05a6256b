from pathlib import Path

import pytest

from euromine_qgis.core.errors import YearsError
from euromine_qgis.core.years import match_years, parse_years, year_from_name


@pytest.mark.parametrize(
    "text, years",
    [
        ("2015-2024", list(range(2015, 2025))),
        ("2016,2019", [2016, 2019]),
        (" 2019 , 2016 ,2016", [2016, 2019]),
        ("2015-2017, 2020", [2015, 2016, 2017, 2020]),
        ("2018 - 2019;2022", [2018, 2019, 2022]),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_parse_years(text, years):
    assert parse_years(text) == years


@pytest.mark.parametrize("text", ["2024-2015", "twenty", "2015-", "15", "2015..2017", "2015-2017-2019"])
def test_parse_years_rejects(text):
    with pytest.raises(YearsError, match=text.split("-")[0] if text[0].isdigit() else text):
        parse_years(text)


@pytest.mark.parametrize(
    "name, year",
    [
        ("Year2016.tif", 2016),
        ("/data/Spain_1/image/Year2024.tif", 2024),
        ("S2_2019_site.tif", 2019),
        ("site-2015-mosaic.tif", 2015),
        ("Year2016_2016.tif", 2016),
        ("tile_120194.tif", None),
        ("no_year.tif", None),
        ("2015_to_2016.tif", None),
        ("site_1979.tif", None),
    ],
)
def test_year_from_name(name, year):
    assert year_from_name(name) == year


def test_match_years_sorts_and_selects():
    paths = [Path(f"/d/Year{y}.tif") for y in (2018, 2015, 2016)]
    assert [y for y, _ in match_years(paths, None)] == [2015, 2016, 2018]
    assert match_years(paths, [2016]) == [(2016, Path("/d/Year2016.tif"))]


def test_match_years_uses_layer_names_when_files_have_none():
    out = match_years([Path("/d/a.tif"), Path("/d/b.tif")], None, names=["mosaic 2017", "mosaic 2016"])
    assert out == [(2016, Path("/d/b.tif")), (2017, Path("/d/a.tif"))]


def test_match_years_errors_name_the_problem():
    with pytest.raises(YearsError, match=r"year 2016 appears twice: .*a_2016.tif and .*b_2016.tif"):
        match_years([Path("a_2016.tif"), Path("b_2016.tif")], None)
    with pytest.raises(YearsError, match=r"no image for year\(s\) 2020; the inputs hold 2015, 2016"):
        match_years([Path("Year2015.tif"), Path("Year2016.tif")], [2015, 2020])
    with pytest.raises(YearsError, match=r"scene.tif: no single year"):
        match_years([Path("scene.tif")], None)
    with pytest.raises(YearsError, match="no input images"):
        match_years([], None)
