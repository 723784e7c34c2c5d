#!/usr/bin/env bash
# benches/crm-bench.sh — what the CRM costs a citizen's call (issue 5, "Speed").
#
# Citizens' calls from a PSTN gateway that urpd trusts by address (SIPp uac_citizen.xml) to an
# agent (SIPp uas_answer.xml), at fixed rates, with urpd's CRM
#   off       ([crm] enabled = false: no lookup, no case headers, no timeline)
#   sqlite    (the embedded default: <state_dir>/crm.db)
#   postgres  (127.0.0.1:5432, a database created and dropped by this script)
# and for each: achieved calls/s, failed calls, urpd's CPU ms per call (utime+stime from
# /proc/PID/stat), and the INVITE→200 response time p50/p99 seen by the gateway (SIPp rtt dump,
# 1 ms resolution), with the difference to "off".
#
#   benches/crm-bench.sh [--no-build]          RATES="100 400" DUR=10 by default
#
# urpd is pinned to CPU 1, SIPp to CPU 0. Traffic stays on 127.0.205.0/24. Bounded: every SIPp
# run has a timeout and everything started is killed on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=1
[ "${1:-}" = "--no-build" ] && BUILD=0
RATES=${RATES:-"100 400"}
DUR=${DUR:-10}
IP=127.0.205.1 GW=127.0.205.2 AGENT=127.0.205.3 PORT=5060
URPD=$ROOT/target/release/urpd
WORK=$(mktemp -d)
OUT=$ROOT/benches/results/crm-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
DB=urpd_bench_crm_$$
PIDS=()
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
cleanup() {
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
TICK=$(getconf CLK_TCK)

[ $BUILD = 1 ] && { log "building urpd (release)"; cargo build --release --quiet; }
if psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE $DB" >/dev/null 2>&1; then HAVE_PG=1; else HAVE_PG=0; log "PostgreSQL not reachable: skipping the postgres mode"; fi

echo "mode,rate,achieved_cps,ok,failed,cpu_ms_per_call,p50_ms,p99_ms" > "$OUT/results.csv"
for mode in off sqlite postgres; do
    [ $mode = postgres ] && [ $HAVE_PG = 0 ] && continue
    d=$WORK/$mode; mkdir -p "$d/state"
    {
        printf '[node]\nid = "bench"\n[auth]\nalgorithms = ["MD5"]\ntrusted_peers = ["%s/32"]\n' "$GW"
        printf '[transport]\nrate_limit_per_ip = 0\n[log]\nlevel = "warn"\n[crm]\n'
        case $mode in
            off) printf 'enabled = false\n' ;;
            sqlite) printf 'enabled = true\n' ;;
            postgres) printf 'enabled = true\nurl = "postgres://postgres@127.0.0.1:5432/%s"\n' "$DB" ;;
        esac
    } > "$d/urpd.toml"
    "$URPD" --config "$d/urpd.toml" --state-dir "$d/state" user add bob --password bobpw >/dev/null
    setsid taskset -c 1 "$URPD" --config "$d/urpd.toml" --state-dir "$d/state" run --listen "udp:$IP:$PORT" > "$d/urpd.log" 2>&1 &
    upid=$!; PIDS+=("$upid")
    for _ in $(seq 1 50); do ss -Hlun "src $IP:$PORT" | grep -q . && break; sleep 0.2; done
    (cd "$d" && timeout 20 taskset -c 0 sipp "$IP:$PORT" -sf "$ROOT/sipp-scenarios/register_auth.xml" -m 1 -s bob -au bob -ap bobpw \
        -i "$AGENT" -p 5063 -nostdin -timeout 10 -timeout_error > reg.out 2>&1) || log "$mode: agent REGISTER failed"
    (cd "$d" && exec timeout 600 taskset -c 0 sipp "$IP:$PORT" -sf "$ROOT/sipp-scenarios/uas_answer.xml" -s bob -i "$AGENT" -p 5063 \
        -buff_size 8388608 -nostdin > uas.out 2>&1) &
    uas=$!; PIDS+=("$uas")
    sleep 1
    for rate in $RATES; do
        n=$((rate * DUR)); r=$d/run-$rate; mkdir -p "$r"
        c0=$(cpu_of "$upid")
        (cd "$r" && timeout $((DUR * 3 + 40)) taskset -c 0 sipp "$IP:$PORT" -sf "$ROOT/sipp-scenarios/uac_citizen.xml" -s bob \
            -key citizen +390612345678 -i "$GW" -p 5061 -r "$rate" -m "$n" -l $((rate * 4 + 50)) -d 200 \
            -trace_stat -stf stat.csv -trace_rtt -rtt_freq 1 -buff_size 8388608 -nostdin -timeout $((DUR * 3 + 30)) > sipp.out 2>&1) || true
        c1=$(cpu_of "$upid")
        python3 - "$r" "$mode" "$rate" "$n" "$c0" "$c1" "$TICK" "$DUR" >> "$OUT/results.csv" <<'EOF'
