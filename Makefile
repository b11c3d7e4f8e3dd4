# triage-agent: every target installs what it needs from scratch, and is quick the second time.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
APT_PACKAGES := mosquitto mosquitto-clients rabbitmq-server libsystemd-dev pkg-config gcc python3-dev python3-venv openssl \
	systemd dpkg-dev debootstrap qemu-user-static lintian postgresql chromium chromium-driver faketime nginx-light \
	fonts-wqy-microhei
SHARED ?= $(abspath ../shared)

.PHONY: all setup sysdeps venv run central test test-deb test-deb-arm64 lint check i18n bench bench-smoke deb eval-mask models clean

all: test

# System packages via apt-get, only when something is missing.
sysdeps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q -U pip setuptools wheel

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev,central]'
	touch $(STAMP)

venv: sysdeps $(STAMP)

setup: venv models

models: venv
	$(BIN)/python -m agent.cli.model_store verify --models-dir models

# make eval-mask DATA=DIR [BASELINE=aizoo] [SPLIT=test] [WORN_WRONG=1]: the shipped mask models on a
# labelled folder, the with_mask photos named in models/eval/worn_wrong_real.csv labelled as masks
# worn wrong (not masked); WORN_WRONG=1 adds the split's synthetic worn-wrong faces
# (models/synth_worn_wrong.py).
# make eval-mask DATA=DIR REAL=1: only the real photos of a mask worn wrong held out of training
# (the test-split ones of that list and the scene faces labelled so), one line each.
eval-mask: venv
	@test -n "$(DATA)" || { echo "usage: make eval-mask DATA=DIR [BASELINE=aizoo] [SPLIT=test] [WORN_WRONG=1] | DATA=DIR REAL=1"; exit 2; }
	$(BIN)/python -m tools.eval_mask $(if $(REAL),--real models/eval/worn_wrong_real.csv --mask-dir $(DATA) --scene-faces models/eval/scene_faces.csv --scenes-dir $(SHARED)/data/scenes,--data $(DATA) $(if $(BASELINE),--baseline $(BASELINE) --reference-dir $(SHARED)/models/reference) $(if $(SPLIT),--split $(SPLIT)) --worn-wrong-real models/eval/worn_wrong_real.csv $(if $(WORN_WRONG),--synth-worn-wrong))

run: setup
	$(BIN)/python -m tools.devrun

# The agent, the collector and the dashboard together, plus a scripted desk day closed by the
# district (notices issued, delivered to a local receiver, a case verified); prints the pages to
# open (docs/CENTRAL.md). The district's zone: CENTRAL_TZ=, else TZ=, else Asia/Shanghai;
# CENTRAL_LANGUAGE=en for English pages.
central: setup
	$(BIN)/python -m tools.centralrun --tz "$(or $(CENTRAL_TZ),$(TZ),Asia/Shanghai)" \
		--language "$(or $(CENTRAL_LANGUAGE),zh_CN)"


# The .deb the packaging tests install, built before pytest starts (its own time budget, never a
# test's timeout) and rebuilt only when a tracked file changed.
TEST_DEB_DIR := build/test-deb
TEST_DEB_STAMP := $(TEST_DEB_DIR)/.path
$(TEST_DEB_STAMP): $(shell git ls-files agent firmware_bridge models packaging docs pyproject.toml 2>/dev/null) | sysdeps
	rm -rf $(TEST_DEB_DIR) && mkdir -p $(TEST_DEB_DIR)
	packaging/build_deb.sh $(TEST_DEB_DIR) > $(TEST_DEB_STAMP).out
	tail -n 1 $(TEST_DEB_STAMP).out > $(TEST_DEB_STAMP)

test-deb: $(TEST_DEB_STAMP)

# The arm64 package tests/test_arm64.py runs under qemu, built the same way (`make deb ARCH=arm64`).
TEST_DEB_ARM64_DIR := build/test-deb-arm64
TEST_DEB_ARM64_STAMP := $(TEST_DEB_ARM64_DIR)/.path
$(TEST_DEB_ARM64_STAMP): $(shell git ls-files agent firmware_bridge models packaging docs pyproject.toml 2>/dev/null) | sysdeps
	rm -rf $(TEST_DEB_ARM64_DIR) && mkdir -p $(TEST_DEB_ARM64_DIR)
	DEB_ARCH=arm64 packaging/build_deb.sh $(TEST_DEB_ARM64_DIR) > $(TEST_DEB_ARM64_STAMP).out
	tail -n 1 $(TEST_DEB_ARM64_STAMP).out > $(TEST_DEB_ARM64_STAMP)

test-deb-arm64: $(TEST_DEB_ARM64_STAMP)

test: setup test-deb test-deb-arm64
	TRIAGE_DEB=$$(cat $(TEST_DEB_STAMP)) TRIAGE_DEB_ARM64=$$(cat $(TEST_DEB_ARM64_STAMP)) \
	  $(BIN)/python -m pytest $(PYTEST_ARGS)

# The long fault scenarios (broker down 30 s...), figures in docs/RELIABILITY.md; needs root for tmpfs.
reliability: setup
	$(BIN)/python -m pytest -s -m 'reliability or not reliability' tests/test_reliability.py tests/test_availability.py tests/test_broker_compat.py

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# make check: lint plus the fast tests (no broker, no model, nothing slow, no package build); the
# loop to run before every commit, a few minutes. `make test` runs everything.
check: lint
	$(BIN)/python -m pytest -q -m 'not broker and not model and not slow and not reliability' $(PYTEST_ARGS)

# make i18n: extract the district side's messages and merge them into the catalogs (then translate
# the new entries in central/i18n/locale/*/LC_MESSAGES/messages.po; tests/central/test_i18n.py
# fails while one is missing).
i18n: venv
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-location --sort-output -o central/i18n/messages.pot central
	$(BIN)/pybabel update -i central/i18n/messages.pot -d central/i18n/locale -D messages --no-fuzzy-matching --ignore-obsolete

# make bench: every figure of docs/PERFORMANCE.md (about 10 minutes); one table, bench/out/results.json.
bench: setup
	$(BIN)/python -m bench

# make bench-smoke: the same benchmarks with short windows (a few minutes; figures indicative only).
bench-smoke: setup
	$(BIN)/python -m bench --smoke

# Debian package in dist/ (see docs/PACKAGING.md); needs network access to PyPI for the dependencies.
# ARCH=arm64 builds the Raspberry Pi package on this machine (target wheels from PyPI).
deb: venv
	DEB_ARCH=$(ARCH) packaging/build_deb.sh dist

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
