# The two commands that matter: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.stamp-install
export QT_API := pyside6

.PHONY: run test install lint typecheck imports pytest bench screenshots package package-test dist \
	install-desktop uninstall-desktop clean system-deps browser-deps

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
	@# the share app's tool calls start with 🛠: without an emoji font Chromium draws a box
	@if [ ! -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-color-emoji >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-color-emoji >/dev/null; } || \
	  echo "warning: no emoji font; the share app's tool screenshot shows a box for 🛠"; fi
	xvfb-run -a -s "-screen 0 1600x1000x24" $(PY) -m desktop_app.gui.screenshots docs/screenshots
	xvfb-run -a -s "-screen 0 1600x1000x24" $(PY) -m desktop_app.gui.screenshots --pool docs/screenshots
	xvfb-run -a -s "-screen 0 1600x1000x24" $(PY) -m desktop_app.gui.screenshot_tools docs/screenshots
	MODELDESK_SCREENSHOTS_DIR=docs/screenshots QT_QPA_PLATFORM=offscreen $(VENV)/bin/pytest -q tests/share/test_share_browser.py \
	  tests/share/test_share_tools.py -k "browser or chromium"

# The bundle (packaging/README.md): dist/modeldesk/modeldesk, one folder with everything the app does.
BUNDLE := dist/modeldesk/modeldesk
VERSION = $(shell $(PY) -c 'import desktop_app; print(desktop_app.__version__)')
ARCH := $(shell uname -m)

package: install
	$(PY) -m pip install --quiet -e '.[package]'
	@start=$$(date +%s); \
	$(VENV)/bin/pyinstaller --noconfirm --log-level WARN packaging/modeldesk.spec && \
	echo "Built $(BUNDLE) in $$(( $$(date +%s) - start )) s ($$(du -sh dist/modeldesk | cut -f1))"

# Builds the bundle, then runs it: --smoke-test, list --json against the fake Ollama, an evaluation
# logged to the embedded MLflow store, share answering on 127.0.0.1 (tests/packaging/test_bundle.py).
package-test: package
	MODELDESK_BUNDLE=$(BUNDLE) QT_QPA_PLATFORM=offscreen $(VENV)/bin/pytest -q tests/packaging

dist: package
	tar -C dist -czf dist/modeldesk-$(VERSION)-linux-$(ARCH).tar.gz modeldesk
	@echo "dist/modeldesk-$(VERSION)-linux-$(ARCH).tar.gz"

# The menu entry and icon for this user ($$XDG_DATA_HOME/applications, else ~/.local/share/...):
# it starts the bundle when one is built, else this checkout's dev install.
install-desktop:
	@if [ -x $(BUNDLE) ]; then exe=$(BUNDLE); elif [ -x $(VENV)/bin/modeldesk ]; then exe=$(VENV)/bin/modeldesk; \
	else echo "error: nothing to start: run \`make package\` (the bundle) or \`make install\` first." >&2; exit 2; fi; \
	packaging/linux/desktop-entry.sh install $$exe

uninstall-desktop:
	@packaging/linux/desktop-entry.sh uninstall

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
