"""EuroMine for QGIS: mining footprints, change and CA-TIoU from annual Sentinel-2 imagery."""


def classFactory(iface):  # noqa: N802 (name required by QGIS)
    """Entry point QGIS calls to load the plugin."""
    from .plugin import EuroMinePlugin

    return EuroMinePlugin(iface)
