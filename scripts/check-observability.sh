#!/usr/bin/env bash
# Static checks of distsync's alerting rules and dashboards, with promtool (Debian's prometheus
# package, installed into .tools/ like scripts/check-deploy.sh does when it is missing):
#   1. the generated files (dashboards, their k8s copies, the PrometheusRule) are current;
#   2. promtool check rules  deploy/prometheus/rules/*.yml
#   3. promtool test rules   deploy/prometheus/tests/*.yml   (alert unit tests)
#   4. every dashboard panel's PromQL parses: each expression becomes a recording rule in a
#      throwaway rule file that `promtool check rules` reads.
# That the expressions use only metrics the services export is checked against running services
# by tests/contracts/test_dashboards.py. Exits non-zero if any check fails.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TOOLS="$ROOT/.tools"
PROMTOOL="${PROMTOOL:-$TOOLS/prometheus/usr/bin/promtool}"
PYTHON="${PYTHON:-python3}"

die() { printf 'check-observability: %s\n' "$*" >&2; exit 2; }

install_promtool() {
  [[ -x "$PROMTOOL" ]] && return 0
  local dl
  dl="$(mktemp -d)"
  chmod 777 "$dl"  # apt-get download runs as the _apt user
  ( cd "$dl" && { apt-get download -q prometheus >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 && apt-get download -q prometheus >/dev/null 2>&1; }; } ) \
    || die "apt-get download prometheus failed (promtool)"
  mkdir -p "$TOOLS"
  [[ -f "$TOOLS/.gitignore" ]] || printf '*\n' > "$TOOLS/.gitignore"
  dpkg-deb -x "$dl"/prometheus_*.deb "$TOOLS/prometheus" || die "dpkg-deb -x prometheus failed"
  rm -rf "$dl"
  [[ -x "$PROMTOOL" ]] || die "no promtool at $PROMTOOL"
}

FAILED=0
step() {  # step NAME CMD...
  printf '\n== %s\n' "$1"
  shift
  if "$@"; then echo "ok"; else echo "FAILED"; FAILED=1; fi
}

dashboard_expressions() {
  local tmp rc
  tmp="$(mktemp -d)"
  "$PYTHON" scripts/gen_observability.py --expressions-rule-file > "$tmp/dashboard-expressions.yml" || return 1
  "$PROMTOOL" check rules "$tmp/dashboard-expressions.yml"
  rc=$?
  rm -rf "$tmp"
  return $rc
}

install_promtool
"$PROMTOOL" --version | head -n1
step "generated files are current (scripts/gen_observability.py --check)" \
  "$PYTHON" scripts/gen_observability.py --check
step "promtool check rules" "$PROMTOOL" check rules deploy/prometheus/rules/*.yml
step "promtool test rules" "$PROMTOOL" test rules deploy/prometheus/tests/*.yml
step "dashboard PromQL parses (promtool check rules)" dashboard_expressions
exit $FAILED
