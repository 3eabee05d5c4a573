#!/usr/bin/env bash
# The whole test suite: lint, types, unit tests, then integration tests against a real Kafka broker
# and a real Prometheus that this script installs and starts (reusing running ones when given).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

echo "== ruff"; "$BIN/ruff" check monitor tests
echo "== mypy"; "$BIN/mypy"

if [ -x deploy/prometheus/install.sh ]; then bash deploy/prometheus/install.sh; fi
if [ -z "${HEDGE_KAFKA_BOOTSTRAP:-}" ] && [ -x deploy/kafka/kafka.sh ]; then
  bash deploy/kafka/kafka.sh fetch
fi

echo "== pytest"
set +e
"$BIN/python" -m pytest "$@"
status=$?
set -e
# pytest exits 5 when no test ran: that is a failure here, never a silent pass.
exit "$status"
