"""The archive tests' fixtures: the generated scenes (kept under build/test-cache/stac) and loopback
STAC APIs serving them, one per test, stopped after it."""
from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.archive.archive_runs import Api, serve
from tests.stac.catalogues import Scenes, generated
from tests.stac.scenes import SHAPES


@pytest.fixture(scope="session")
def scenes() -> Scenes:
    """Every collection shape over YEARS, written once under build/test-cache/stac."""
    return generated(SHAPES)


@pytest.fixture(scope="session")
def contradicted() -> Scenes:
    """Earth Search's sentinel-2-l2a with one 2023 item whose metadata contradicts its pixels."""
    return generated(("earth-search-l2a",), years=(2023,), contradiction=True)


@pytest.fixture
def api(scenes) -> Iterator[Callable[..., Api]]:
    """``api(shape)``: a loopback API of that shape (``scenes`` or another Scenes given), stopped after the test."""
    started: list[Api] = []

    def start(shape: str, source: Scenes | None = None) -> Api:
        source = source or scenes
        made = serve(source.shapes[shape], source.root)
        started.append(made)
        return made

    yield start
    for made in started:
        made.server.stop()


