#!/usr/bin/env bash
# benches/profile.sh - where urpd spends its CPU under one SIPp load (issue 6).
#
#   benches/profile.sh [register|call|options|phones] [RATE] [SECONDS] [perf|split|syscalls|strace|cpu|threads|instr|flame]
#   defaults: register 8000 10 perf;  SERVER=kamailio benches/profile.sh ... profiles Kamailio
#   (benches/kamailio/kamailio.cfg, -n 2, as in sip-bench.sh) under the same load instead;
#   CAP=PCT runs the server in a CPU cgroup limited to PCT% of one core (10 ms CFS period), as
#   sip-bench.sh --cap does: for latency at a goal rate without the whole bench;
#   URPD_UDP_WAIT_US: urpd's transport.udp_batch_wait_us (unset: the daemon's default);
#   URPD_TOML_EXTRA: more lines for urpd's config (e.g. $'[timers]\nt1_ms = 100', an experiment);
#   KAM_MEM (default fm), KAM_NC (default 1) and URPD_LOG (default info) as in sip-bench.sh;
#   TRANSPORT=tcp: the server listens on TCP too and SIPp's load goes over one TCP connection
#   (`-t t1`) instead of UDP (the call scenario's UAS stays on UDP); TRANSPORT=tcp-per-call: a
#   connection per SIPp call (`-t tn`), with sip-bench.sh's REGISTER Contact and no -buff_size;
#   scenario `phones`: PHONES (default 1000) long-lived TCP connections, one per phone, each
#   re-registering on its own connection (benches/sipp/register_phones.xml), RATE REGISTERs a
#   second in all
#
# Starts the release urpd exactly as benches/sip-bench.sh does (same config, 1,000 load users,
# pinned to CPU 1; SIPp on CPU 0), offers RATE SIPp calls/s for SECONDS and meanwhile
#   perf:   `perf record -g` on urpd, then prints the top symbols (self and children)
#   strace: `strace -c -f` on urpd (slows the server: shows which calls, not how many at RATE)
#   syscalls: syscall and context-switch counts per transaction from perf tracepoints (cheap);
#           STAT_EVENTS replaces the list (e.g. timer:hrtimer_start,timer:hrtimer_cancel)
#   cpu:    only the CPU seconds per 1,000 transactions (utime/stime split), for before/after
#   flame:  `perf record` with call graphs (DWARF unwinding: release builds keep no frame
#           pointers; FLAME_CG=fp on a frame-pointer build), folded by benches/flamegraph.py
#           into $OUT/stacks.folded and drawn as $OUT/flame.svg; prints the widest frames.
#           FLAME_HZ sets the sampling rate (default 999)
#   threads: the same, and each of the server's threads' share (name, user and system ticks in
#           the window, from /proc/PID/task): which thread spends what (the core, the SQLite
#           worker, the blocking pool)
#   split:  the same, split into user and kernel time by sampling the server at ~5 kHz (`perf
#           record -F 4999`): /proc's split is tick-based, too coarse at low load
#   instr:  the server under callgrind, counting only the measured window: instructions per
#           transaction and the functions that execute them. Repeatable (the same count for
#           the same binary and load, whatever else the machine does), unlike the CPU seconds
#           on this shared 2-core VM: for before/after of user-space changes, and (SERVER=
#           kamailio: every Kamailio process, summed) for the user-space work of the two
#           servers side by side. Use low rates (~100-300/s): the server runs ~50x slower.
#           Kernel work is not counted.
# Output in /tmp/urpd-profile/ (perf.data, report.txt, sipp output). Bounded: every tool runs
# under `timeout`; the daemon and the UAS are stopped on exit. Traffic stays on 127.0.203.0/24.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/benches/lib.sh"
SCEN=${1:-register}; RATE=${2:-8000}; DUR=${3:-10}; TOOL=${4:-perf}
OUT=/tmp/urpd-profile; rm -rf "$OUT"; mkdir -p "$OUT/state"
IP=127.0.203.1; SIPP_IP=127.0.203.2; PORT=5060
URPD=${URPD:-$ROOT/target/release/urpd}
REPORT="python3 $ROOT/benches/report.py"
PIDS=()
CGDIR=""
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    if [ -n "${SID:-}" ]; then
        kill -TERM -- "-$SID" 2>/dev/null
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 -- "-$SID" 2>/dev/null || break; sleep 0.5; done
        kill -KILL -- "-$SID" 2>/dev/null
    fi
    [ -n "$CGDIR" ] && { sleep 0.5; rmdir "$CGDIR" 2>/dev/null; }
    return 0
}
trap cleanup EXIT
IN_CG=""
if [ -n "${CAP:-}" ]; then
    quota=$((CAP * 100))   # microseconds per 10 ms period
    if [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ] && mkdir -p /sys/fs/cgroup/cpu/urpd-profile-$$ 2>/dev/null; then
        CGDIR=/sys/fs/cgroup/cpu/urpd-profile-$$
        echo 10000 > "$CGDIR/cpu.cfs_period_us" && echo $quota > "$CGDIR/cpu.cfs_quota_us" || exit 1
    elif [ -f /sys/fs/cgroup/cgroup.controllers ] && mkdir -p /sys/fs/cgroup/urpd-profile-$$ 2>/dev/null; then
        CGDIR=/sys/fs/cgroup/urpd-profile-$$
        echo "$quota 10000" > "$CGDIR/cpu.max" || exit 1
    else
        echo "CAP needs a writable cgroup cpu controller" >&2; exit 1
    fi
    IN_CG="$ROOT/benches/in-cgroup.sh $CGDIR/cgroup.procs"
