# Every target creates the virtual environment it needs, so `make test` and
# `make demo` work on a fresh clone with nothing installed but python3.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv test lint typecheck browser pytest test-django6 demo bench bench-tools soak loadtest docs clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check authzguard tests

typecheck: venv
	$(BIN)/mypy
	DJANGO_SECRET_KEY=mypy $(BIN)/mypy --config-file demo_site/mypy.ini

# The browser test drives Debian's Chromium, never a browser Playwright downloads. When it
# is missing, this installs the chromium package with apt-get (as root). If that cannot be
# done, CI=true stops here; elsewhere the browser test skips and says why. The tests read
# the same variable (tests/browser/conftest.py).
export AUTHZGUARD_TEST_CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ -x "$(AUTHZGUARD_TEST_CHROMIUM)" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium for the browser test ($(AUTHZGUARD_TEST_CHROMIUM) is missing)"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; \
	fi; \
	if [ -x "$(AUTHZGUARD_TEST_CHROMIUM)" ]; then exit 0; fi; \
	case "$$(printf %s "$${CI-}" | tr A-Z a-z)" in \
	1|true|yes) echo "CI=true: $(AUTHZGUARD_TEST_CHROMIUM) is missing and was not installed (installing needs root and apt-get)" >&2; exit 1;; \
	*) echo "warning: $(AUTHZGUARD_TEST_CHROMIUM) is missing (as root, make browser installs it): the browser test will skip" >&2;; \
	esac

pytest: venv browser
	$(BIN)/python -m pytest

test: lint typecheck pytest docs

# Django 6.x needs Python 3.12+: a second environment, used by .ci/run. PY312 names the
# interpreter (make test-django6 PY312=/path/to/python3.12); by default the python3.12 on
# PATH if it runs, else the newest 3.12 pyenv has installed (a pyenv shim runs only a
# version pyenv has selected; `pyenv which` finds it without selecting it).
PY312 ?= $(shell python3.12 -c 'import sys; print(sys.executable)' 2>/dev/null || \
	{ version=$$(pyenv versions --bare 2>/dev/null | grep -E '^3\.12(\.[0-9]+)?$$' | sort -V | tail -n 1); \
	  test -n "$$version" && PYENV_VERSION=$$version pyenv which python3.12; } 2>/dev/null)
VENV312 ?= .venv312
test-django6: browser
	@test -n "$(PY312)" || { echo "test-django6 needs Python 3.12: make test-django6 PY312=/path/to/python3.12" >&2; exit 1; }
	test -x $(VENV312)/bin/python || $(PY312) -m venv $(VENV312)
	$(VENV312)/bin/python -m pip install --quiet -e '.[dev]' 'Django>=6.0,<7'
	$(VENV312)/bin/python -m pytest

# The demo site (docs/tutorial.md): install, migrate, seed, serve on 127.0.0.1:8000.
# DATABASE_URL, SESSION_ENGINE, REDIS_URL, DJANGO_ALLOWED_HOSTS, DJANGO_SECRET_KEY and
# DEMO_INSECURE pass through from the environment; DJANGO_DEBUG defaults to on here only.
DEMO_ADDR ?= 127.0.0.1:8000
DEMO_MANAGE = DJANGO_DEBUG="$${DJANGO_DEBUG-1}" $(BIN)/python demo_site/manage.py
demo: venv
	$(DEMO_MANAGE) migrate --noinput
	$(DEMO_MANAGE) seed_demo
	@echo "Serving the demo on http://$(DEMO_ADDR)/ - sign in with an account above; Ctrl-C stops it."
	$(DEMO_MANAGE) runserver $(DEMO_ADDR)

# Long runs of the concurrency tests, SOAK_FACTOR times their `make test` length:
# policy reloads under 8 deciding threads (both engines, and through runtime), and
# logins racing the deletion of their user on PostgreSQL with db and Redis sessions.
# Then the property and fuzz tests with the Hypothesis profile "soak" (tests/conftest.py),
# list filtering against decide() on SQLite and PostgreSQL included.
SOAK_FACTOR ?= 50
soak: venv
	SOAK_FACTOR=$(SOAK_FACTOR) HYPOTHESIS_PROFILE=soak $(BIN)/python -m pytest -p no:cacheprovider \
		tests/test_policy_threads.py tests/test_sessions_services.py::test_postgresql_suite_in_its_own_process \
		tests/test_policy_properties.py tests/test_filtering_properties.py \
		tests/test_filtering_postgresql.py tests/test_fuzz_requests.py tests/test_fuzz_policy.py

# The load-and-fault run (docs/operations.md): the demo under gunicorn (2 workers) on a
# PostgreSQL and a Redis of its own (initdb, pg_ctl, redis-server), a mixed load for
# LOADTEST_SECONDS while PostgreSQL restarts, Redis pauses and the policy file is edited,
# broken and repaired; prints the table and fails on any wrong answer. `make test` runs
# its short form (tests/test_loadtest.py).
LOADTEST_SECONDS ?= 120
loadtest: venv
	$(BIN)/python -m tests.loadtest --duration $(LOADTEST_SECONDS)

# The documentation site (MkDocs); warnings are errors. `make test` runs it.
docs: venv
	$(BIN)/mkdocs build --strict --site-dir site

# Every benchmark script, each with its defaults (results under bench/results/), then the
# full equivalence run (100k random requests, indexed engine vs stock pycasbin), then one
# PASS/MISS line per issue-11 target with its figure (docs/performance.md). A missed target
# is reported, not an error; a script that cannot measure, or a mismatch, is an error.
bench: venv bench-tools
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	rm -f bench/results/*.json
	for script in bench/bench_*.py; do $(BIN)/python $$script || exit 1; done
	$(BIN)/python bench/equivalence.py --n 100000 --json bench/results/equivalence.json; \
		status=$$?; $(BIN)/python bench/report.py && exit $$status

# wrk (Debian's package) loads the gunicorn servers; without it, a Python client does,
# less steadily. Installed when we may (root with apt-get), else the bench says so.
bench-tools:
	@command -v wrk >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& apt-get install -y -qq wrk >/dev/null 2>&1; } \
		|| echo "wrk is not installed: gunicorn will be loaded by the Python client"

clean:
	rm -rf $(VENV) $(VENV312) build *.egg-info .pytest_cache .mypy_cache .ruff_cache site
