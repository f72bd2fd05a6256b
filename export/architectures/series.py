"""Series architectures: (N, T, C, H, W) -> (N, T, K, H, W), all years seen at once."""
