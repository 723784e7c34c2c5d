#!/usr/bin/env bash
# benches/capped.sh - the issue-6 maximum-rate ratio, measured so that it can be quoted.
#
#   benches/capped.sh [register|call|options] [PCT] [PAIRS]
#   defaults: register 30 3
#
# Why: capped at PCT% of a core (sip-bench.sh --cap), the maximum-rate search measures the
# server, not SIPp, but one search per server still moves with the host: Kamailio's capped
# REGISTER maximum read 10,004/s and 18,014/s in two runs of the same config an hour apart
# (docs/benchmarks.md, rounds 10 and 11), so a single pair can read 1.80x or 1.22x. This runs
# PAIRS pairs of searches, alternating which server goes first (KU, UK, KU, ...), each exactly
# `sip-bench.sh --cap PCT --scenarios SCENARIO --only SERVER --no-build` into its own folder,
# and prints each pair's maxima and ratio, the medians, and the goal runs (urpd at 1.5x that
# pair's Kamailio maximum: sip-bench.sh makes one when Kamailio went first; in the other pairs a
# GOAL_ONLY=1 run of urpd follows Kamailio's search, so every pair has one).
# TRANSPORT=tcp: every search's load over one TCP connection (sip-bench.sh's TRANSPORT); the
# folder is then capped-<scenario>-tcp-<pct>-<UTC>/ and the summary's title says so;
# TRANSPORT=tcp-per-call: a connection per SIPp call (folder capped-<scenario>-tcp-per-call-...;
# SIPp's own limit, ~500 new connections a second, ends such a search: see lowload.sh).
# Results: benches/results/capped-<scenario>-<pct>-<UTC>/ (pairN/ per pair, summary.md,
# summary.json). Bounded: every search is sip-bench.sh's, itself under its overall bound.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCEN=${1:-register}; PCT=${2:-30}; PAIRS=${3:-3}
# Calls: Kamailio with one UDP worker unless told otherwise. With two it forwards some 180s
# after their 200 and SIPp aborts those calls, so its "maximum" reads ~170/s (round 16's first
# call run, started without KAM_CHILDREN=1: docs/benchmarks.md).
[ "$SCEN" = call ] && export KAM_CHILDREN=${KAM_CHILDREN:-1}
[ -x "${URPD:-$ROOT/target/release/urpd}" ] || { echo "build first: cargo build --release" >&2; exit 1; }
TS=$(date -u +%Y%m%dT%H%M%SZ)
# TRANSPORT=tcp (sip-bench.sh's): the load over one TCP connection; the folder says so.
T=""; case ${TRANSPORT:-udp} in tcp) T=-tcp ;; tcp-per-call) T=-tcp-per-call ;; esac
BASE=$ROOT/benches/results/capped-$SCEN$T-$PCT-$TS
mkdir -p "$BASE"

for i in $(seq 1 "$PAIRS"); do
    if [ $((i % 2)) = 1 ]; then order="kamailio urpd"; else order="urpd kamailio"; fi
    for s in $order; do
        echo "[$(date +%T)] pair $i: $s" >&2
        "$ROOT/benches/sip-bench.sh" --cap "$PCT" --scenarios "$SCEN" --only "$s" --no-build \
            --out "$BASE/pair$i" > "$BASE/pair$i.$s.log" 2>&1 \
            || echo "pair $i: $s search exited $? (see $BASE/pair$i.$s.log)" >&2
    done
    # urpd went first: its goal run (1.5x this pair's Kamailio maximum) comes after Kamailio's search
    if [ "$order" = "urpd kamailio" ]; then
        echo "[$(date +%T)] pair $i: urpd goal run" >&2
        GOAL_ONLY=1 "$ROOT/benches/sip-bench.sh" --cap "$PCT" --scenarios "$SCEN" --only urpd --no-build \
            --out "$BASE/pair$i" > "$BASE/pair$i.urpd-goal.log" 2>&1 \
            || echo "pair $i: urpd goal run exited $? (see $BASE/pair$i.urpd-goal.log)" >&2
    fi
done

python3 "$ROOT/benches/report.py" capped-summary "$BASE" "$SCEN" "$PCT" "$PAIRS"
