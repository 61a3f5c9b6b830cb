# distsync: `make run` runs it, `make test` tests it. Both install what they need first.
SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)
UV ?= uv
PYTEST_ARGS ?=

.PHONY: install run test test-unit lint typecheck check-deploy bench bench-dlq bench-e2e bench-reconcile bench-long topology clean

install:
	@command -v $(UV) >/dev/null 2>&1 || python3 -m pip install --quiet --user uv
	$(UV) sync --frozen

## run all five services locally (SecantusDB started unless MONGODB_URL is set); Ctrl-C stops
run: install
	$(UV) run distsync up

## the whole test suite: unit, integration (real RabbitMQ + MongoDB-wire server), end-to-end
test: install
	$(UV) run pytest -q $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 1; fi; exit $$rc

test-unit: install
	$(UV) run pytest -q -m "not integration and not e2e" $(PYTEST_ARGS)

lint: install
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run lint-imports

typecheck: install
	$(UV) run mypy shared/src tools/ops/src tools/sim/src $(foreach s,$(wildcard services/*/src),$(s))

check-deploy:
	bash scripts/check-deploy.sh

topology: install
	$(UV) run distsync topology apply

## benchmarks print figures (never assert); see docs/benchmarks.md
bench: install
	$(UV) run python -m benchmarks.runtime_bench
	$(UV) run python -m benchmarks.availability_bench
	$(UV) run python -m benchmarks.stack_bench
	$(UV) run python -m benchmarks.replicas_bench

bench-dlq: install
	$(UV) run python -m benchmarks.dlq_bench

bench-e2e: install
	$(UV) run python -m benchmarks.e2e_bench

## `distsync reconcile stock` on a million-row snapshot: rows/s and peak memory
bench-reconcile: install
	$(UV) run python -m benchmarks.reconcile_bench

## a million events through availability while its database grows (15 minutes or more); the
## figures, a CSV and a plot go to docs/benchmarks/long_run.*
bench-long: install
	$(UV) run python -m benchmarks.long_run

clean:
	rm -rf .data .bench .pytest_cache .mypy_cache .ruff_cache