fi
[ -x "$URPD" ] || { echo "build first: cargo build --release" >&2; exit 1; }
taskset -pc 0 $$ >/dev/null

cat > "$OUT/urpd.toml" <<EOF
[node]
id = "bench"
domains = []
realm = "urpd"
[transport]
rate_limit_per_ip = 0
${URPD_UDP_WAIT_US:+udp_batch_wait_us = $URPD_UDP_WAIT_US}
[auth]
algorithms = ["MD5"]
[log]
level = "${URPD_LOG:-info}"
${URPD_TOML_EXTRA:-}
EOF
"$URPD" --config "$OUT/urpd.toml" --state-dir "$OUT/state" user add alice --password alicepw >/dev/null || exit 1
$REPORT provision-urpd "$OUT/state/urpd.db" urpd alice:alicepw bob:bobpw ${PROVISION:-u0-999} >/dev/null || exit 1
$REPORT users-csv "$OUT/users.csv" 0 1000
TRANSPORT=${TRANSPORT:-udp}
LISTEN=(--listen udp:$IP:$PORT); KAM_TCP=""; SIPP_T=(); SIPP_BUF=(-buff_size 8388608)
# phones: long-lived TCP connections, one per phone (see the scenario below)
[ "$SCEN" = phones ] && TRANSPORT=tcp-per-call
if [ "$TRANSPORT" = tcp ] || [ "$TRANSPORT" = tcp-per-call ]; then
    LISTEN+=(--listen tcp:$IP:$PORT); KAM_TCP="-l tcp:$IP:$PORT"; SIPP_T=(-t t1)
    [ "$TRANSPORT" = tcp-per-call ] && { SIPP_T=(-t tn -max_socket 10000); SIPP_BUF=(); }
