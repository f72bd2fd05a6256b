"""The settings a test runs with where it does not vary them: those of a plain run (the
algorithms' defaults, declared in euromine_qgis/core/app), written here once for the tests."""
from dataclasses import replace

from euromine_qgis.core.batch.sites import SiteOptions
from euromine_qgis.core.engine.inference import TileSettings
from euromine_qgis.core.engine.scaling import ImageInput

# tile and overlap from the model's receptive field, the batch size chosen for the provider
AUTO_TILES = TileSettings(batch_size=0)
# bands by name or in order, values as they are (SCALE 1)
PLAIN_INPUT = ImageInput(scale=1.0)
# map_footprints' and check_run's settings
PLAIN_FOOTPRINTS = {"threshold": 0.5, "settings": AUTO_TILES, "temporal_filter": "none", "min_area_ha": 0.0,
                    "image_input": PLAIN_INPUT}
PLAIN_SITES = SiteOptions(threshold=0.5, settings=AUTO_TILES, temporal_filter="none", pairs="consecutive", lam=0.5,
                          site_reports=True, image_input=PLAIN_INPUT, min_area_ha=0.0)


def site_options(**changed) -> SiteOptions:
    """PLAIN_SITES with the ``changed`` fields."""
    return replace(PLAIN_SITES, **changed)
