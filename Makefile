# The CX hub's two commands: `make demo` and `make test`. Both set up everything they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export UV_PYTHON_DOWNLOADS := never
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# Debian packages the test suite needs: a Redis server, PostgreSQL server binaries, Chromium for the
# browser tests of the customer pages (Playwright drives it; it downloads no browser of its own),
# PgBouncer, to prove the workers run behind it as the README's production guidance advises, and wrk, the
# benchmarks' HTTP load generator (the suite runs every benchmark once, tiny, to its charts).
TEST_PACKAGES := redis-server postgresql chromium pgbouncer wrk

.PHONY: demo test bench install test-services lint format clean

# DEBUG on unless set: the demo's settings (a public SECRET_KEY among them) are refused without it.
demo: install demo-services
	DEBUG=$${DEBUG:-true} $(PY) manage.py run_demo

test: install test-services
	$(PY) -m pytest

# Every benchmark, or some: `make bench BENCH="sweeps tracking"`; quick check: `BENCH_SCALE=small make bench`.
bench: install test-services
	$(PY) -m bench $(BENCH)

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format:
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

install: $(VENV)/.installed

# Bytecode is compiled at install, so that no process (web, each worker's start) compiles what it imports.
$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q uv
	$(VENV)/bin/uv pip install --python $(PY) -q --compile-bytecode -e '.[test]'
	@touch $@

# Install what is missing from Debian's packages (as root, or through sudo when available).
define apt_install
	@missing=""; for pkg in $(1); do \
	  case $$pkg in \
	    redis-server) command -v redis-server >/dev/null || missing="$$missing $$pkg";; \
	    postgresql) { command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; } \
	                  || missing="$$missing $$pkg";; \
	    *) dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg";; \
	  esac; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo=sudo; \
	  else echo "Please install:$$missing (Debian/Ubuntu: apt-get install$$missing)"; exit $(2); fi; \
	  echo "Installing$$missing from Debian's packages…"; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
endef

test-services:
	$(call apt_install,$(TEST_PACKAGES),1)

# The demo runs without Redis if it must (jobs in-process), so a failed install is not fatal.
demo-services:
	-$(call apt_install,redis-server,0)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache cxhub.sqlite3 test-artifacts