fi
if [ "${SERVER:-urpd}" = kamailio ]; then
    KAM_NC_DEF="-A WITH_NONCE_COUNT"; [ "${KAM_NC:-1}" = 0 ] && KAM_NC_DEF=""
    mkdir -p "$OUT/kam/db" "$OUT/kam/run"; cp "$ROOT/benches/kamailio/kamailio.cfg" "$OUT/kam/"
    echo '$var(bench_users) = "db_text";' > "$OUT/kam/users.cfg"
    $REPORT provision-kam "$OUT/kam/db" alice:alicepw bob:bobpw u0-999 >/dev/null || exit 1
    # Under callgrind every process Kamailio forks gets its own counts (summed below).
    VG=""; [ "$TOOL" = instr ] && VG="valgrind --tool=callgrind --trace-children=yes --instr-atstart=no --callgrind-out-file=$OUT/callgrind.out.%p"
    setsid $IN_CG taskset -c 1 $VG kamailio -f "$OUT/kam/kamailio.cfg" -DD -E -n ${KAM_CHILDREN:-2} -m 512 -M 16 -x ${KAM_MEM:-fm} -X ${KAM_MEM:-fm} -Y "$OUT/kam/run" \
        -l udp:$IP:$PORT $KAM_TCP -A WITH_DBTEXT_USERS -A "USERS_DB=\"text://$OUT/kam/db\"" \
        -A 'CREDS_HTABLE="creds=>size=17;autoexpire=0;dbtable=creds;"' $KAM_NC_DEF > "$OUT/kamailio.log" 2>&1 &
elif [ "$TOOL" = instr ]; then
    setsid taskset -c 1 valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT/callgrind.out" \
        "$URPD" --config "$OUT/urpd.toml" run --state-dir "$OUT/state" "${LISTEN[@]}" > "$OUT/urpd.log" 2>&1 &
else
    setsid $IN_CG taskset -c 1 "$URPD" --config "$OUT/urpd.toml" run --state-dir "$OUT/state" \
        "${LISTEN[@]}" > "$OUT/urpd.log" 2>&1 &
fi
SID=$!
for _ in $(seq 1 240); do ss -Hlun "src $IP:$PORT" | grep -q . && break; sleep 0.25; done
PID=$(pgrep -s "$SID" | tr '\n' ',' | sed 's/,$//')

case $SCEN in
    register) TX=2; ARGS=(-sf "$ROOT/benches/sipp/register_inf.xml" -inf "$OUT/users.csv" -p 5061)
        if [ "$TRANSPORT" = tcp-per-call ]; then
            fixed_contact_scenario "$OUT/register_inf.xml"
            ARGS[1]=$OUT/register_inf.xml
        fi ;;
    phones)
        # PHONES (default 1000) phones, each a SIPp call on its own TCP connection that
        # re-registers on it in a loop (benches/sipp/register_phones.xml): RATE REGISTERs a
        # second in all, so each phone pauses PHONES/RATE s between its registrations, for
        # SECONDS. All phones start within a second; the warm-up registers each once.
        PHONES=${PHONES:-1000}
        LOOPS=$(( DUR * RATE / PHONES )); [ "$LOOPS" -ge 1 ] || LOOPS=1
        TX=$(( 2 * LOOPS ))
        ARGS=(-sf "$ROOT/benches/sipp/register_phones.xml" -inf "$OUT/users.csv" -p 5061 -l "$PHONES"
              -set pause $(( 1000 * PHONES / RATE )) -set loops "$LOOPS")
        SIPP_T=(-t tn -max_socket $(( PHONES + 100 ))) ;;
    options)  TX=1; ARGS=(-sf "$ROOT/benches/sipp/options.xml" -p 5064) ;;
    call)     TX=3
        (cd "$OUT" && timeout 20 sipp $IP:$PORT -sf "$ROOT/sipp-scenarios/register_auth.xml" -m 1 -s bob -au bob -ap bobpw \
            -i $SIPP_IP -p 5063 -nostdin -timeout 10 -timeout_error > bob-register.out 2>&1)
        (cd "$OUT" && exec timeout $((DUR * 3 + 60)) sipp $IP:$PORT -sf "$ROOT/sipp-scenarios/uas_answer.xml" -s bob \
            -i $SIPP_IP -p 5063 -buff_size 8388608 -max_recv_loops 10000 -nostdin > uas.out 2>&1) &
        PIDS+=($!)
        ARGS=(-sf "$ROOT/benches/sipp/uac_call.xml" -s bob -key caller alice -au alice -ap alicepw
              -auth_uri "bob@$IP:$PORT" -d 500 -p 5062) ;;
    *) echo "unknown scenario $SCEN" >&2; exit 2 ;;
