# Two commands: `make demo` and `make test`. Both set everything up on a fresh machine first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kumpel-installed
NPM_STAMP := node_modules/.kumpel-installed
# Leaflet for the fleet's map, copied from the npm package into the pages' static folder (ignored by git,
# shipped in a built package); the fleet serves it itself, never from a CDN.
LEAFLET := fleet/web/static/leaflet

.PHONY: setup test demo lint typecheck-firmware bench clean browser energy-year

setup: $(STAMP) $(NPM_STAMP) $(LEAFLET)/leaflet.js

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

$(NPM_STAMP): package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $(NPM_STAMP)

$(LEAFLET)/leaflet.js: $(NPM_STAMP)
	mkdir -p $(LEAFLET)/images
	cp node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css node_modules/leaflet/LICENSE $(LEAFLET)/
	cp node_modules/leaflet/dist/images/*.png $(LEAFLET)/images/
	touch $@

# Headless Chromium for the field-crew page tests (Debian package; skipped by the tests where it can't be had).
browser:
	@command -v chromium >/dev/null || (command -v apt-get >/dev/null && (apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1)) || echo "chromium not installable here: browser tests will be skipped")

test: setup browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

demo: setup
	$(BIN)/kumpel demo

bench: setup
	$(BIN)/python bench/codec.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/emulator.py --sizes 1,100 --days 0.5 --one-days 0.5
	$(BIN)/python bench/energy.py

# One node for a simulated year: the emulator's battery drain against the energy model (minutes).
energy-year: setup
	KUMPEL_YEAR=1 $(BIN)/pytest -q -s tests/tools/emulator/test_energy_year.py -o timeout=3600

clean:
	rm -rf $(VENV) node_modules $(LEAFLET) build dist *.egg-info .pytest_cache
