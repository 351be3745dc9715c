# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench clean system-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,serve,ship]' --config-settings editable_mode=compat
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/journal demo

lint: $(STAMP)
	$(BIN)/ruff check journal projections tools tests
	$(BIN)/ruff format --check journal projections tools tests

typecheck: $(STAMP)
	$(BIN)/mypy

# What the slow tests need from the system: npm (the real agents are npm packages), a
# C compiler with Python's headers (py-lmdb built in macOS's semaphore mode) and
# Chromium (the `journal serve` pages are tested in a real browser, driven by
# Playwright). Installed with apt-get only when missing and when we may (CI runs as
# root on a clean machine).
system-deps:
	@missing=""; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	command -v cc >/dev/null 2>&1 || missing="$$missing gcc"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
		else \
			echo "warning: not installed:$$missing (the tests that need them will skip)"; \
		fi; \
	fi

pytest: $(STAMP) system-deps
	$(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python tools/bench/append.py
	$(BIN)/python tools/bench/hook.py
	$(BIN)/python tools/bench/views.py
	$(BIN)/python tools/bench/costs.py
	$(BIN)/python tools/bench/changes.py
	$(BIN)/python tools/bench/ship.py
	$(BIN)/python tools/bench/serve.py

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
