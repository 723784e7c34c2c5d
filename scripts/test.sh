#!/usr/bin/env bash
# scripts/test.sh - the project's test command (README, and CI through .ci/run).
#
# 1. installs the SIP tools the integration tests drive, when any is missing
#    (sipp sipsak baresip kamailio linphonec; Debian/Ubuntu packages);
# 2. makes sure PostgreSQL answers on 127.0.0.1 (tests needing it use user
#    postgres, database "test"); installs/starts it when needed;
# 3. cargo fmt --check, the benchmark report's rules (benches/test_report.py), cargo build --bins,
#    then cargo test --no-fail-fast (unit + integration).
# Exits non-zero when anything fails. All test traffic stays on 127.0.0.0/8 and ::1.
set -euo pipefail

cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }

if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi
APT_UPDATED=0
apt_install() {
    if [ "$APT_UPDATED" -eq 0 ]; then
        say "apt-get update"
        "${SUDO[@]}" apt-get update
        APT_UPDATED=1
    fi
    say "apt-get install $*"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"
}

# ---- SIP tools ----
missing=()
for tool in sipp sipsak baresip kamailio linphonec; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
    say "missing SIP tools: ${missing[*]}; installing"
    apt_install sip-tester sipsak baresip kamailio linphone-cli sipvicious systemd
else
    say "SIP tools present (sipp sipsak baresip kamailio linphonec)"
fi
# systemd-analyze checks the unit file (tests/ops.rs); some images ship without systemd.
if ! command -v systemd-analyze >/dev/null 2>&1; then
    say "systemd-analyze missing; installing systemd"
    apt_install systemd || echo "warning: could not install systemd; the unit check will be skipped" >&2
fi

# ---- PostgreSQL ----
if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1; then
    say "PostgreSQL answers on 127.0.0.1"
else
    if [ ! -d /etc/postgresql ]; then
        say "PostgreSQL not installed; installing"
        apt_install postgresql
        PG_INSTALLED_HERE=1
    fi
    cluster_version="$(ls /etc/postgresql | head -1)"
    say "starting PostgreSQL cluster ${cluster_version}/main"
    "${SUDO[@]}" pg_ctlcluster --skip-systemctl-redirect "$cluster_version" main start || true
    for _ in $(seq 1 30); do
        pg_isready -q -h 127.0.0.1 && break
        sleep 1
    done
    if [ "${PG_INSTALLED_HERE:-0}" -eq 1 ]; then
        # a fresh Debian cluster wants passwords over TCP; the tests expect
        # trust auth for loopback (as on the CI machines)
        hba="/etc/postgresql/${cluster_version}/main/pg_hba.conf"
        say "allowing trust auth from loopback in $hba"
        "${SUDO[@]}" sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
        "${SUDO[@]}" pg_ctlcluster --skip-systemctl-redirect "$cluster_version" main reload || true
        sleep 1
    fi
    if pg_isready -q -h 127.0.0.1; then
        say "PostgreSQL is up"
    else
        echo "warning: PostgreSQL still not answering on 127.0.0.1:5432; tests needing it will fail or skip" >&2
    fi
fi

# database "test" (user postgres, trust auth on loopback)
if pg_isready -q -h 127.0.0.1 2>/dev/null; then
    if psql -h 127.0.0.1 -U postgres -d test -Atc 'select 1' >/dev/null 2>&1; then
        say "database test is reachable as postgres@127.0.0.1"
    elif createdb -h 127.0.0.1 -U postgres test 2>/dev/null; then
        say "created database test"
    else
        echo "warning: can't reach or create database test as postgres@127.0.0.1 (trust auth?)" >&2
    fi
fi

# ---- format, build and test ----
# Formatting is checked first (rustfmt.toml: the project's 140-column style); a toolchain
# without rustfmt skips the check with a warning rather than failing the suite.
if cargo fmt --version >/dev/null 2>&1; then
    say "cargo fmt --check"
    cargo fmt --check
else
    echo "warning: rustfmt not installed; formatting not checked" >&2
fi

say "benchmark report rules (python3 benches/test_report.py)"
python3 benches/test_report.py

say "cargo build --bins"
cargo build --bins

say "cargo test --no-fail-fast"
if cargo test --no-fail-fast; then
    say "all tests passed"
else
    rc=$?
    say "tests FAILED (exit $rc)"
    exit "$rc"
fi
