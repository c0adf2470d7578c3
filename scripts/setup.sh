#!/usr/bin/env bash
# Set up phonelab from nothing: a virtual environment with the project and its
# dev tools, the system packages scapy, tshark and the report check need
# (libpcap, tshark, chromium, and the independent peers: SIPp, baresip,
# dnsmasq, udhcpc, tftpd-hpa; ser2net for shared racks), and the Allure command-line tool (npm).
# Safe to run again; it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
# Two runs started together (two test runs, or a test run and the lab run) set up
# one at a time: the second finds everything done instead of racing pip and apt.
exec 9>".setup.lock"
flock 9


PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "phonelab needs Python 3.11 or newer (found: $("$PY" --version 2>&1))" >&2
  exit 2
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.phonelab-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "==> installing phonelab and its dependencies into .venv"
  .venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
  # the labgrid extra (shared racks, docs/shared-lab.md) brings pyserial-labgrid, a drop-in
  # for pyserial's `serial` module; without it (offline mirror) the shared-lab tests skip
  .venv/bin/python -m pip install -q -e '.[dev,labgrid]' 2>&1 \
    | grep -vE '^WARNING: Location|^\s*$' || true
  if ! .venv/bin/python -c 'import labgrid' 2>/dev/null; then
    echo "note: the labgrid extra is not installable here; shared-lab tests will skip" >&2
    .venv/bin/python -m pip install -q -e '.[dev]' 2>&1 | grep -vE '^WARNING: Location|^\s*$' || true
  fi
  .venv/bin/python -c 'import harness, phone_drivers, tftpy, netmiko, scapy, asyncssh' 
  touch "$stamp"
fi

# libpcap lets scapy apply BPF filters; tshark independently checks our pcaps.
need_apt=()
dpkg -s libpcap0.8 >/dev/null 2>&1 || dpkg -s libpcap0.8t64 >/dev/null 2>&1 || need_apt+=(libpcap0.8)
command -v tshark >/dev/null 2>&1 || need_apt+=(tshark)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
# Independent peers the wire tests check phonelab against: SIPp and baresip (SIP),
# dnsmasq + udhcpc (rack DHCP), tftpd-hpa (TFTP peer), iproute2 (namespaces).
command -v sipp >/dev/null 2>&1 || need_apt+=(sip-tester)
command -v baresip >/dev/null 2>&1 || need_apt+=(baresip-core)
command -v dnsmasq >/dev/null 2>&1 || need_apt+=(dnsmasq-base)
command -v udhcpc >/dev/null 2>&1 || need_apt+=(udhcpc)
[ -x /usr/sbin/in.tftpd ] || need_apt+=(tftpd-hpa)
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
# ser2net: labgrid-exporter serves a rack's consoles over RFC 2217 with it (shared racks).
command -v ser2net >/dev/null 2>&1 || [ -x /usr/sbin/ser2net ] || need_apt+=(ser2net)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing system packages: ${need_apt[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "note: missing system packages (${need_apt[*]}); capture and report checks will skip" >&2
  fi
fi

if [ ! -x tools/allure/node_modules/.bin/allure ]; then
  if command -v npm >/dev/null 2>&1; then
    echo "==> installing the Allure command-line tool (npm allure@3)"
    mkdir -p tools/allure
    (cd tools/allure && npm install --no-audit --no-fund --no-package-lock --silent >/dev/null)
  else
    echo "note: npm not found; the Allure report cannot be generated" >&2
  fi
fi
