"""QGIS-free engine of EuroMine: numpy, onnxruntime and rasterio only.

Usable from any Python process (servers, workers) without QGIS. Never imports qgis or torch.
"""
