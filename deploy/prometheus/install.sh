#!/usr/bin/env bash
# Install Prometheus (prometheus + promtool) and Alertmanager (prometheus-alertmanager + amtool)
# from Debian's packages.
#
# Idempotent: does nothing when the tools are already on PATH. Runs as root on a fresh Debian
# machine, non-interactively, and never starts the packaged services (the tests start their own
# Prometheus with a temporary config and storage directory).
set -euo pipefail

need_prometheus=0
need_alertmanager=0
command -v prometheus >/dev/null 2>&1 || need_prometheus=1
command -v promtool >/dev/null 2>&1 || need_prometheus=1
command -v amtool >/dev/null 2>&1 || need_alertmanager=1
# the delivery test (tests/integration/test_alert_delivery.py) runs the Alertmanager binary itself
command -v prometheus-alertmanager >/dev/null 2>&1 || need_alertmanager=1

if [[ "${need_prometheus}" == 0 && "${need_alertmanager}" == 0 ]]; then
    echo "install.sh: prometheus, promtool, amtool and prometheus-alertmanager already installed"
    exit 0
fi

if [[ "$(id -u)" != 0 ]]; then
    SUDO="sudo"
else
    SUDO=""
fi

export DEBIAN_FRONTEND=noninteractive

# Keep the packages' maintainer scripts from starting services: policy-rc.d exit code 101 means
# "action forbidden" to invoke-rc.d. Only remove the file if this script created it.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e "${policy}" ]]; then
    printf '#!/bin/sh\nexit 101\n' | ${SUDO} tee "${policy}" >/dev/null
    ${SUDO} chmod 755 "${policy}"
    created_policy=1
fi
cleanup() {
    if [[ "${created_policy}" == 1 ]]; then
        ${SUDO} rm -f "${policy}"
    fi
}
trap cleanup EXIT

${SUDO} apt-get update -q

packages=()
if [[ "${need_prometheus}" == 1 ]]; then
    packages+=(prometheus)
fi
# amtool (the Alertmanager config and route tests) and the prometheus-alertmanager binary (the
# end-to-end delivery test) ship in the prometheus-alertmanager package.
if [[ "${need_alertmanager}" == 1 ]] && apt-cache show prometheus-alertmanager >/dev/null 2>&1; then
    packages+=(prometheus-alertmanager)
fi

if [[ "${#packages[@]}" -gt 0 ]]; then
    ${SUDO} apt-get install -y -q --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${packages[@]}"
fi

# Stop nothing we did not start; just report what is now available.
for tool in prometheus promtool amtool prometheus-alertmanager; do
    if command -v "${tool}" >/dev/null 2>&1; then
        echo "install.sh: ${tool} -> $(command -v "${tool}")"
    else
        echo "install.sh: ${tool} is not available after install" >&2
    fi
done
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 \
    && command -v amtool >/dev/null 2>&1 && command -v prometheus-alertmanager >/dev/null 2>&1
