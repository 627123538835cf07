# The two commands that matter: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.stamp-install
export QT_API := pyside6

.PHONY: run test install lint typecheck imports pytest bench screenshots package clean system-deps browser-deps

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

# Qt's xcb plugin links against X libraries a bare Debian/Ubuntu lacks. `ldd` on the plugin says which;
# as root with apt they are installed, otherwise the exact apt command is printed (see system_libs.py).
system-deps: install
	@$(PY) -m desktop_app.gui.system_libs --install

# The share app's browser test drives Debian's Chromium (Playwright never downloads a browser here);
# install it when we can, else that one test skips and says why.
browser-deps:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null || \
	  echo "warning: could not install chromium; the browser test of the share app will skip"; fi

run: install system-deps
	$(VENV)/bin/modeldesk

lint: install
	$(VENV)/bin/ruff check desktop_app tests bench
	$(VENV)/bin/ruff format --check desktop_app tests bench

typecheck: install
	$(VENV)/bin/mypy

imports: install
	$(VENV)/bin/lint-imports

pytest: install browser-deps
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/pytest -q

test: lint typecheck imports pytest

bench: install
	$(PY) bench/bench_sync.py
	$(PY) bench/bench_eval.py
	$(PY) bench/bench_throughput.py
	$(PY) bench/bench_gui.py
	$(PY) bench/bench_mlflow.py
	$(PY) bench/bench_serve.py
	$(PY) bench/bench_share.py

screenshots: install system-deps browser-deps
	@if ! command -v xvfb-run >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xvfb xauth >/dev/null; fi
	xvfb-run -a -s "-screen 0 1600x1000x24" $(PY) -m desktop_app.gui.screenshots docs/screenshots
	xvfb-run -a -s "-screen 0 1600x1000x24" $(PY) -m desktop_app.gui.screenshot_tools docs/screenshots
	MODELDESK_SCREENSHOTS_DIR=docs/screenshots QT_QPA_PLATFORM=offscreen $(VENV)/bin/pytest -q tests/share/test_share_browser.py

package: install
	$(PY) -m pip install --quiet -e '.[package]'
	$(VENV)/bin/pyinstaller --noconfirm packaging/modeldesk.spec

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
