"""A pytest plugin for `make test-qgis QGIS=3.44` (``-p tests.deprecations_as_errors``): a deprecation
warning raised from the plugin's own code, in any euromine_qgis module, fails the test. Pending ones
count too: affine's "Use `@` matmul instead of `*`" is a PendingDeprecationWarning."""
from __future__ import annotations

import pytest

# An ini filter's module is a regular expression matched at the start of the warning's module, so it
# takes every submodule (euromine_qgis.core.io.area); `-W` on the command line matches one module exactly.
FILTERS = ("error::DeprecationWarning:euromine_qgis", "error::PendingDeprecationWarning:euromine_qgis")


def pytest_configure(config: pytest.Config) -> None:
    for line in FILTERS:
        config.addinivalue_line("filterwarnings", line)
