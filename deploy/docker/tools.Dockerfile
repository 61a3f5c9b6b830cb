# syntax=docker/dockerfile:1.7
# distsync tools image: every service package (the ingress too), the operator tools (distsync-ops) and the
# `distsync` CLI, for the one-shot topology step (`distsync topology apply`) and on-call commands
# (`distsync dlq ...`, `distsync trace`). Not the simulator nor its embedded database (distsync-sim,
# a development dependency): the root project's dependencies, without its dev group. Build from
# the root:
#   docker build -f deploy/docker/tools.Dockerfile -t distsync/tools:dev .

# uv pinned to the version that wrote uv.lock.
FROM ghcr.io/astral-sh/uv:0.13.9 AS uv

FROM python:3.11-slim-bookworm AS builder
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY shared/pyproject.toml shared/pyproject.toml
COPY services/availability/pyproject.toml services/availability/pyproject.toml
COPY services/order-status/pyproject.toml services/order-status/pyproject.toml
COPY services/receipt/pyproject.toml services/receipt/pyproject.toml
COPY services/returns/pyproject.toml services/returns/pyproject.toml
COPY services/carrier-tracking/pyproject.toml services/carrier-tracking/pyproject.toml
COPY services/ingress/pyproject.toml services/ingress/pyproject.toml
COPY tools/ops/pyproject.toml tools/ops/pyproject.toml
COPY tools/sim/pyproject.toml tools/sim/pyproject.toml
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-workspace
COPY shared/src shared/src
COPY services/availability/src services/availability/src
COPY services/order-status/src services/order-status/src
COPY services/receipt/src services/receipt/src
COPY services/returns/src services/returns/src
COPY services/carrier-tracking/src services/carrier-tracking/src
COPY services/ingress/src services/ingress/src
COPY tools/ops/src tools/ops/src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable

FROM python:3.11-slim-bookworm AS runtime
LABEL org.opencontainers.image.title="distsync-tools" \
      org.opencontainers.image.description="distsync CLI: topology apply, dlq, trace"
RUN groupadd --system --gid 10001 distsync \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin distsync
COPY --from=builder /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
USER 10001:10001
# A one-shot command runner, not a server: nothing to probe while it runs.
HEALTHCHECK NONE
CMD ["distsync", "--help"]