esac

# warm up 2 s (caches, first registrations), then measure
# phones: the calls are the phones (PHONES of them, started at once), not RATE a second
WARM_ARGS=("${ARGS[@]}" -r "$RATE" -m $((RATE * 2))); RUN_ARGS=("${ARGS[@]}" -r "$RATE" -m $((RATE * DUR)))
if [ "$SCEN" = phones ]; then
    # the same phones registering once each (ARGS ends with the loop count)
    WARM_ARGS=("${ARGS[@]:0:${#ARGS[@]}-1}" 1 -r "$PHONES" -m "$PHONES"); RUN_ARGS=("${ARGS[@]}" -r "$PHONES" -m "$PHONES")
fi
(cd "$OUT" && timeout 30 sipp $IP:$PORT "${WARM_ARGS[@]}" "${SIPP_T[@]}" -i $SIPP_IP -nostdin \
    "${SIPP_BUF[@]}" -max_recv_loops 10000 -timeout 25 > warm.out 2>&1)
sleep 1
cpu() { for p in $(pgrep -s "$SID"); do awk '{print $14, $15}' /proc/$p/stat; done | awk '{u+=$1; s+=$2} END {print u, s}'; }
read -r u0 s0 < <(cpu)
# per thread: "pid/tid name utime stime" (the name may hold spaces: it is between parentheses)
threads() { for p in $(pgrep -s "$SID"); do for t in /proc/$p/task/*; do
    sed -E "s|^[0-9]+ \((.*)\) [A-Za-z] (.*)$|$p/${t##*/}\t\1\t\2|" "$t/stat" 2>/dev/null | awk -F'\t' '{split($3, f, " "); gsub(" ", "_", $2); print $1, $2, f[11], f[12]}'
done; done; }
[ "$TOOL" = threads ] && threads > "$OUT/threads0.txt"
# The profilers run on the server's CPU, not SIPp's: perf writing its samples on CPU 0 starved
# SIPp there, whose late reads then showed as the server's latency (answers over 20 ms from
# ~6 s into most urpd runs at 8,000 REGISTER/s, once a retransmission collapse; none with perf
# on CPU 1). The server's figures under a profiler are not measurements either way.
case $TOOL in
    perf) taskset -c 1 timeout $((DUR + 5)) perf record ${PERF_EVENTS:--F 1999} -g -o "$OUT/perf.data" -p "$PID" -- sleep "$DUR" 2> "$OUT/perf.err" & PIDS+=($!) ;;
    flame) taskset -c 1 timeout $((DUR + 5)) perf record -F "${FLAME_HZ:-999}" --call-graph "${FLAME_CG:-dwarf,16384}" -o "$OUT/perf.data" -p "$PID" -- sleep "$DUR" 2> "$OUT/perf.err" & PIDS+=($!) ;;
    split) taskset -c 1 timeout $((DUR + 5)) perf record -F 4999 -o "$OUT/perf.data" -p "$PID" -- sleep "$DUR" 2> "$OUT/perf.err" & PIDS+=($!) ;;
    strace) taskset -c 1 timeout $((DUR + 5)) strace -c -f -o "$OUT/strace.txt" -p "$PID" & PIDS+=($!) ;;
    instr) for p in ${PID//,/ }; do timeout 30 callgrind_control -z "$p" > /dev/null; timeout 30 callgrind_control -i on "$p" > /dev/null; done ;;
    syscalls) taskset -c 1 timeout $((DUR + 5)) perf stat -x, -o "$OUT/syscalls.txt" -p "$PID" \
        -e "${STAT_EVENTS:-syscalls:sys_enter_recvfrom,syscalls:sys_enter_recvmmsg,syscalls:sys_enter_sendto,syscalls:sys_enter_sendmmsg,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_futex,syscalls:sys_enter_write,syscalls:sys_enter_pwrite64,syscalls:sys_enter_pread64,context-switches}" \
        -- sleep "$DUR" & PIDS+=($!) ;;
