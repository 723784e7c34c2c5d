#!/bin/sh
# benches/in-cgroup.sh PROCS_FILE COMMAND... - moves itself into a cgroup (writing its pid to
# PROCS_FILE, e.g. /sys/fs/cgroup/cpu/X/cgroup.procs) and execs COMMAND, which then runs with
# that cgroup's CPU quota, children included (used by sip-bench.sh --cap).
procs=$1; shift
echo $$ > "$procs" || exit 1
exec "$@"
