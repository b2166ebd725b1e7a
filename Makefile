PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA ?= $(or $(PALLETIZER_DATA),./data)
LISTEN ?= $(or $(PALLETIZER_LISTEN),127.0.0.1:8000)
ARGS ?=

.PHONY: install run test lint fuzz test-browser screenshots test-compose test-corpus test-cluster validate-deploy bench cli clean

install: $(VENV)/.installed

# Quiet (no command echoed), so that `make cli` prints what palletizer prints and nothing else.
$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --upgrade pip >&2
	@$(BIN)/pip install --quiet -e '.[test,lint]' >&2
	@touch $@

run: install
	@test -f $(DATA)/config.yaml || $(BIN)/palletizer --data $(DATA) init
	$(BIN)/palletizer-all --data $(DATA) --listen $(LISTEN)

# The front's tests run the real nginx: installed with apt (as root) when it is missing.
test: install
	test -x /usr/sbin/nginx || [ "$$(id -u)" != 0 ] \
		|| (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y nginx)
	$(BIN)/pytest $(PYTEST_ARGS)

# The checks of the code: ruff's lint and format, mypy (the types), and the import contracts of pyproject.toml (the
# library's layers, no import cycle, the library never imports a service).
lint: install
	$(BIN)/ruff check shared services tests bench stubs
	$(BIN)/ruff format --check shared services tests bench stubs
	$(BIN)/mypy
	$(BIN)/lint-imports

# The hostile-input property tests with many random examples (a few minutes; not part of `make test`,
# which runs few, fixed ones). A failure prints the example and a blob to reproduce it.
fuzz: install
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -m hypothesis --hypothesis-show-statistics $(PYTEST_ARGS)

# The web pages in Debian's headless chromium, driven by Playwright for Python (its own browser builds are never
# downloaded); screenshots land in build/screenshots/ (`make screenshots`: in docs/screenshots/). Installs chromium with apt (as root) when it is missing.
test-browser: install
	test -x /usr/bin/chromium || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)
	$(BIN)/pip install --quiet 'playwright>=1.40'
	$(BIN)/pytest -v tests/browser $(PYTEST_ARGS)

screenshots:
	PALLETIZER_SCREENSHOTS=docs/screenshots $(MAKE) test-browser

# The compose stack, built and run with podman, driven by real cargo, and compose.cluster.yaml's init and nodes
# in the image over the test Ceph gateway and PostgreSQL (root; not part of `make test`). Installs PostgreSQL 15
# with apt when it is missing.
test-compose: install
	test -x /usr/lib/postgresql/15/bin/initdb \
		|| (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15)
	$(BIN)/pytest -v tests/compose $(PYTEST_ARGS)

# The Kubernetes manifests of deploy/, strictly against the API schemas kubernetes-validate ships (no cluster
# needed; tests/unit/test_deploy_manifests.py checks the same and how they fit together).
validate-deploy: install
	$(BIN)/kubernetes-validate --strict --kubernetes-version 1.25.0 deploy/*.yaml deploy/examples/*.yaml
	$(BIN)/kubernetes-validate --strict deploy/*.yaml deploy/examples/*.yaml

# The back ends for more than one machine over real servers: S3 (a throwaway Ceph cluster, started by
# /work/shared/tools/ceph-s3, as root) and PostgreSQL 15 (a private cluster, initdb and pg_ctl as user postgres).
# Not part of `make test`.
test-cluster: install
	$(BIN)/pytest -v tests/cluster $(PYTEST_ARGS)

# Real crates.io releases, as Debian packages their sources (/usr/share/cargo/registry/): all imported, then real
# cargo builds a program using about 110 of them with crates.io replaced by Palletizer, over the sparse and the git
# index (about 2 minutes; not part of `make test`). Installs the packages with apt (as root) when some are missing;
# fails if fewer than $(CORPUS_MIN) releases are found.
CORPUS_PACKAGES := librust-serde-json-dev librust-rand-dev librust-regex-dev librust-log-dev librust-tokio-dev \
	librust-adler-dev librust-rustix-dev librust-bitflags-dev librust-anyhow-dev librust-thiserror-dev \
	librust-itertools-dev librust-flate2-dev librust-tempfile-dev librust-clap-dev librust-semver-dev \
	librust-base64-dev librust-hex-dev librust-sha2-dev librust-walkdir-dev librust-toml-dev librust-url-dev \
	librust-byteorder-dev librust-num-traits-dev librust-num-integer-dev librust-glob-dev librust-md5-dev \
	librust-crc-dev librust-unicode-xid-dev librust-fnv-dev librust-bstr-dev librust-textwrap-dev \
	librust-indoc-dev librust-static-assertions-dev librust-home-dev librust-shlex-dev
CORPUS_MIN ?= 150
CORPUS_INSTALL = test "$$(dpkg-query -W -f='$${db:Status-Status}\n' $(CORPUS_PACKAGES) 2>/dev/null | grep -cx installed)" \
		= "$(words $(CORPUS_PACKAGES))" || (apt-get update \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(CORPUS_PACKAGES))
test-corpus: install
	$(CORPUS_INSTALL)
	PALLETIZER_CORPUS_MIN=$(CORPUS_MIN) $(BIN)/pytest -v tests/corpus $(PYTEST_ARGS)

# The performance benchmarks, side by side with nginx (about 25 minutes; not part of `make test`). Installs
# nginx, wrk and the corpus (for the mirror's benchmark) with apt (as root) when they are missing; the cluster's
# benchmark starts Ceph and PostgreSQL 15 as test-cluster does (`make bench BENCH_ARGS=cluster` runs it alone).
# Tables on stdout, JSON in $(BENCH_OUT)/.
BENCH_OUT ?= bench-results
bench: install
	test -x /usr/sbin/nginx && command -v wrk >/dev/null \
		|| (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y nginx wrk)
	$(CORPUS_INSTALL)
	$(BIN)/python -m bench --out $(BENCH_OUT) $(BENCH_ARGS)

# `TOKEN=$$(make cli ARGS="token create --user alice")` captures the token alone.
cli: install
	@$(BIN)/palletizer --data $(DATA) $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
