#!/usr/bin/env python3
"""Helpers for benches/sip-bench.sh (stdlib only).

  report.py provision-urpd DB REALM USERS...   add users (HA1s) straight into urpd's SQLite state
  report.py provision-kam DIR USERS...         write the db_text `creds` table for Kamailio
  report.py users-csv FILE FIRST COUNT         SIPp injection file for benches/sipp/register_inf.xml
  report.py cpu SID                            CPU seconds (utime+stime) of every process in session SID
  report.py mem SID                            "pss_kb rss_kb hwm_kb" summed over session SID
  report.py host-cpu                           "steal total" jiffies of the whole host, from /proc/stat
  report.py run K=V...                         one SIPp run -> one JSON line (reads stat + rtt files)
  report.py summary OUTDIR                     results table (text + markdown), CSV and JSON
  report.py capped-summary BASE SCEN PCT PAIRS benches/capped.sh's pairs (urpd vs Kamailio)
  report.py ab-summary BASE SCEN PCT PAIRS     benches/capped-ab.sh's pairs (old vs new urpd)

USERS are NAME:PASSWORD or the range form uFIRST-LAST (password = "p" + name).
"""
import csv, glob, hashlib, json, math, os, sqlite3, sys, time

TICK = os.sysconf("SC_CLK_TCK")


def expand(users):
    for u in users:
        if ":" in u:
            n, p = u.split(":", 1)
            yield n, p
        else:
            a, b = u[1:].split("-")
            for i in range(int(a), int(b) + 1):
                yield f"u{i}", f"pu{i}"


def provision_urpd(db, realm, *users):
    c = sqlite3.connect(db)
    now = int(time.time())
    rows = []
    for n, p in expand(users):
        s = f"{n}:{realm}:{p}".encode()
        rows.append((n, hashlib.md5(s).hexdigest(), hashlib.sha256(s).hexdigest(), realm, now, now))
    c.executemany("INSERT OR REPLACE INTO users (name, ha1_md5, ha1_sha256, realm, role, created_at, updated_at) "
                  "VALUES (?, ?, ?, ?, 'agent', ?, ?)", rows)
    c.commit()
    print(len(rows))


def provision_kam(d, *users):
    os.makedirs(d, exist_ok=True)
    n = 0
    with open(os.path.join(d, "creds"), "w") as f:
        f.write("key_name(string) key_type(int) value_type(int) key_value(string) expires(int)\n")
        for name, p in expand(users):
            f.write(f"{name}:0:0:{p}:0\n")
            n += 1
    with open(os.path.join(d, "version"), "w") as f:
        f.write("table_name(string) table_version(int)\ncreds:2\n")
    print(n)


def users_csv(path, first, count):
    first, count = int(first), int(count)
    with open(path, "w") as f:
        f.write("SEQUENTIAL\n")
        for i in range(first, first + count):
            f.write(f"u{i};[authentication username=u{i} password=pu{i}]\n")


def session_pids(sid):
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        if int(fields[3]) == int(sid):  # field 6 = session id
            out.append((int(p), fields))
    return out


def cpu(sid):
    t = sum(int(f[11]) + int(f[12]) for _, f in session_pids(sid))
    print(f"{t / TICK:.3f}")


def mem(sid):
    pss = rss = hwm = 0
    for pid, _ in session_pids(sid):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
                    elif line.startswith("VmHWM:"):
                        hwm += int(line.split()[1])
        except OSError:
            pass
    print(pss, rss, hwm)


