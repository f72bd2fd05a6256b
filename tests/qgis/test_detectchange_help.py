"""The help of euromine:detectchange names the METHOD the recorded change-route measurements favour,
for each interval length, from models.json."""
from qgis.core import QgsApplication

from euromine_qgis.core.engine.change_routes import INTERVAL_NAMES, favoured_methods, recorded_routes


def test_help_names_the_favoured_method_per_interval(euromine_provider):
    text = QgsApplication.processingRegistry().algorithmById("euromine:detectchange").shortHelpString()
    assert "{change_routes}" not in text
    favoured = favoured_methods(recorded_routes())
    assert set(favoured) == set(INTERVAL_NAMES)
    for interval, (route, f1) in favoured.items():
        method, model = route.split(":")
        assert f"{INTERVAL_NAMES[interval]}: <code>{method}</code> with <b>{model}</b>, change F1 {f1:.3f}" in text
