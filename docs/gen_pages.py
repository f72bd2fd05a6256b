"""The docs site's generated pages, written by mkdocs-gen-files when the site is built (never
committed): the model cards and the change routes from models_onnx/models.json, and the algorithm
reference from the algorithms' specs (euromine_qgis.core.app's catalog and the installer's spec in
euromine_qgis.dependencies)."""
from __future__ import annotations

import mkdocs_gen_files

from euromine_qgis.core.app.catalog import SPECS
from euromine_qgis.core.app.reference import algorithm_pages
from euromine_qgis.core.engine.bundled import bundled_models
from euromine_qgis.core.engine.change_routes import recorded_routes
from euromine_qgis.core.engine.model_cards import cards_page, routes_page
from euromine_qgis.dependencies.spec import SPEC as INSTALLER

REFERENCE = "reference/algorithms"


def write(path: str, text: str) -> None:
    """One generated page of the site."""
    with mkdocs_gen_files.open(path, "w") as page:
        page.write(text)


def write_reference(pages: dict[str, str]) -> None:
    """The algorithm reference under REFERENCE; literate-nav lists the folder (its index first)."""
    for name, text in pages.items():
        write(f"{REFERENCE}/{name}", text)


write_reference(algorithm_pages((*SPECS, INSTALLER)))  # every algorithm of the toolbox, the installer too
write("models/cards.md", cards_page(bundled_models()))
write("models/change-routes.md", routes_page(recorded_routes()))
