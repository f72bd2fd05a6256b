# EuroMine for QGIS — the commands of the README and the docs site. Root on Debian 12.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
PY        := $(VENV)/bin/python
STAMP     := $(VENV)/.euromine-env
# proj-bin: Debian's pyproj finds PROJ's data (for the core's area maths) from inside the venv through it
# not python3-distributed: Debian 12's 2022.12 cannot talk to current Dask workers; requirements.txt pins
# dask[distributed] (the workers' version) into .venv instead (docs/user-guide/clusters.md)
# python3-venv: `python3 -m venv` for .venv and for the tests' clean numpy-2 venv of the euromine command (build/cli-venv)
# python3-pip: the pip of QGIS's own Python, which the plugin's dependency installer runs (tests/e2e)
APT_PKGS  := qgis python3-qgis qgis-providers python3-rasterio python3-pyproj proj-bin python3-scipy python3-matplotlib zip chromium \
             xvfb xauth python3-venv python3-pip
BUILD     := build
DIST      := dist
PLUGIN    := euromine_qgis
DEMO_DIR  := $(BUILD)/demo

# Headless QGIS everywhere; qgis_process.bin sees the venv only through PYTHONPATH.
export QT_QPA_PLATFORM := offscreen
export PYTHONDONTWRITEBYTECODE := 1
VENV_SITE = $(shell $(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' 2>/dev/null)

.PHONY: help env demo test check test-latest bench zip models zoo screenshot clean docs

help:
	@echo "make demo   set everything up and map the bundled sample site through QGIS Processing"
	@echo "make test   set everything up and run the whole test suite"
	@echo "make check  the fast tests only (not slow; about a minute), for iterating"
	@echo "make lint   ruff on the repository and strict mypy on euromine_qgis/core (part of make test)"
	@echo "make docs   build the docs site strictly into $(BUILD)/site (mkdocs.yml; make test builds it too)"
	@echo "make test-latest  the command's numpy-2 tests on the newest releases of its dependencies"
	@echo "make bench  performance benchmarks (not part of make test)"
	@echo "make zip    build the installable plugin zip into $(DIST)/"
	@echo "make models re-export the spectral baseline (needs torch, installed by make env)"
	@echo "make zoo    retrain, re-measure and re-register the bundled trained models (long)"
	@echo "make benchmark DATA=dir [DEVICE=cuda]  train, export, measure and rank every architecture into BENCHMARK_OUT"
	@echo "make screenshot  QGIS under Xvfb: toolbox and Map mining footprints dialog -> docs/qgis_toolbox.png"
	@echo "make gpu-check   GPU tests and figures on an NVIDIA GPU into GPU_OUT (docs/gpu-check/README.md)"
	@echo "make gpu-wheels  the wheels gpu-check needs on the lent GPU machine, split for its calls"
	@echo "make test-qgis QGIS=3.44|3.40  the QGIS-facing tests on QGIS 3.44 LTR or 3.40, each in a Debian chroot built once"
	@echo "make qgis-chroot QGIS=3.44|3.40  only build that chroot under QGIS_CHROOTS (make test-qgis does when it is missing)"

# TORCH=auto: PyTorch's CUDA build where an NVIDIA GPU is found, the CPU build elsewhere (CI); or cpu|cuda
TORCH ?= auto
env: $(STAMP)
	@TORCH=$(TORCH) $(PY) scripts/torch_build.py --install

# apt only when a package is missing, so a set-up machine is not touched again.
$(STAMP): Makefile requirements.txt requirements-dev.txt requirements-export.txt
	@missing=$$(for p in $(APT_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "apt: installing $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@[ -x $(PY) ] || /usr/bin/python3 -m venv --system-site-packages $(VENV)
	@# this machine's pip config names local indexes that may be absent: drop those warnings only
	set -o pipefail; $(PY) -m pip install -q --disable-pip-version-check -r requirements.txt -r requirements-dev.txt \
	  -r requirements-export.txt 2>&1 | { grep -v "^WARNING: Location 'file:" || true; }
	@# numpy 2 kept apart, only for the test that shows the plugin's message under a numpy-1 GDAL
	set -o pipefail; $(PY) -m pip install -q --disable-pip-version-check --no-deps --target $(VENV)/numpy2 \
	  'numpy==2.2.6' 2>&1 | { grep -v "^WARNING: Location 'file:" || true; }
	@$(PY) -c 'import numpy, osgeo.gdal_array, rasterio, onnxruntime, qgis.core; assert numpy.__version__.startswith("1."), numpy.__version__'
	@touch $@

# pb_tool deploys into $(BUILD)/plugins and zips that folder; the zip is what users install.
# SETUP= with VENV=a venv set up elsewhere (make test-qgis's chroots) builds it without make env.
SETUP := env
zip: $(SETUP)
	rm -rf $(BUILD)/plugins $(DIST)/$(PLUGIN).zip && mkdir -p $(DIST)
	cd $(PLUGIN) && $(abspath $(VENV))/bin/pb_tool zip --quick --no-docs --config_file ../pb_tool.cfg \
	  --plugin_path $(abspath $(BUILD))/plugins > /dev/null
	mv $(PLUGIN)/$(PLUGIN).zip $(DIST)/
	@echo "plugin zip: $(abspath $(DIST))/$(PLUGIN).zip"

models: env
	$(PY) -m export.spectral --out models_onnx

# Retrain and re-measure the bundled trained models from scratch (about 1.5 h on 2 CPU cores;
# add DEVICE=cuda on a GPU). Generated sites: training seed 1000, validation 2000, held-out 3000, and the
# domain-shift held-out sites: seed 5000 with the shifted generator settings (docs/models/index.md).
ZOO    := $(BUILD)/zoo
DEVICE ?= cpu
FC_SIAM_DIFF_TEXT := Binary change between two years (before, after): FC-Siam-diff, a Siamese U-Net-style encoder \
  whose decoder takes the absolute difference of the two dates' skips (width 16), 10 Sentinel-2 bands, benchmark \
  normalization. euromine:detectchange splits its change into gain and loss with a footprint model.
zoo: env
	rm -rf $(ZOO) && mkdir -p $(ZOO)/runs $(ZOO)/val_change
	$(PY) -m export.synthetic $(ZOO)/train --sites 20 --seed 1000 > /dev/null
	$(PY) -m export.synthetic $(ZOO)/val --sites 6 --seed 2000 > /dev/null
	$(PY) -m export.synthetic $(ZOO)/test --sites 8 --seed 3000 > /dev/null
	$(PY) -m export.synthetic $(ZOO)/shift --sites 6 --seed 5000 --domain shifted > /dev/null
	ln -s ../val/Synthetic_2 ../val/Synthetic_3 $(ZOO)/val_change/
	$(PY) -m export.train --arch unet --width 16 --data $(ZOO)/train --val-data $(ZOO)/val --epochs 4 \
	  --samples-per-epoch 512 --batch-size 8 --patch 96 --stride 64 --seed 1 --device $(DEVICE) --out $(ZOO)/runs/unet.pt
	$(PY) -m export.train --arch utae --width 16 --init $(ZOO)/runs/unet.pt --data $(ZOO)/train --val-data $(ZOO)/val \
	  --epochs 2 --samples-per-epoch 96 --batch-size 2 --patch 96 --stride 64 --lr 5e-4 --seed 1 --device $(DEVICE) \
	  --out $(ZOO)/runs/utae.pt
	$(PY) -m export.train --arch fc_siam_diff --data $(ZOO)/train --val-data $(ZOO)/val_change --epochs 4 \
	  --samples-per-epoch 640 --batch-size 8 --patch 96 --stride 64 --seed 1 --device $(DEVICE) --out $(ZOO)/runs/fc_siam_diff.pt
	$(PY) -m export.zoo measure spectral_baseline --test-data $(ZOO)/test
	$(PY) -m export.zoo add $(ZOO)/runs/unet.pt --name unet_footprint --display-name "U-Net footprint model" --test-data $(ZOO)/test
	$(PY) -m export.zoo add $(ZOO)/runs/utae.pt --name utae_series --display-name "U-TAE series model (all years at once)" --test-data $(ZOO)/test
	$(PY) -m export.zoo add $(ZOO)/runs/fc_siam_diff.pt --name fc_siam_diff_change --display-name "FC-Siam-diff change model" \
	  --description "$(FC_SIAM_DIFF_TEXT)" --version 1.1.0 --test-data $(ZOO)/test
	$(PY) -m export.zoo routes --test-data $(ZOO)/test --shift-data $(ZOO)/shift
	for name in spectral_baseline unet_footprint utae_series fc_siam_diff_change; do \
	  $(PY) -m export.zoo variant $$name --precision int8 --calibration-data $(ZOO)/train --test-data $(ZOO)/test || exit 1; \
	done

# The benchmark table (docs/benchmark.md): every architecture trained on DATA's train split, selected on
# its val split, exported with the parity check and measured on its test split by the plugin's engine.
# Resumable: an architecture whose folder under BENCHMARK_OUT verifies is not trained again.
BENCHMARK_OUT  ?= $(BUILD)/benchmark
ARCHS          ?= all
TASKS          ?= footprint,change,series
EPOCHS         ?= 20
SEED           ?= 0
.PHONY: benchmark
benchmark: env
	@[ -n "$(DATA)" ] || { echo "make benchmark needs DATA=folder of sites (the EuroMineNet release or generated sites)"; exit 2; }
	$(PY) -m export.benchmark --data $(DATA) --archs $(ARCHS) --tasks $(TASKS) --epochs $(EPOCHS) \
	  --device $(DEVICE) --seed $(SEED) --out $(BENCHMARK_OUT) $(BENCHMARK_ARGS)

demo: zip
	rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR)/home
	$(PY) -m export.synthetic $(DEMO_DIR)/sites --sites 1 --seed 2015 --size 384 320
	HOME=$(abspath $(DEMO_DIR)/home) QGIS_PLUGINPATH=$(abspath $(BUILD)/plugins) PYTHONPATH=$(VENV_SITE) \
	  /usr/bin/qgis_process.bin plugins enable $(PLUGIN) > /dev/null
	HOME=$(abspath $(DEMO_DIR)/home) QGIS_PLUGINPATH=$(abspath $(BUILD)/plugins) PYTHONPATH=$(VENV_SITE) \
	  /usr/bin/qgis_process.bin run euromine:mapfootprints -- \
	  $$(for f in $(DEMO_DIR)/sites/*/image/Year*.tif; do printf ' IMAGES=%s' "$(abspath .)/$$f"; done) \
	  MODEL=unet_footprint OUTPUT_FOLDER=$(abspath $(DEMO_DIR)/footprints)
	HOME=$(abspath $(DEMO_DIR)/home) QGIS_PLUGINPATH=$(abspath $(BUILD)/plugins) PYTHONPATH=$(VENV_SITE) \
	  /usr/bin/qgis_process.bin run euromine:evaluate -- \
	  $$(for f in $(DEMO_DIR)/footprints/footprint_*.tif; do printf ' PREDICTIONS=%s' "$(abspath .)/$$f"; done) \
	  $$(for f in $(DEMO_DIR)/sites/Synthetic_1/label/Year*.tif; do printf ' REFERENCES=%s' "$(abspath .)/$$f"; done) \
	  PAIRS=all TABLE=$(abspath $(DEMO_DIR)/evaluation.csv) REPORT=$(abspath $(DEMO_DIR)/report.html)
	@echo "evaluation table: $(abspath $(DEMO_DIR)/evaluation.csv)"
	@echo "evaluation report (open in a browser): $(abspath $(DEMO_DIR)/report.html)"
	HOME=$(abspath $(DEMO_DIR)/home) QGIS_PLUGINPATH=$(abspath $(BUILD)/plugins) PYTHONPATH=$(VENV_SITE) \
	  /usr/bin/qgis_process.bin run euromine:changelayers -- \
	  $$(for f in $(DEMO_DIR)/footprints/footprint_*.tif; do printf ' FOOTPRINTS=%s' "$(abspath .)/$$f"; done) \
	  MIN_AREA_HA=0.1 OUTPUT_FOLDER=$(abspath $(DEMO_DIR)/change) TRAJECTORY=$(abspath $(DEMO_DIR)/trajectory.tif) \
	  FOOTPRINT_POLYGONS=$(abspath $(DEMO_DIR)/footprint_polygons.gpkg) SITE_NAME=Synthetic_1 \
	  > $(DEMO_DIR)/changelayers.log
	@sed -n "/^Year   Mined/,/^Trajectory/p" $(DEMO_DIR)/changelayers.log
	@echo "trajectory raster (class x 10000 + year): $(abspath $(DEMO_DIR)/trajectory.tif)"
	@echo "footprint polygons per year (site, year, area_ha): $(abspath $(DEMO_DIR)/footprint_polygons.gpkg)"

# The real-window check by hand: QGIS desktop under Xvfb with the zip installed in a fresh profile.
screenshot: zip
	PYTHONPATH=$(VENV_SITE) scripts/screenshot.sh docs/qgis_toolbox.png $(BUILD)/screenshot.json $(DIST)/$(PLUGIN).zip

# One pytest worker per CPU core (pytest-xdist); each test file runs whole in one worker, so its
# module fixtures are made once. What the tests build is kept under build/ (tests/build_cache.py).
test: env docs lint
	$(PY) -m pytest -n auto --dist loadfile --durations=20

# The tests not marked slow (tests/conftest.py marks tests/e2e and tests/cli, which start QGIS or the
# command; the heavier tests elsewhere carry the mark), spread test by test over the workers.
check: env
	$(PY) -m pytest -n auto -m "not slow"

# The docs site (mkdocs.yml): --strict turns every broken link, missing page or page left out of the nav
# into an error. The two variables silence the MkDocs 2 notices the theme and a plugin print on every build.
docs: env
	NO_MKDOCS_2_WARNING=1 DISABLE_MKDOCS_2_WARNING=true $(PY) -m mkdocs build --strict

# ruff over the repository and strict mypy over the engine (euromine_qgis/core), with the pinned versions
# and pyproject.toml's settings; .pre-commit-config.yaml runs the same two before a commit.
.PHONY: lint
lint: env
	$(PY) -m ruff check .
	$(PY) -m mypy

# The command's numpy-2 venv on the newest release of every package instead of
# tests/cli/numpy2-constraints.txt's pins (not part of make test): move the pins forward when it passes.
test-latest: env
	EUROMINE_CLI_VENV=latest $(PY) -m pytest -rs tests/cli/test_cli_numpy2.py

bench: env
	$(PY) -m pytest tests/bench -s

clean:
	rm -rf $(BUILD) $(DIST)

# The engine on an NVIDIA GPU (docs/gpu-check/README.md): no env, since the lent GPU machine has no
# apt or QGIS; only Python 3.12 with numpy and the wheels of make gpu-wheels (PYTHONPATH).
GPU_PY  ?= python3
GPU_OUT ?= $(BUILD)/gpu-check
.PHONY: gpu-check gpu-wheels
gpu-check:
	$(GPU_PY) scripts/gpu_check.py --out $(GPU_OUT) $(GPU_CHECK_ARGS)

gpu-wheels:
	scripts/gpu_wheels.sh $(BUILD)/gpu-wheels

# QGIS 3.44 LTR (Debian forky) and 3.40 (Debian trixie), each in a chroot under QGIS_CHROOTS that
# scripts/qgis_chroot.sh builds when missing: the QGIS-facing suites there. On 3.44 a deprecation warning
# raised from the plugin's code fails the test (tests/deprecations_as_errors.py), and the dependency
# installer's test installs onnxruntime from the package index, as users' QGIS does.
QGIS         ?= 3.44
QGIS_CHROOTS ?= /var/cache/euromine
QGIS_CHROOT  := $(QGIS_CHROOTS)/qgis-$(QGIS)
QGIS_TESTS   := tests/qgis tests/e2e tests/cli/test_cli_processing.py
.PHONY: qgis-chroot test-qgis
qgis-chroot:
	scripts/qgis_chroot.sh build $(QGIS) $(QGIS_CHROOT)

test-qgis:
	EUROMINE_INSTALL_FROM=index scripts/qgis_chroot.sh pytest $(QGIS) $(QGIS_CHROOT) --durations=20 \
	  $(if $(filter 3.44,$(QGIS)),-p tests.deprecations_as_errors) $(QGIS_TESTS)
