"""matplotlib figures for the reports and small multiples, drawn with Agg (no pyplot).

matplotlib is imported inside these functions, when something is drawn, not with the modules that
draw: loading it costs more than a small mapping run, and most commands draw nothing
(tests/unit/test_lazy_imports.py)."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure


def new_figure(**options: Any) -> Figure:
    """A matplotlib Figure with ``options`` (figsize, dpi, layout, ...)."""
    from matplotlib.figure import Figure

    return Figure(**options)


def print_png(fig: Figure, target: Path | str | IO[bytes]) -> None:
    """Render ``fig`` as PNG into the file or binary stream ``target``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).print_png(str(target) if isinstance(target, Path) else target)


def colormap(colours: Sequence[str]) -> ListedColormap:
    """A colormap of ``colours``, one per integer code from 0."""
    from matplotlib.colors import ListedColormap

    return ListedColormap(list(colours))
