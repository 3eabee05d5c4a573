#!/usr/bin/env bash
# The whole test suite: lint, types, unit tests, then integration tests against a real Kafka broker
# and a real Prometheus that this script installs and starts (reusing running ones when given).
# Every step runs; the script fails if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
failed=()

echo "== ruff"; "$BIN/ruff" check monitor tests bench || failed+=(ruff)
echo "== mypy"; "$BIN/mypy" || failed+=(mypy)

echo "== set-up: Prometheus (Debian package) and Apache Kafka (Maven Central)"
bash deploy/prometheus/install.sh || failed+=(prometheus-install)
if [ -z "${HEDGE_KAFKA_BOOTSTRAP:-}" ]; then
  bash deploy/kafka/kafka.sh fetch || failed+=(kafka-fetch)
fi

echo "== pytest"
# pytest exits 5 when no test ran: that is a failure here too, never a silent pass.
"$BIN/python" -m pytest "$@" || failed+=(pytest)

if [ "${#failed[@]}" -gt 0 ]; then
  echo "FAILED steps: ${failed[*]}"
  exit 1
fi
echo "all steps passed"
