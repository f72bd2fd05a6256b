"""Running models: the model contract, the onnxruntime session, execution providers and devices, tiled inference."""
