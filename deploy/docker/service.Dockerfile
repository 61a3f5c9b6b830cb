# syntax=docker/dockerfile:1.7
# Any distsync service, chosen with the SERVICE build argument (its HTTP port with PORT). Build
# from the repository root (the workspace lock lives there):
#   docker build -f deploy/docker/service.Dockerfile --build-arg SERVICE=availability \
#     --build-arg PORT=8001 -t distsync/availability:dev .
# Services and ports: availability 8001, order-status 8002, receipt 8003, returns 8004,
# carrier-tracking 8005, ingress 8006 (docker-compose.yml passes both arguments).
# Builder: uv installs exactly the locked dependencies of distsync-$SERVICE (distsync-shared, and
# for the ingress the services whose event models it validates with) into /app/.venv as real
# (non-editable) packages; the final stage copies only that venv.

# uv pinned to the version that wrote uv.lock.
FROM ghcr.io/astral-sh/uv:0.13.9 AS uv

FROM python:3.11-slim-bookworm AS builder
ARG SERVICE
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
# Every workspace member's pyproject.toml, so the locked workspace resolves; sources come later
# so the dependency layer stays cached while code changes. Only the runtime library and this
# service are installed: not the operator tools (tools/ops), nor the simulator and its embedded
# database (tools/sim, a development dependency).
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
RUN test -n "${SERVICE}" && test -f "services/${SERVICE}/pyproject.toml"
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-workspace --package distsync-${SERVICE}
COPY shared/src shared/src
# Every service's sources: a service's package may depend on others' (the ingress validates
# events with the consuming services' models), and a build argument cannot name a list. Only
# distsync-$SERVICE and what it depends on are installed; the final stage copies only the venv.
COPY services/availability/src services/availability/src
COPY services/order-status/src services/order-status/src
COPY services/receipt/src services/receipt/src
COPY services/returns/src services/returns/src
COPY services/carrier-tracking/src services/carrier-tracking/src
COPY services/ingress/src services/ingress/src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package distsync-${SERVICE}

FROM python:3.11-slim-bookworm AS runtime
ARG SERVICE
ARG PORT
LABEL org.opencontainers.image.title="distsync-${SERVICE}" \
      org.opencontainers.image.description="distsync ${SERVICE} service"
# A fixed non-root uid/gid above 10000 (matches runAsUser in deploy/k8s).
RUN groupadd --system --gid 10001 distsync \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin distsync
# Root-owned and read-only for the service user; no uv, compiler or build backend in this stage.
COPY --from=builder /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DISTSYNC_SERVICE=${SERVICE} \
    DISTSYNC_HTTP_HOST=0.0.0.0 \
    DISTSYNC_HTTP_PORT=${PORT}
WORKDIR /app
USER 10001:10001
EXPOSE ${PORT}
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['DISTSYNC_HTTP_PORT'] + '/healthz', timeout=2)"]
# exec: the service is PID 1 and gets SIGTERM itself. Kubernetes passes its own args instead.
CMD ["/bin/sh", "-c", "exec distsync run \"$DISTSYNC_SERVICE\""]
