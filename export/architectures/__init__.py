"""Model families for EuroMine: footprint, change and series architectures, by name.

Importing this package registers every family; ``get(name).build(...)`` makes one.
"""
from export.architectures import change, footprint, series  # noqa: F401  (register on import)
from export.architectures.registry import ARCHITECTURES, TASKS, Architecture, get, register

__all__ = ["ARCHITECTURES", "TASKS", "Architecture", "get", "register"]