esac
(cd "$OUT" && timeout $((DUR * 3 + 40)) sipp $IP:$PORT "${RUN_ARGS[@]}" "${SIPP_T[@]}" -i $SIPP_IP -nostdin \
    "${SIPP_BUF[@]}" -max_recv_loops 10000 -timeout $((DUR * 3 + 30)) -trace_stat -stf stat.csv -fd 1 \
    -trace_rtt -rtt_freq 200 > sipp.out 2>&1)
read -r u1 s1 < <(cpu)
[ "$TOOL" = threads ] && threads > "$OUT/threads1.txt"
if [ "$TOOL" = instr ]; then
    for p in ${PID//,/ }; do
        timeout 30 callgrind_control -i off "$p" > /dev/null
        timeout 60 callgrind_control -d "$p" > /dev/null
    done
fi
rss=$(for p in $(pgrep -s "$SID"); do awk '/^VmRSS/ {print $2}' /proc/$p/status; done | awk '{s+=$1} END {print int(s/1024)}')
TP=""
case $TOOL in perf|split|strace|syscalls|flame) TP=${PIDS[${#PIDS[@]}-1]} ;; esac
[ "$TOOL" = strace ] && { kill -INT "$TP" 2>/dev/null; sleep 1; }
[ -n "$TP" ] && wait "$TP" 2>/dev/null
tk=$(getconf CLK_TCK)
ok=$(tail -1 "$OUT/stat.csv" | awk -F';' '{print $16}')   # SuccessfulCall(C)
fail=$(tail -1 "$OUT/stat.csv" | awk -F';' '{print $18}')
echo "server RSS at the end: $rss MB"
# response times (SIPp, 1 ms resolution): percentiles, and the seconds with answers over 20 ms
cat "$OUT"/*_rtt.csv 2>/dev/null | awk -F';' '$1 ~ /^[0-9.]+$/ {print $2, int($1 / 1000)}' | sort -n -k1,1 | awk '
    {v[NR] = $1; if ($1 > 20) slow[$2]++}
    END {if (NR) {printf "response ms p50 %d p90 %d p99 %d max %d;", v[int(NR*0.5)+1], v[int(NR*0.9)+1], v[int(NR*0.99)+1], v[NR];
         printf " seconds with answers over 20 ms:"; for (s in slow) printf " %ss(%d)", s, slow[s]; print ""}}' 
python3 - "$u0" "$s0" "$u1" "$s1" "$tk" "$ok" "$fail" "$TX" "$SCEN" "$RATE" <<'EOF'
import sys
u0, s0, u1, s1, tk, ok, fail, tx = map(float, sys.argv[1:9])
n = ok * tx
print(f"{sys.argv[9]} at {sys.argv[10]}/s: {int(ok)} calls ok, {int(fail)} failed; server user {(u1-u0)/tk:.2f} s, "
      f"system {(s1-s0)/tk:.2f} s; CPU s / 1000 tx: {1000*((u1-u0)+(s1-s0))/tk/n:.4f} "
      f"(user {1000*(u1-u0)/tk/n:.4f}, system {1000*(s1-s0)/tk/n:.4f}: the total is exact, the split is sampled at each tick)")
EOF
case $TOOL in
    perf)
        perf report -i "$OUT/perf.data" --no-children --sort symbol --stdio 2>/dev/null | grep -v '^#' | grep '%' | head -60 > "$OUT/report.txt"
        perf report -i "$OUT/perf.data" --children --sort symbol --stdio -g none 2>/dev/null | grep -v '^#' | grep '%' | head -60 > "$OUT/children.txt"
        echo "--- self"; cat "$OUT/report.txt"; echo "--- children"; head -40 "$OUT/children.txt" ;;
    split)
        # user vs kernel from ~5,000 samples/s of the server's threads: the tick-based split of
        # /proc is too coarse at low load; no PMU in this VM, so cpu-clock sampling it is.
        perf report -i "$OUT/perf.data" --sort dso --stdio 2>/dev/null | grep -v '^#' | grep '%' > "$OUT/dso.txt"
        python3 - "$OUT/dso.txt" "$u0" "$s0" "$u1" "$s1" "$tk" "$ok" "$TX" <<'EOF2'
import sys
k = u = 0.0
for line in open(sys.argv[1]):
    pct, dso = line.split(None, 1)
    v = float(pct.rstrip("%"))
    if "kernel" in dso or dso.strip().startswith("[k"):
        k += v
    else:
        u += v
u0, s0, u1, s1, tk, ok, tx = map(float, sys.argv[2:9])
total = ((u1 - u0) + (s1 - s0)) / tk / (ok * tx) * 1000
print(f"samples: user {u:.1f}%, kernel {k:.1f}% -> CPU s / 1000 tx: user {total * u / (u + k):.4f}, kernel {total * k / (u + k):.4f} (total {total:.4f})")
EOF2
        ;;
    strace) cat "$OUT/strace.txt" ;;
    flame)
        who=urpd; [ "${SERVER:-urpd}" = kamailio ] && who="Kamailio $(kamailio -v 2>/dev/null | awk 'NR == 1 {print $3}')"
        rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)
        timeout 600 perf script --no-inline -F comm,tid,period,ip,sym,dso -i "$OUT/perf.data" 2> "$OUT/script.err" \
            | python3 "$ROOT/benches/flamegraph.py" fold > "$OUT/stacks.folded"
        python3 "$ROOT/benches/flamegraph.py" svg "$OUT/stacks.folded" \
            --title "$who, $SCEN at $RATE/s for ${DUR} s (perf, ${FLAME_HZ:-999} Hz; urpd ${rev:-?}; $(date -u +%F))" > "$OUT/flame.svg" \
            && echo "flame graph: $OUT/flame.svg (folded stacks: $OUT/stacks.folded)"
        python3 "$ROOT/benches/flamegraph.py" top "$OUT/stacks.folded" 30 ;;
    threads)
        # ticks each thread spent in the window; threads born in it count from zero
        awk -v tk="$tk" 'NR == FNR {u[$1] = $3; s[$1] = $4; next}
            {du = $3 - u[$1]; ds = $4 - s[$1]; if (du + ds > 0) printf "%-28s %-18s user %6.2f s  system %6.2f s\n", $1, $2, du / tk, ds / tk}' \
            "$OUT/threads0.txt" "$OUT/threads1.txt" | sort -k4 -nr ;;
    instr)
        sleep 2
        # the dumps of the window (`callgrind_control -d` writes NAME.1), one per process
        dumps=$(ls "$OUT"/callgrind.out*.1 2>/dev/null)
        [ -n "$dumps" ] || { echo "no callgrind dump" >&2; exit 1; }
        total=0; big=0; f=""
        for d in $dumps; do
            t=$(callgrind_annotate "$d" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); if ($1 ~ /^[0-9]+$/) print $1; exit}')
            total=$((total + ${t:-0}))
            [ "${t:-0}" -gt "$big" ] && { big=${t:-0}; f=$d; }
        done
        # the functions of the busiest process (urpd has one; Kamailio's UDP workers split the load)
        callgrind_annotate --inclusive=no "$f" 2>/dev/null | head -45 > "$OUT/instr.txt"
        awk -v t="$total" -v n="$ok" -v tx="$TX" 'BEGIN {printf "instructions in the window: %d; per transaction: %.0f\n", t, t / (n * tx)}'
        sed -n '/^-.*$/,$p' "$OUT/instr.txt" | head -40 ;;
    syscalls) awk -F, -v n="$ok" -v tx="$TX" -v d="$DUR" '$1 ~ /^[0-9]/ {printf "%-40s %10d  %.2f per transaction\n", $3, $1, $1 / (n * tx * d / (d + 0.0))}' "$OUT/syscalls.txt" ;;
esac