def host_cpu():
    """Steal and total jiffies of all CPUs (/proc/stat's first line): on a shared VM the
    hypervisor's steal during a run says how much of the run's noise was the host's."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    print(v[7] if len(v) > 7 else 0, sum(v[:8]))


SLOW_MS = 20


def episodes(samples):
    """From (ms since SIPp's start, response ms) pairs: how many answers took over SLOW_MS, in
    how many distinct seconds, and the share of them in the worst second. A p99 set by one
    stall (a second or two of slow answers: the host, a throttled period, a retransmission
    wave) reads differently from a queue that is slow all along, and the p99 alone does not
    say which (round 22)."""
    per = {}
    for t, ms in samples:
        if ms > SLOW_MS:
            s = int(t // 1000)
            per[s] = per.get(s, 0) + 1
    slow = sum(per.values())
    worst = max(per.items(), key=lambda kv: kv[1]) if per else None
    return dict(slow_answers=slow, slow_seconds=len(per),
                worst_second=worst[0] if worst else None,
                worst_second_share=round(worst[1] / slow, 3) if worst else None)


def pct(sorted_vals, p):
    if not sorted_vals:
        return None
    k = max(0, min(len(sorted_vals) - 1, math.ceil(p / 100 * len(sorted_vals)) - 1))
    return sorted_vals[k]


def run(**kw):
    """kw: dir server scenario phase offered duration tx final_rtd cpu0 cpu1 wall memfile rc"""
    d = kw["dir"]
    stat = {}
    try:
        with open(os.path.join(d, "stat.csv")) as f:
            rows = list(csv.reader(f, delimiter=";"))
        stat = dict(zip(rows[0], rows[-1]))
    except (OSError, IndexError):
        pass
    g = lambda k: int(stat.get(k, 0) or 0)
    created, ok, failed, retr = g("TotalCallCreated"), g("SuccessfulCall(C)"), g("FailedCall(C)"), g("Retransmissions(C)")
    rtts, final_ts, samples = [], [], []
    final_rtd = kw.get("final_rtd", "1")
    for fn in glob.glob(os.path.join(d, "*_rtt.csv")):
        with open(fn) as f:
            next(f, None)
            for line in f:
                parts = line.strip().split(";")
                if len(parts) != 3:
                    continue
                rtts.append(float(parts[1]))
                samples.append((float(parts[0]), float(parts[1])))
                if parts[2] == final_rtd:
                    final_ts.append(float(parts[0]))
    rtts.sort()
    final_ts.sort()
    offered = float(kw["offered"])
    achieved = 0.0
    if len(final_ts) >= 2 and final_ts[-1] > final_ts[0]:
        achieved = (len(final_ts) - 1) / ((final_ts[-1] - final_ts[0]) / 1000)
    tx = ok * int(kw["tx"])
    cpu_s = float(kw["cpu1"]) - float(kw["cpu0"])
    wall = float(kw["wall"])
    peak = [0, 0, 0]
    try:
        with open(kw["memfile"]) as f:
            for line in f:
                v = [int(x) for x in line.split()]
                if len(v) == 3:
                    peak = [max(a, b) for a, b in zip(peak, v)]
    except OSError:
        pass
    fail_ratio = (failed / created) if created else 1.0
    res = dict(
        server=kw["server"], scenario=kw["scenario"], phase=kw["phase"], offered=offered,
        duration=float(kw["duration"]), created=created, successful=ok, failed=failed, retransmissions=retr,
        fail_ratio=round(fail_ratio, 6), achieved=round(achieved, 1),
        p50_ms=pct(rtts, 50), p90_ms=pct(rtts, 90), p99_ms=pct(rtts, 99), max_ms=rtts[-1] if rtts else None,
        transactions=tx, cpu_s=round(cpu_s, 3), wall_s=round(wall, 2),
        cpu_util=round(cpu_s / wall, 3) if wall > 0 else None,
        cpu_s_per_1k_tx=round(cpu_s / tx * 1000, 4) if tx else None,
        mem_pss_peak_kb=peak[0], mem_rss_peak_kb=peak[1], vmhwm_kb=peak[2], sipp_rc=int(kw.get("rc", -1)),
    )
    res.update(episodes(samples))
    # The host's steal over the run (both CPUs), when the script sampled /proc/stat around it.
    try:
        (st0, tot0), (st1, tot1) = [map(int, kw[k].split()) for k in ("host0", "host1")]
        res["host_steal_pct"] = round(100 * (st1 - st0) / (tot1 - tot0), 2) if tot1 > tot0 else None
    except (KeyError, ValueError):
        pass
    # pass: <0.1% failures and the offered rate actually achieved (95%)
    res["pass"] = bool(created and fail_ratio < 0.001 and achieved >= 0.95 * offered)
    extra = {k: v for k, v in kw.items() if k.startswith("x_")}
    res.update(extra)
    print(json.dumps(res))


SCEN = [("register", "REGISTER with digest (401 + 200)"), ("call", "proxied call INVITE/407/ACK/INVITE/100/180/200/ACK/BYE/200"), ("options", "OPTIONS to the server")]


def search_steps(runs, server, scen):
    """The runs of one server's maximum-rate search for `scen`: the fixed load and the steps."""
    return [r for r in runs if r["server"] == server and r["scenario"] == scen and r["phase"] in ("fixed", "step")]


def search_top(steps):
    """The best passing run of a search (None without one) and whether it is a maximum: it is
    not when no step failed (SIPp or the step limit stopped the search: a lower bound)."""
    good = [r for r in steps if r["pass"]]
    if not good:
        return None, False
    return max(good, key=lambda r: r["achieved"]), not all(r["pass"] for r in steps)


def summary(out):
    runs = [json.loads(l) for l in open(os.path.join(out, "runs.jsonl")) if l.strip()]
    meta = json.load(open(os.path.join(out, "meta.json"))) if os.path.exists(os.path.join(out, "meta.json")) else {}
    servers = ["urpd", "kamailio"]
    fig = {}  # (scenario, figure) -> {server: value}
    rows = []

    def put(scen, name, server, v, better):
        fig.setdefault((scen, name, better), {})[server] = v

    goal_pass = {}
    for s in servers:
        for scen, _ in SCEN:
            fixed = [r for r in runs if r["server"] == s and r["scenario"] == scen and r["phase"] == "fixed"]
            if fixed:
                r = fixed[-1]
                put(scen, f"offered rate /s", s, r["offered"], "")
                put(scen, "achieved rate /s", s, r["achieved"], "")
                put(scen, "failed calls", s, r["failed"], "lower")
                put(scen, "retransmissions", s, r["retransmissions"], "lower")
                put(scen, "response p50 ms", s, r["p50_ms"], "lower")
                put(scen, "response p90 ms", s, r["p90_ms"], "lower")
                put(scen, "response p99 ms", s, r["p99_ms"], "lower")
                put(scen, "CPU s / 1000 tx", s, r["cpu_s_per_1k_tx"], "lower")
                put(scen, "server CPU util", s, r["cpu_util"], "lower")
                put(scen, "peak memory PSS MB", s, round(r["mem_pss_peak_kb"] / 1024, 1), "lower")
            steps = search_steps(runs, s, scen)
            if steps:
                best, _ = search_top(steps)
                put(scen, "max sustained rate /s (<0.1% fail)", s, best["achieved"] if best else 0, "higher")
                put(scen, "p99 ms at max rate", s, best["p99_ms"] if best else None, "lower")
                put(scen, "CPU s / 1000 tx at max rate", s, best["cpu_s_per_1k_tx"] if best else None, "lower")
                first_fail = next((r for r in steps if not r["pass"]), None)
                put(scen, "first failing offered rate /s", s, first_fail["offered"] if first_fail else None, "")
                # Issue 6's goal as stated: urpd at 1.5x Kamailio's maximum, p99 no worse than
                # Kamailio's at its maximum (the Kamailio column repeats its figures at its max).
                goal = [r for r in runs if r["server"] == "urpd" and r["scenario"] == scen and r["phase"] == "goal"]
                # Only against a Kamailio maximum that is one (a step failed); else it was SIPp's.
                kam = [r for r in runs if r["server"] == "kamailio" and r["scenario"] == scen and r["phase"] in ("fixed", "step")]
                if all(r["pass"] for r in kam):
                    goal = []
                skipped = [r for r in runs if r["server"] == "urpd" and r["scenario"] == scen and r["phase"] == "goal_skipped"]
                if skipped and not goal and not all(r["pass"] for r in kam):
                    # sip-bench.sh did not run it: urpd's own search had already hit SIPp's limit
                    put(scen, "goal: offered within SIPp's reach", s,
                        f"no (not run: {skipped[-1].get('reason', '')})" if s == "urpd" else "-", "")
                if goal:
                    g = goal[-1] if s == "urpd" else best
                    # Uncapped, 1.5x Kamailio's top can be more than SIPp sends from its core:
                    # then the goal run measures SIPp (it retransmits, the step fails) and says
                    # nothing about urpd. Flagged when the run failed with SIPp near the limit
                    # of its core (the uncapped tops of both servers stop at SIPp 72-80%).
                    gr = goal[-1]
                    sipp = float(gr.get("x_sipp_cpu_s") or 0) / (gr.get("wall_s") or 1)
                    beyond = not gr["pass"] and sipp >= 0.65
                    put(scen, "goal: offered within SIPp's reach", s,
                        (f"no (SIPp {100 * sipp:.0f}% busy)" if beyond else "yes") if s == "urpd" else "-", "")
                    put(scen, "goal: rate /s (urpd at 1.5x Kam max)", s, (g["achieved"] if g else None), "higher")
                    put(scen, "goal: failed calls there", s, (g["failed"] if g else None), "lower")
                    put(scen, "goal: p99 ms there (Kam: at its max)", s, (g["p99_ms"] if g else None), "lower")
                    put(scen, "goal: CPU s / 1000 tx there", s, (g["cpu_s_per_1k_tx"] if g else None), "lower")
                    if s == "urpd":
                        goal_pass[scen] = None if beyond else bool(gr["pass"])
        b = [r for r in runs if r["server"] == s and r["phase"] == "bindings"]
        if b:
            r = b[-1]
            put("bindings", "bindings registered", s, r["successful"] + int(r.get("x_base_bindings", 0)), "")
            put("bindings", "memory PSS MB with bindings", s, round(int(r["x_pss_after_kb"]) / 1024, 1), "lower")
            put("bindings", "memory PSS MB before", s, round(int(r["x_pss_before_kb"]) / 1024, 1), "lower")
            n = r["successful"] or 1
            put("bindings", "bytes per binding", s, round((int(r["x_pss_after_kb"]) - int(r["x_pss_before_kb"])) * 1024 / n), "lower")
            put("bindings", "CPU s / 1000 tx", s, r["cpu_s_per_1k_tx"], "lower")

    # The three clauses for each goal run, judged against Kamailio at its maximum (the
    # figures above leave the reader to compare them; a goal run without failures was easy to
    # read as the goal met while its p99 or CPU was not).
    for scen, _ in SCEN:
        p99 = fig.get((scen, "goal: p99 ms there (Kam: at its max)", "lower"), {})
        cpu = fig.get((scen, "goal: CPU s / 1000 tx there", "lower"), {})
        if scen not in goal_pass or p99.get("urpd") is None or p99.get("kamailio") is None:
            continue
        p99_ok = p99["urpd"] <= p99["kamailio"]
        ratio = round(cpu["urpd"] / cpu["kamailio"], 2) if cpu.get("urpd") and cpu.get("kamailio") else None
        yn = lambda v: "yes" if v else "no"  # noqa: E731
        verdict = (f"{yn(goal_pass[scen])} / {yn(p99_ok)} / {yn(ratio is not None and ratio <= 0.6)}"
                   if goal_pass[scen] is not None else "- (SIPp's limit)")
        put(scen, "goal met: fail / p99 / CPU<=0.6x", "urpd", verdict, "")
        put(scen, "goal met: fail / p99 / CPU<=0.6x", "kamailio", "-", "")

    def fmt(v):
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.4g}" if abs(v) < 10 else f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.1f}"
        return f"{v:,}" if isinstance(v, int) else str(v)

    table = []
    for (scen, name, better), vals in fig.items():
        u, k = vals.get("urpd"), vals.get("kamailio")
        ratio = None
        if isinstance(u, (int, float)) and isinstance(k, (int, float)) and k:
            ratio = round(u / k, 2)
        table.append(dict(scenario=scen, figure=name, urpd=u, kamailio=k, ratio=ratio, better=better))

    with open(os.path.join(out, "summary.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["scenario", "figure", "urpd", "kamailio", "ratio", "better"])
        w.writeheader()
        w.writerows(table)
    with open(os.path.join(out, "runs.csv"), "w", newline="") as f:
        keys = sorted({k for r in runs for k in r})
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(runs)
    json.dump(dict(meta=meta, summary=table, runs=runs), open(os.path.join(out, "results.json"), "w"), indent=1)

    hdr = f"| {'scenario':9} | {'figure':36} | {'urpd':>10} | {'Kamailio':>10} | {'urpd/Kam':>8} |"
    lines = [hdr, "|" + "-" * 11 + "|" + "-" * 38 + "|" + "-" * 12 + "|" + "-" * 12 + "|" + "-" * 10 + "|"]
    for t in table:
        lines.append(f"| {t['scenario']:9} | {t['figure']:36} | {fmt(t['urpd']):>10} | {fmt(t['kamailio']):>10} | {fmt(t['ratio']):>8} |")
    # issue 3: urpd alone
    u = {(t["scenario"], t["figure"]): t["urpd"] for t in table}
    reg_rate = u.get(("register", "max sustained rate /s (<0.1% fail)"))
    call_rate = u.get(("call", "max sustained rate /s (<0.1% fail)"))
    u3 = ["## urpd alone: REGISTER/s, calls/s, CPU s per 1,000 transactions", "",
          f"- REGISTER/s (digest, 401 + 200, highest sustained with <0.1% failures): {fmt(reg_rate)}",
          f"- calls/s (proxied INVITE..BYE, highest sustained with <0.1% failures): {fmt(call_rate)}",
          f"- CPU s per 1,000 transactions: REGISTER {fmt(u.get(('register', 'CPU s / 1000 tx')))}, "
          f"call {fmt(u.get(('call', 'CPU s / 1000 tx')))}, OPTIONS {fmt(u.get(('options', 'CPU s / 1000 tx')))} "
          f"(at the fixed offered load; a REGISTER call = 2 transactions, a call = 3: INVITE/407, INVITE/200, BYE)"]
    notes = ["", "Ratios are urpd / Kamailio: for CPU, latency and memory lower is better for urpd (<1), "
             "for rates higher is better (>1). Response times come from SIPp's rtt dump (1 ms resolution, "
             "all timed transactions pooled). Memory is the sum of PSS over the server's processes "
             "(Kamailio forks ~10 processes sharing memory; PSS counts shared pages once). "
             "The fixed-load CPU rows are one run each: at such low loads a run moves ±25-35% with the host, "
             "so a ratio to quote comes from benches/lowload.sh (medians of interleaved runs), and a capped "
             "maximum's from benches/capped.sh (interleaved pairs)."]
    m = ["# SIP benchmark: urpd vs Kamailio", ""]
    if meta:
        m += [f"- date: {meta.get('date')}", f"- mode: {meta.get('mode')}", f"- machine: {meta.get('cpu')}, {meta.get('nproc')} CPUs, {meta.get('mem')}, kernel {meta.get('kernel')}",
              f"- versions: {meta.get('urpd')}; {meta.get('kamailio')}; {meta.get('sipp')}",
              f"- pinning: {meta.get('pinning')}", f"- load: {meta.get('load')}", ""]
    md = "\n".join(m + lines + notes + [""] + u3) + "\n"
    open(os.path.join(out, "summary.md"), "w").write(md)
    print("\n".join(lines + notes + [""] + u3))


def episode_of(r):
    """A run's slow-answer episodes and host steal (None for runs recorded before round 22)."""
    if not r or "slow_answers" not in r:
        return None
    return {k: r.get(k) for k in ("slow_answers", "slow_seconds", "worst_second", "worst_second_share", "host_steal_pct")}


def episode_text(e):
    if e is None:
        return "-"
    steal = "-" if e.get("host_steal_pct") is None else f"{e['host_steal_pct']:.1f}"
    if not e["slow_answers"]:
        return f"none; steal {steal}%"
    return (f"{e['slow_answers']:,} in {e['slow_seconds']} s (worst s {e['worst_second']}: "
            f"{100 * (e['worst_second_share'] or 0):.0f}%); steal {steal}%")


def capped_summary(base, scen, pct, pairs):
    """benches/capped.sh's table: each pair's capped maxima (base/pairN/runs.jsonl), their
    ratio, the medians and the goal runs; writes base/summary.md and base/summary.json."""
    import statistics
    pairs = int(pairs)
    rows, goals = [], []
    for i in range(1, pairs + 1):
        p = os.path.join(base, f"pair{i}", "runs.jsonl")
        runs = [json.loads(l) for l in open(p) if l.strip()] if os.path.exists(p) else []
        (u, u_max), (k, k_max) = search_top(search_steps(runs, "urpd", scen)), search_top(search_steps(runs, "kamailio", scen))
        # A ratio over a lower bound is a bound itself: ">=" when only urpd's search never failed.
        bound = "" if (u_max and k_max) else ">=" if (k_max and not u_max) else "<=" if (u_max and not k_max) else "?"
        rows.append(dict(pair=i, first="kamailio" if i % 2 else "urpd",
                         urpd=u and u["achieved"], kamailio=k and k["achieved"],
                         urpd_is_max=bool(u and u_max), kamailio_is_max=bool(k and k_max),
                         urpd_cpu=u and u["cpu_s_per_1k_tx"], kamailio_cpu=k and k["cpu_s_per_1k_tx"],
                         urpd_p99=u and u["p99_ms"], kamailio_p99=k and k["p99_ms"],
                         ratio=round(u["achieved"] / k["achieved"], 2) if u and k else None,
                         ratio_bound=bound if u and k else None))
        for g in (r for r in runs if r["server"] == "urpd" and r["scenario"] == scen and r["phase"] == "goal"):
            # The three clauses, each judged: `passed` is the run's own verdict (<0.1%
            # failures), which round 18's calls showed is not the whole goal (a goal run with
            # no failure and p99 164 ms against Kamailio's 152 ms was reported as passed).
            kp99, kcpu = (k["p99_ms"], k["cpu_s_per_1k_tx"]) if k else (None, None)
            p99_ok = None if g["p99_ms"] is None or kp99 is None else g["p99_ms"] <= kp99
            cpu_ratio = round(g["cpu_s_per_1k_tx"] / kcpu, 2) if g["cpu_s_per_1k_tx"] and kcpu else None
            goals.append(dict(pair=i, offered=g["offered"], achieved=g["achieved"], failed=g["failed"],
                              p99_ms=g["p99_ms"], cpu=g["cpu_s_per_1k_tx"], passed=g["pass"],
                              kamailio_p99=kp99, kamailio_cpu=kcpu, p99_no_worse=p99_ok, cpu_ratio=cpu_ratio,
                              cpu_met=None if cpu_ratio is None else cpu_ratio <= 0.6,
                              goal_met=bool(g["pass"] and p99_ok and cpu_ratio is not None and cpu_ratio <= 0.6),
                              episodes=episode_of(g), kamailio_episodes=episode_of(k)))

    def med(key):
        v = [r[key] for r in rows if r[key] is not None]
        return statistics.median(v) if v else None

    def f(v, d=0):
        return "-" if v is None else (f"{v:,.{d}f}" if isinstance(v, (int, float)) else str(v))

    transport = os.environ.get("TRANSPORT", "udp")
    summ = dict(scenario=scen, transport=transport, cap_pct=int(pct), pairs=rows, goals=goals,
                median=dict(urpd=med("urpd"), kamailio=med("kamailio"), ratio=med("ratio"),
                            urpd_cpu=med("urpd_cpu"), kamailio_cpu=med("kamailio_cpu")))
    m = summ["median"]
    m["urpd_all_max"] = all(r["urpd_is_max"] for r in rows if r["urpd"] is not None)
    m["kamailio_all_max"] = all(r["kamailio_is_max"] for r in rows if r["kamailio"] is not None)
    if m["urpd"] and m["kamailio"]:
        m["ratio_of_medians"] = round(m["urpd"] / m["kamailio"], 2)
    if m["urpd_cpu"] and m["kamailio_cpu"]:
        m["cpu_ratio_of_medians"] = round(m["urpd_cpu"] / m["kamailio_cpu"], 2)
    json.dump(summ, open(os.path.join(base, "summary.json"), "w"), indent=1)

    over = {"tcp": " over TCP (SIPp -t t1)",
            "tcp-per-call": " over TCP, a connection per SIPp call (SIPp -t tn)"}.get(transport, "")
    out = [f"# {scen}{over}, servers capped at {pct}% of a core: {pairs} interleaved pairs of maximum-rate searches", "",
           "| pair | first | urpd max /s | Kamailio max /s | ratio | urpd CPU s/1k tx at max | Kamailio | urpd p99 ms | Kamailio |",
           "|---|---|---|---|---|---|---|---|---|"]
    def atleast(v, is_max):
        return f(v) if v is None or is_max else "≥" + f(v)

    for r in rows:
        out.append(f"| {r['pair']} | {r['first']} | {atleast(r['urpd'], r['urpd_is_max'])} | {atleast(r['kamailio'], r['kamailio_is_max'])} | "
                   f"{(r['ratio_bound'] or '').replace('>=', '≥').replace('<=', '≤')}{f(r['ratio'], 2)} | "
                   f"{f(r['urpd_cpu'], 4)} | {f(r['kamailio_cpu'], 4)} | {f(r['urpd_p99'])} | {f(r['kamailio_p99'])} |")
    out.append(f"| median | | {atleast(m['urpd'], m['urpd_all_max'])} | {atleast(m['kamailio'], m['kamailio_all_max'])} | {'' if m['urpd_all_max'] else '≥'}{f(m['ratio'], 2)} (of medians {f(m.get('ratio_of_medians'), 2)}) | "
               f"{f(m['urpd_cpu'], 4)} | {f(m['kamailio_cpu'], 4)} | | |")
    out += ["", "≥: that search never failed (every step passed: SIPp or the step limit stopped it), so its best rate is a lower "
            "bound, and so is a ratio over it. A dash: no passing run (the search did not run or start).", ""]
    if goals:
        out += ["Goal runs (urpd at 1.5x the pair's Kamailio maximum; issue 6: <0.1% failures, p99 no worse, <=0.6x the CPU per transaction, each against Kamailio at its maximum):", "",
                "| pair | offered /s | achieved /s | failed | p99 ms (Kamailio at its max) | CPU s/1k tx (Kamailio at its max) | "
                "<0.1% failed | p99 no worse | CPU ratio (≤0.6) | all three |",
                "|---|---|---|---|---|---|---|---|---|---|"]

        def yn(v):
            return "-" if v is None else "yes" if v else "no"
        for g in goals:
            out.append(f"| {g['pair']} | {f(g['offered'])} | {f(g['achieved'])} | {g['failed']} | {f(g['p99_ms'])} ({f(g['kamailio_p99'])}) | "
                       f"{f(g['cpu'], 4)} ({f(g['kamailio_cpu'], 4)}) | {yn(g['passed'])} | {yn(g['p99_no_worse'])} | "
                       f"{f(g['cpu_ratio'], 2)} {yn(g['cpu_met'])} | {yn(g['goal_met'])} |")
        if any(g.get("episodes") or g.get("kamailio_episodes") for g in goals):
            out += ["", f"Where the p99s come from: answers over {SLOW_MS} ms, in how many distinct seconds of the run, "
                    "the worst second's share of them, and the host's steal time over the run (both CPUs; a shared VM). "
                    "Most slow answers in one second is a stall, spread over many a queue:", "",
                    "| pair | urpd goal run | Kamailio at its max |", "|---|---|---|"]
            for g in goals:
                out.append(f"| {g['pair']} | {episode_text(g.get('episodes'))} | {episode_text(g.get('kamailio_episodes'))} |")
    md = "\n".join(out) + "\n"
    open(os.path.join(base, "summary.md"), "w").write(md)
    print(md)
    print(f"results: {base}")


def ab_summary(base, scen, pct, pairs):
    """benches/capped-ab.sh's table: each pair's capped maxima of the old and the new urpd
    build (base/pairN-old, base/pairN-new), the CPU per transaction at them, and the medians;
    writes base/summary.md and base/summary.json."""
    import statistics
    rows = []
    for i in range(1, int(pairs) + 1):
        row = dict(pair=i, first="new" if i % 2 else "old")
        for b in ("old", "new"):
            p = os.path.join(base, f"pair{i}-{b}", "runs.jsonl")
            runs = [json.loads(l) for l in open(p) if l.strip()] if os.path.exists(p) else []
            top, is_max = search_top(search_steps(runs, "urpd", scen))
            row[b] = top and top["achieved"]
            row[b + "_is_max"] = bool(top and is_max)
            row[b + "_cpu"] = top and top["cpu_s_per_1k_tx"]
        row["ratio"] = round(row["new"] / row["old"], 2) if row["new"] and row["old"] else None
        row["cpu_ratio"] = round(row["new_cpu"] / row["old_cpu"], 2) if row["new_cpu"] and row["old_cpu"] else None
        rows.append(row)

    def med(key):
        v = [r[key] for r in rows if r[key] is not None]
        return statistics.median(v) if v else None

    def f(v, d=0, bound=False):
        return "-" if v is None else ("≥" if bound else "") + f"{v:,.{d}f}"

    summ = dict(scenario=scen, cap_pct=int(pct), pairs=rows,
                median={k: med(k) for k in ("old", "new", "ratio", "old_cpu", "new_cpu", "cpu_ratio")})
    json.dump(summ, open(os.path.join(base, "summary.json"), "w"), indent=1)
    out = [f"# {scen}, urpd capped at {pct}% of a core: {pairs} interleaved pairs, old build against new", "",
           "| pair | first | old max /s | new max /s | new/old | old CPU s/1k tx at max | new | new/old |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['pair']} | {r['first']} | {f(r['old'], bound=not r['old_is_max'])} | {f(r['new'], bound=not r['new_is_max'])} | "
                   f"{f(r['ratio'], 2)} | {f(r['old_cpu'], 4)} | {f(r['new_cpu'], 4)} | {f(r['cpu_ratio'], 2)} |")
    m = summ["median"]
    out.append(f"| median | | {f(m['old'])} | {f(m['new'])} | {f(m['ratio'], 2)} | {f(m['old_cpu'], 4)} | {f(m['new_cpu'], 4)} | {f(m['cpu_ratio'], 2)} |")
    out += ["", "≥: that search never failed (SIPp or the step limit stopped it), so its best rate is a lower bound."]
    text = "\n".join(out) + "\n"
    open(os.path.join(base, "summary.md"), "w").write(text)
    print(text)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "run":
        run(**dict(a.split("=", 1) for a in args))
    else:
        {"provision-urpd": provision_urpd, "provision-kam": provision_kam, "users-csv": users_csv,
         "cpu": cpu, "mem": mem, "host-cpu": host_cpu, "summary": summary, "capped-summary": capped_summary, "ab-summary": ab_summary}[cmd](*args)
