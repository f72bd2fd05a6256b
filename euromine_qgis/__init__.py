"""EuroMine for QGIS: mining footprints, change and CA-TIoU from annual Sentinel-2 imagery."""


def classFactory(iface):
    """Entry point QGIS calls to load the plugin."""
    from .plugin import EuroMinePlugin

    return EuroMinePlugin(iface)
