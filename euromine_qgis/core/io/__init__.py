"""Raster files in and out: strict reads, grids, masks, areas, the EuroMineNet folder layout, safe outputs."""
