#!/usr/bin/env bash
# The whole test suite: system packages the tests need, lint, then pytest.
# Called by `make test` (after the Python requirements are installed) and so by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v docker-compose >/dev/null 2>&1 || need_apt+=(docker-compose)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing system packages: ${need_apt[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# The test-only ws:// SurrealDB bridge (Node.js; see tests/support/surreal_bridge/bridge.js).
bridge=tests/support/surreal_bridge
if [ ! -d "$bridge/node_modules" ] || [ "$bridge/package-lock.json" -nt "$bridge/node_modules" ]; then
  npm ci --ignore-scripts --no-audit --no-fund --prefix "$bridge" >/dev/null
  touch "$bridge/node_modules"
fi

VENV=${VENV:-.venv}
"$VENV/bin/ruff" check .

export APP_ENV=test
export PYTHONDONTWRITEBYTECODE=1
exec "$VENV/bin/python" -m pytest -n "${PYTEST_WORKERS:-2}" "$@"
