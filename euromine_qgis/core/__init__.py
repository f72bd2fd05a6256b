"""QGIS-free engine of EuroMine: numpy, rasterio (GDAL), onnxruntime for the models, pyproj for
the ellipsoid of a CRS in area sums, and matplotlib for the plots of the HTML report.

Usable from any Python process (servers, workers) without QGIS. Never imports qgis, osgeo or
torch. Subpackages by concern: io (files, grids, areas), engine (models and inference), maps
(footprints and change), scoring (metrics and reports), batch (many sites in one run).
"""
