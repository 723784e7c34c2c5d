#!/usr/bin/env bash
# benches/lowload.sh - the issue-6 ratio at a fixed low load, measured so that it can be quoted.
#
#   benches/lowload.sh [register|call|options|phones] [RATE] [SECONDS] [REPEATS]
#   defaults: register 500 15 5   (the fixed loads of sip-bench.sh: register 500, call 100)
#
# Why: at 500 REGISTER/s or 100 calls/s a server is mostly idle, and the CPU seconds one run
# measures move with whatever else this shared 2-core VM does at that moment: Kamailio's own
# figure moved 0.0385-0.0855 CPU s per 1,000 transactions between single runs of the same
# config (docs/benchmarks.md), so one urpd run next to one Kamailio run can read 0.58x or
# 0.97x for the same code. This runs the two servers in turn, REPEATS times each (ABAB...,
# each run exactly as `benches/profile.sh SCENARIO RATE SECONDS cpu`: same config, users,
# pinning, 2 s warm-up), and prints every pair's ratio and the median of each server's
# figures: a drift of the machine moves both halves of a pair, and the median ignores the one
# run a neighbour spoiled; a bootstrap interval of the ratio says how far that median can be
# trusted. Results appended to benches/results/lowload.csv (not committed).
# Bounded: every run is profile.sh's, itself under `timeout`; ~(SECONDS + 12) s per run.
#
# OLD=/path/to/an/older/urpd: an A/B of two urpd builds instead (what a change bought at low
# load): the older build takes Kamailio's place, in the same interleaving, and the ratio is
# new/old (OLD_COMMIT names it in the CSV).
# CAP=PCT (profile.sh's): every run capped at PCT% of one core, for a fixed load near the goal
# rate (round 23's A/B: OLD=... CAP=30 benches/lowload.sh register 5000 10 6).
# TRANSPORT=tcp (profile.sh's): the load over one TCP connection; the CSV's scenario reads
# e.g. register-tcp (TRANSPORT=tcp-per-call: a connection per SIPp call, register-tcp-per-call;
# keep REGISTER at ~300/s there: from ~500 new connections a second SIPp's runs fail with
# either server, most likely its local ports held in TIME_WAIT). Build the old one in a worktree (see capped-ab.sh) or keep a copy of its binary.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCEN=${1:-register}; RATE=${2:-500}; DUR=${3:-15}; REPS=${4:-5}
URPD=${URPD:-$ROOT/target/release/urpd}
CSV=$ROOT/benches/results/lowload.csv
mkdir -p "$(dirname "$CSV")"
[ -f "$CSV" ] || echo "utc,commit,scenario,rate,seconds,repeat,server,cpu_s_per_1k_tx,ok,failed" > "$CSV"
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
LABEL=$SCEN; [ "${TRANSPORT:-udp}" = udp ] || LABEL=$SCEN-$TRANSPORT

OLD=${OLD:-}
[ -z "$OLD" ] || [ -x "$OLD" ] || { echo "OLD=$OLD is not an executable urpd" >&2; exit 1; }
OTHER=kamailio; OTHER_NAME=Kamailio
[ -n "$OLD" ] && { OTHER=urpd-old; OTHER_NAME="old urpd"; }

# one SERVER (urpd, kamailio or urpd-old): prints "CPU OK FAILED" (CPU s per 1,000 tx, SIPp
# calls ok and failed)
one() {
    local out server=$1 bin=$URPD
    [ "$server" = urpd-old ] && { server=urpd; bin=$OLD; }
    out=$(SERVER=$server URPD=$bin "$ROOT/benches/profile.sh" "$SCEN" "$RATE" "$DUR" cpu 2>&1 | grep "CPU s / 1000 tx")
    # "register at 500/s: 7500 calls ok, 0 failed; ... CPU s / 1000 tx: 0.0667 (user ..."
    python3 -c '
import re, sys
s = sys.argv[1]
cpu = re.search(r"CPU s / 1000 tx: ([0-9.]+)", s)
ok = re.search(r"(\d+) calls ok", s)
failed = re.search(r"(\d+) failed", s)
print(cpu.group(1) if cpu else "nan", ok.group(1) if ok else 0, failed.group(1) if failed else 0)' "$out"
}

declare -a U K
for i in $(seq 1 "$REPS"); do
    # Alternate which server goes first, so neither always runs right after a build or a warm cache.
    if [ $((i % 2)) = 1 ]; then order="urpd $OTHER"; else order="$OTHER urpd"; fi
    for s in $order; do
        read -r cpu ok failed < <(one $s)
        c=$COMMIT; [ $s = urpd-old ] && c=${OLD_COMMIT:-old}
        echo "$(date -u +%FT%TZ),$c,$LABEL,$RATE,$DUR,$i,$s,$cpu,$ok,$failed" >> "$CSV"
        if [ $s = urpd ]; then U[$i]=$cpu; else K[$i]=$cpu; fi
        echo "run $i $s: $cpu CPU s / 1000 tx ($ok calls ok, $failed failed)" >&2
    done
done

python3 - "$LABEL" "$RATE" "${U[*]}" "${K[*]}" "$OTHER_NAME" <<'EOF'
import statistics, sys
scen, rate, other = sys.argv[1], sys.argv[2], sys.argv[5]
u = [float(x) for x in sys.argv[3].split()]
k = [float(x) for x in sys.argv[4].split()]
pairs = [a / b for a, b in zip(u, k) if b > 0]
print(f"{scen} at {rate}/s, {len(u)} runs each (CPU s per 1,000 transactions)")
print(f"| run | urpd | {other} | ratio |")
print("|---|---|---|---|")
for i, (a, b) in enumerate(zip(u, k), 1):
    print(f"| {i} | {a:.4f} | {b:.4f} | {a / b:.2f} |")
mu, mk = statistics.median(u), statistics.median(k)
print(f"| median | {mu:.4f} | {mk:.4f} | **{mu / mk:.2f}** |")
print(f"pair ratios: median {statistics.median(pairs):.2f}, range {min(pairs):.2f}-{max(pairs):.2f}; "
      f"urpd {min(u):.4f}-{max(u):.4f}, {other} {min(k):.4f}-{max(k):.4f}")
# How far the ratio of medians can be trusted with this few runs: a bootstrap (each server's
# runs resampled with replacement, 4,000 times, fixed seed so a rerun of the script on the same
# numbers prints the same interval).
import random
rng = random.Random(6)
boot = sorted(statistics.median(rng.choices(u, k=len(u))) / statistics.median(rng.choices(k, k=len(k)))
              for _ in range(4000))
lo, hi = boot[int(0.05 * len(boot))], boot[int(0.95 * len(boot)) - 1]
print(f"ratio of medians {mu / mk:.2f}, 90% bootstrap interval {lo:.2f}-{hi:.2f}")
EOF
