"""Change architectures: (before, after), each (N, C, H, W) -> (N, K, H, W) change logits."""
