"""Processing algorithms: parameters -> core call -> outputs. No numerics here."""
