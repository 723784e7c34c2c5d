#!/usr/bin/env bash
# benches/capped-ab.sh - what one change to urpd bought, measured the way capped.sh measures
# the issue-6 ratio: two urpd builds, not urpd and Kamailio.
#
#   benches/capped-ab.sh OLD_URPD [register|call|options] [PCT] [PAIRS]
#   defaults: register 30 2;  the new build is $URPD or target/release/urpd
#
# Why: the capped maximum of one build moves with this shared host by more than a step of
# optimisation buys (Kamailio's capped REGISTER maximum read 16,000/s and 11,000/s on two days
# with the same config), so a before/after taken an hour apart, or against an earlier round's
# table, measures the host. This interleaves the two builds (new, old, old, new, ...: each
# pair in the other order from the last), each search exactly `URPD=... sip-bench.sh --cap PCT
# --scenarios SCENARIO --only urpd --no-build`, and prints each pair's maxima, the CPU per
# transaction at them and the medians (`report.py ab-summary`). Build the old one beside the
# tree, e.g. `git worktree add /work/old REV && cp -r target/release /work/old/target/ &&
# (cd /work/old && cargo build --release)`.
# Results: benches/results/ab-<scenario>-<pct>-<UTC>/ (pairN-new/, pairN-old/, summary.md).
# Bounded: every search is sip-bench.sh's, itself under its overall bound.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OLD=${1:?usage: capped-ab.sh OLD_URPD [SCENARIO] [PCT] [PAIRS]}
SCEN=${2:-register}; PCT=${3:-30}; PAIRS=${4:-2}
NEW=${URPD:-$ROOT/target/release/urpd}
for b in "$OLD" "$NEW"; do [ -x "$b" ] || { echo "no urpd build at $b" >&2; exit 1; }; done
TS=$(date -u +%Y%m%dT%H%M%SZ)
BASE=$ROOT/benches/results/ab-$SCEN-$PCT-$TS
mkdir -p "$BASE"
echo "old: $OLD ($("$OLD" --version 2>/dev/null)); new: $NEW ($("$NEW" --version 2>/dev/null))" > "$BASE/builds.txt"

for i in $(seq 1 "$PAIRS"); do
    if [ $((i % 2)) = 1 ]; then order="new old"; else order="old new"; fi
    for b in $order; do
        if [ "$b" = new ]; then bin=$NEW; else bin=$OLD; fi
        echo "[$(date +%T)] pair $i: $b" >&2
        URPD=$bin "$ROOT/benches/sip-bench.sh" --cap "$PCT" --scenarios "$SCEN" --only urpd --no-build \
            --out "$BASE/pair$i-$b" > "$BASE/pair$i.$b.log" 2>&1 \
            || echo "pair $i: $b search exited $? (see $BASE/pair$i.$b.log)" >&2
    done
done

python3 "$ROOT/benches/report.py" ab-summary "$BASE" "$SCEN" "$PCT" "$PAIRS"
