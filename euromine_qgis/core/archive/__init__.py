"""Annual composites from a STAC API of Sentinel-2 L2A scenes (euromine:composites): search (search),
asset signing (signing), GDAL's HTTP settings and retried reads (reading), which asset holds which band
(bands), each item's reflectance convention (harmonisation), the output grid (grid), the per-pixel
median (composite), the resume record (manifest), the sites' outlines (sites) and the run (run).

Needs pystac-client (``pip install 'euromine[archive]'``); core.app.composites imports this package
only when a run starts."""
