"""Translation of the text the plugin shows: one context for the whole plugin."""
from __future__ import annotations

from qgis.PyQt.QtCore import QCoreApplication

CONTEXT = "EuroMine"


def tr(text: str) -> str:
    """``text`` in the user's language where a translation of the plugin is installed.

    Placeholders stay in the translated text (``tr("Footprint {year}").format(year=...)``), so a
    translator sees whole sentences.
    """
    return QCoreApplication.translate(CONTEXT, text)
