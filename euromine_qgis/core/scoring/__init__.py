"""Scores against references: the metrics and CA-TIoU, evaluation of rasters, and the reports and summaries."""
