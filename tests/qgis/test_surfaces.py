"""The surfaces generated from the specs agree: every parameter QGIS shows and every flag of the
command has the spec's default, choices, bounds, optionality and advanced flag, and each side
has exactly the parameters the spec gives it."""
from __future__ import annotations

import argparse

import pytest
from qgis.core import QgsApplication, QgsProcessing, QgsProcessingParameterDefinition

from euromine_qgis.cli.main import build_parser
from euromine_qgis.core.app.catalog import SPECS
from euromine_qgis.core.app.models import model_default
from euromine_qgis.core.app.spec import CLI, DESTINATIONS, QGIS, AlgorithmSpec, Kind, Param
from euromine_qgis.dependencies.spec import SPEC as INSTALLER
from euromine_qgis.qgis_compat import FLAG_ADVANCED, FLAG_OPTIONAL

ALL = (*SPECS, INSTALLER)


def _subcommand(spec: AlgorithmSpec) -> argparse.ArgumentParser:
    actions = build_parser()._subparsers._group_actions[0]  # the subcommands, by name
    return actions.choices[spec.id]


def _expected_default(p: Param) -> object:
    if p.kind is Kind.MODEL:
        return model_default(p)
    if p.kind in DESTINATIONS:
        return QgsProcessing.TEMPORARY_OUTPUT if p.temporary else None
    return p.default or None if p.kind is Kind.TEXT else p.default


@pytest.mark.parametrize("spec", [s for s in ALL if QGIS in s.surfaces], ids=lambda s: s.id)
def test_the_processing_parameters_are_the_specs(euromine_provider, spec):
    algorithm = QgsApplication.processingRegistry().algorithmById(f"euromine:{spec.id}")
    definitions = {d.name(): d for d in algorithm.parameterDefinitions()}
    assert list(definitions) == [p.name for p in spec.on(QGIS)]
    for p in spec.on(QGIS):
        d: QgsProcessingParameterDefinition = definitions[p.name]
        assert d.defaultValue() == _expected_default(p), p.name
        assert bool(d.flags() & FLAG_ADVANCED) == p.advanced, p.name
        assert bool(d.flags() & FLAG_OPTIONAL) == (p.optional or (p.kind in DESTINATIONS and p.temporary)), p.name
        if p.kind is Kind.CHOICE:
            assert tuple(d.options()) == p.choices, p.name
        if p.kind in (Kind.NUMBER, Kind.INTEGER):
            assert (p.minimum is None or d.minimum() == p.minimum) and (p.maximum is None or d.maximum() == p.maximum)
        assert p.name in algorithm.shortHelpString(), f"{spec.id}: the help does not explain {p.name}"


@pytest.mark.parametrize("spec", [s for s in ALL if CLI in s.surfaces], ids=lambda s: s.id)
def test_the_commands_flags_are_the_specs(spec):
    actions = {a.dest: a for a in _subcommand(spec)._actions if a.dest not in ("help", "json")}
    assert list(actions) == [p.attribute for p in spec.on(CLI)]
    for p in spec.on(CLI):
        action = actions[p.attribute]
        assert action.option_strings == [p.flag] or (p.kind is Kind.FLAG and p.flag in action.option_strings)
        if p.kind not in (*DESTINATIONS, Kind.RASTERS, Kind.RASTER, Kind.FOLDER, Kind.FILE):
            assert action.default == (model_default(p) if p.kind is Kind.MODEL else (p.default or "")
                                      if p.kind is Kind.TEXT else p.default), p.name
        if p.kind is Kind.CHOICE:
            assert tuple(action.choices) == p.choices, p.name
        # a destination QGIS fills with a temporary file is required of the command, unless optional
        assert action.required == (not p.optional and p.kind in (*DESTINATIONS, Kind.RASTERS, Kind.RASTER,
                                                                  Kind.FOLDER, Kind.FILE)), p.name


def test_each_side_has_the_parameters_the_spec_gives_it():
    for spec in ALL:
        qgis_only = {p.name for p in spec.params if p.surfaces == frozenset({QGIS})}
        assert qgis_only <= {"VECTOR_OUTPUT", "FOOTPRINT_POLYGONS", "SITES_LAYER", "NAME_FIELD", "MOSAICS",
                             "EXTENT"}, spec.id
        # the command's areas where QGIS has EXTENT and SITES_LAYER (composites)
        cli_only = {p.name for p in spec.params if p.surfaces == frozenset({CLI})}
        assert cli_only <= {"BBOX", "SITES"}, spec.id
