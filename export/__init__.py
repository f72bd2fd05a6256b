"""PyTorch side of EuroMine: model definitions and ONNX export (the only place torch is imported)."""