import csv, glob, sys
r, mode, rate, n, c0, c1, tick, dur = sys.argv[1:]
ok = failed = 0
elapsed = float(dur)
rows = list(csv.reader(open(glob.glob(r + "/*_.csv")[0] if glob.glob(r + "/*_.csv") else glob.glob(r + "/stat.csv")[0]), delimiter=";"))
if len(rows) >= 2:
    h = rows[0]; last = rows[-1]
    def col(name):
        return float(last[h.index(name)]) if name in h else 0.0
    ok, failed = int(col("SuccessfulCall(C)")), int(col("FailedCall(C)"))
    el = last[h.index("ElapsedTime(C)")] if "ElapsedTime(C)" in h else ""
    try:
        hh, mm, rest = el.split(":")[:3]
        elapsed = max(0.001, int(hh) * 3600 + int(mm) * 60 + float(rest.split(":")[0]))
    except Exception:
        pass
times = []
for f in glob.glob(r + "/*_rtt.csv"):
    for line in open(f):
        parts = line.strip().split(";")
        if len(parts) >= 2:
            try:
                times.append(float(parts[1]))
            except ValueError:
                pass
times.sort()
pct = lambda p: times[min(len(times) - 1, int(p * len(times)))] if times else float("nan")
cpu_ms = (float(c1) - float(c0)) / float(tick) * 1000.0 / max(ok, 1)
print(f"{mode},{rate},{ok / elapsed:.1f},{ok},{failed},{cpu_ms:.3f},{pct(0.5):.1f},{pct(0.99):.1f}")
EOF
        log "$mode $rate/s: $(tail -1 "$OUT/results.csv")"
        sleep 2
    done
    kill "$uas" "$upid" 2>/dev/null || true; wait "$uas" "$upid" 2>/dev/null || true
done

python3 - "$OUT/results.csv" <<'EOF' | tee "$OUT/summary.md"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
off = {r["rate"]: r for r in rows if r["mode"] == "off"}
print("# Citizen calls with the CRM lookup: off / SQLite / PostgreSQL\n")
print("| mode | offered calls/s | achieved | failed | urpd CPU ms/call | Δ CPU vs off | INVITE→200 p50 / p99 ms | Δ p50 / p99 vs off |")
print("|---|---|---|---|---|---|---|---|")
for r in rows:
    o = off.get(r["rate"])
    dc = f'{float(r["cpu_ms_per_call"]) - float(o["cpu_ms_per_call"]):+.3f}' if o else "-"
    dl = f'{float(r["p50_ms"]) - float(o["p50_ms"]):+.1f} / {float(r["p99_ms"]) - float(o["p99_ms"]):+.1f}' if o else "-"
    print(f'| {r["mode"]} | {r["rate"]} | {r["achieved_cps"]} | {r["failed"]} | {r["cpu_ms_per_call"]} | {dc} | {r["p50_ms"]} / {r["p99_ms"]} | {dl} |')
EOF
log "results: $OUT"
