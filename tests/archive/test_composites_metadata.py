"""An item whose harmonisation metadata contradicts its pixels (Earth Search's sentinel-2-l2a issues
#66 and #71: ``earthsearch:boa_offset_applied`` false at baseline 05.11 while the offset is already
gone from the values) is named in a warning; the run goes on."""
from __future__ import annotations

import pytest

from tests.archive.archive_runs import SITE, composites

pytestmark = pytest.mark.slow  # the command in a process of its own, reading over HTTP


def test_the_contradicting_item_is_named(api, contradicted, tmp_path):
    served = api("earth-search-l2a-contradiction", contradicted)
    [wrong] = [w for w in served.shape.written if w.contradicts]
    out = tmp_path / "out"
    done = composites(served, out, "2023")
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / SITE / "image" / "Year2023.tif").is_file()
    warnings = [line for line in done.stderr.splitlines() if "metadata" in line.lower()]
    assert any(wrong.item_id in line for line in warnings), \
        f"no warning names {wrong.item_id}:\n" + "\n".join(done.stderr.splitlines()[-40:])
    others = {w.item_id for w in served.shape.written if not w.contradicts}
    assert not [line for line in warnings if any(i in line for i in others)], \
        f"only {wrong.item_id} contradicts its metadata: {warnings}"
