# Sluice images, one target per app, all from this file:
#   docker build --target ingest -t sluice/ingest .    (also: worker, query)
# docker-compose.yml builds them; the worker image also runs the one-shot setup (topics, migrations).
#
# build   : pnpm (pinned) installs the workspace from the lockfile, then `pnpm deploy` copies each app
#           with only its production dependencies (workspace packages included) into /out/<app>.
# runtime : slim Node, tini as PID 1 so SIGTERM reaches Node and the app drains, non-root user,
#           no package managers left in the image.
# Apps run their TypeScript directly through tsx (a runtime dependency of each app): no build step.

ARG NODE_IMAGE=node:20.20.2-bookworm-slim

FROM ${NODE_IMAGE} AS build
ENV CI=true
RUN npm install --global pnpm@10.34.8
WORKDIR /src
# Dependencies first: this layer is reused until the lockfile changes.
COPY pnpm-lock.yaml pnpm-workspace.yaml ./
RUN --mount=type=cache,id=sluice-pnpm-store,target=/pnpm-store \
    pnpm fetch --prod --store-dir /pnpm-store
COPY package.json ./
COPY packages packages
COPY apps apps
# --legacy: the workspace links its packages instead of injecting them (kept for live edits in
# `make dev`); the legacy deploy copies each linked package into the app's node_modules instead.
# It resolves versions without the lockfile, from the registry's metadata, which `pnpm fetch` does not
# cache: --prefer-offline reads what is cached and asks the registry for the rest (the packages
# themselves come from the store).
RUN --mount=type=cache,id=sluice-pnpm-store,target=/pnpm-store \
    pnpm install --frozen-lockfile --prod --offline --ignore-scripts --store-dir /pnpm-store \
    && for app in ingest worker query; do \
         pnpm --filter "@sluice/${app}" --prod deploy --legacy --prefer-offline --ignore-scripts --store-dir /pnpm-store "/out/${app}" || exit 1; \
       done

FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
    && apt-get install --yes --no-install-recommends 'tini=0.19.0-*' \
    && rm -rf /var/lib/apt/lists/* \
    && rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack /opt/yarn-* \
    && rm -f /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg
ENV NODE_ENV=production
WORKDIR /app
COPY deploy/docker/healthcheck.mjs /usr/local/lib/sluice/healthcheck.mjs
# The files stay owned by root: the app user can read them but not change its own code.
USER 1000:1000
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--import", "tsx", "src/main.ts"]

# HEALTHCHECK: every 2 s while starting (so depends_on: service_healthy releases the next services
# soon after /health answers), every 15 s after; --start-interval needs Docker Engine 25 or later.
FROM runtime AS ingest
COPY --from=build /out/ingest /app
ENV SERVER_PORT=8080 METRICS_PORT=9101 GRPC_PORT=50051
EXPOSE 8080 9101 50051
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --start-interval=2s --retries=3 \
    CMD ["node", "/usr/local/lib/sluice/healthcheck.mjs"]

FROM runtime AS query
COPY --from=build /out/query /app
ENV SERVER_PORT=8081 METRICS_PORT=9103 GRPC_PORT=50052
EXPOSE 8081 9103 50052
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --start-interval=2s --retries=3 \
    CMD ["node", "/usr/local/lib/sluice/healthcheck.mjs"]

# Last, so a plain `docker build .` gives the worker. It carries the migrations and the setup CLIs:
#   node --import tsx node_modules/@sluice/clickhouse/src/cli/migrate.ts
#   node --import tsx node_modules/@sluice/kafka/src/cli/ensure-topics.ts
FROM runtime AS worker
COPY --from=build /out/worker /app
COPY clickhouse/migrations /app/migrations
ENV SERVER_PORT=8082 METRICS_PORT=9102 MIGRATIONS_DIR=/app/migrations
# The flags of apps/worker/node-options: the heap cap (a backlog cannot grow the worker past ~300 MB
# RSS) and garbage collection on the main thread only, which leaves the other cores to ClickHouse
# (README "Scaling and sizing"). On the command line, as NODE_OPTIONS does not take --single-threaded-gc,
# so they win over NODE_OPTIONS: to change the cap, override the command (compose: `command:`).
CMD ["node", "--max-old-space-size=224", "--max-semi-space-size=8", "--single-threaded-gc", "--import", "tsx", "src/main.ts"]
EXPOSE 8082 9102
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --start-interval=2s --retries=3 \
    CMD ["node", "/usr/local/lib/sluice/healthcheck.mjs"]
