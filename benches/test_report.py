#!/usr/bin/env python3
"""benches/test_report.py - tests of benches/report.py's judgments, on made-up runs, and of
benches/flamegraph.py's folding and drawing, on made-up `perf script` text.

The benchmark table decides things the README quotes (which maximum is a maximum, whether a
goal run measured urpd or SIPp, the medians of capped pairs): those rules are tested here
without SIPp or a server. Run by scripts/test.sh; `python3 benches/test_report.py` alone.
"""
import json
import os
import sys
import tempfile
import unittest
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402
import flamegraph  # noqa: E402


def run(server, scenario, phase, offered, achieved=None, ok=True, p99=4.0, cpu=0.01, sipp=0.3, wall=10.0, failed=0):
    return {
        "server": server, "scenario": scenario, "phase": phase, "offered": float(offered),
        "achieved": float(offered if achieved is None else achieved), "pass": ok, "failed": failed,
        "retransmissions": 0, "p50_ms": 0.0, "p90_ms": 0.0, "p99_ms": p99, "cpu_s_per_1k_tx": cpu,
        "cpu_util": 0.2, "mem_pss_peak_kb": 1024, "x_sipp_cpu_s": sipp * wall, "wall_s": wall,
    }


def search(server, top, fail_at, cpu=0.01, p99=4.0, sipp_at_fail=0.5):
    """A fixed run, passing steps up to `top`, and a failing step at `fail_at` (None: none)."""
    r = [run(server, "register", "fixed", 500, cpu=0.03)]
    rate = 1000
    while rate < top:
        r.append(run(server, "register", "step", rate))
        rate *= 2
    r.append(run(server, "register", "step", top, cpu=cpu, p99=p99))
    if fail_at:
        r.append(run(server, "register", "step", fail_at, achieved=fail_at * 0.6, ok=False, sipp=sipp_at_fail, failed=99))
    return r


def table(runs):
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "runs.jsonl"), "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in runs)
        quietly(report.summary, d)
        rows = json.load(open(os.path.join(d, "results.json")))["summary"]
    return {(r["scenario"], r["figure"]): r for r in rows}


def quietly(fn, *args):
    """Runs a report.py command without its printed table."""
    old = sys.stdout
    sys.stdout = open(os.devnull, "w")
    try:
        fn(*args)
    finally:
        sys.stdout.close()
        sys.stdout = old


class Quiet(unittest.TestCase):
    def setUp(self):
        # report.py is a script: it leaves files to the interpreter to close.
        warnings.simplefilter("ignore", ResourceWarning)


class Summary(Quiet):
    def test_maximum_is_the_best_passing_step(self):
        t = table(search("kamailio", 16000, 32000, cpu=0.008) + search("urpd", 20000, 24000, cpu=0.007))
        row = t[("register", "max sustained rate /s (<0.1% fail)")]
        self.assertEqual((row["urpd"], row["kamailio"], row["ratio"]), (20000.0, 16000.0, 1.25))
        self.assertEqual(t[("register", "CPU s / 1000 tx at max rate")]["ratio"], 0.88)

    def test_goal_run_against_a_real_kamailio_maximum(self):
        runs = search("kamailio", 16000, 32000, p99=8.0) + search("urpd", 20000, 24000)
        runs.append(run("urpd", "register", "goal", 24000, achieved=24000, p99=4.0, cpu=0.006))
        t = table(runs)
        self.assertEqual(t[("register", "goal: rate /s (urpd at 1.5x Kam max)")]["urpd"], 24000.0)
        self.assertEqual(t[("register", "goal: p99 ms there (Kam: at its max)")]["kamailio"], 8.0)
        self.assertEqual(t[("register", "goal: offered within SIPp's reach")]["urpd"], "yes")
        # 0 failures, p99 4 against 8 ms, CPU 0.006 against 0.01 (0.6x): every clause met.
        self.assertEqual(t[("register", "goal met: fail / p99 / CPU<=0.6x")]["urpd"], "yes / yes / yes")

    def test_goal_clauses_are_judged_one_by_one(self):
        runs = search("kamailio", 16000, 32000, p99=152.0, cpu=0.0648) + search("urpd", 20000, 24000)
        runs.append(run("urpd", "register", "goal", 24000, achieved=24000, p99=164.0, cpu=0.0362))
        t = table(runs)
        self.assertEqual(t[("register", "goal met: fail / p99 / CPU<=0.6x")]["urpd"], "yes / no / yes")

    def test_no_goal_rows_when_every_kamailio_step_passed(self):
        # Kamailio never failed: its "maximum" is SIPp's, so 1.5x of it is no goal.
        runs = search("kamailio", 32000, None) + search("urpd", 32000, None)
        runs.append(run("urpd", "register", "goal", 48000, achieved=20000, ok=False))
        t = table(runs)
        self.assertNotIn(("register", "goal: rate /s (urpd at 1.5x Kam max)"), t)

    def test_failed_goal_with_sipp_busy_is_flagged(self):
        runs = search("kamailio", 16000, 32000) + search("urpd", 20000, 24000)
        runs.append(run("urpd", "register", "goal", 24000, achieved=15000, ok=False, sipp=0.72))
        t = table(runs)
        self.assertTrue(t[("register", "goal: offered within SIPp's reach")]["urpd"].startswith("no (SIPp 72% busy"))
        self.assertEqual(t[("register", "goal met: fail / p99 / CPU<=0.6x")]["urpd"], "- (SIPp's limit)")

    def test_failed_goal_with_sipp_idle_is_the_servers_limit(self):
        runs = search("kamailio", 16000, 32000) + search("urpd", 20000, 24000)
        runs.append(run("urpd", "register", "goal", 24000, achieved=15000, ok=False, sipp=0.5))
        self.assertEqual(table(runs)[("register", "goal: offered within SIPp's reach")]["urpd"], "yes")

    def test_skipped_goal_run_says_why(self):
        runs = search("kamailio", 16000, 32000) + search("urpd", 16000, 20000, sipp_at_fail=0.74)
        runs.append({"server": "urpd", "scenario": "register", "phase": "goal_skipped", "offered": 24000,
                     "reason": "urpd step at 20000/s failed with SIPp 74% busy", "pass": False})
        t = table(runs)
        self.assertEqual(t[("register", "goal: offered within SIPp's reach")]["urpd"],
                         "no (not run: urpd step at 20000/s failed with SIPp 74% busy)")
        self.assertNotIn(("register", "goal: rate /s (urpd at 1.5x Kam max)"), t)


class CappedPairs(Quiet):
    def pairs(self, d, spec):
        for i, (u, k, goal) in enumerate(spec, 1):
            os.makedirs(os.path.join(d, f"pair{i}"))
            runs = search("kamailio", k, k * 2 if k else None) + search("urpd", u, u * 2 if u else None)
            if goal:
                runs.append(run("urpd", "register", "goal", goal[0], achieved=goal[1], ok=goal[1] >= goal[0] * 0.95))
            with open(os.path.join(d, f"pair{i}", "runs.jsonl"), "w") as f:
                f.writelines(json.dumps(r) + "\n" for r in runs)

    def summarise(self, d, n):
        quietly(report.capped_summary, d, "register", "30", str(n))
        return json.load(open(os.path.join(d, "summary.json")))

    def test_medians_and_per_pair_ratios(self):
        with tempfile.TemporaryDirectory() as d:
            self.pairs(d, [(20000, 16000, (24000, 16000)), (18000, 8000, None), (24000, 16000, (24000, 24000))])
            s = self.summarise(d, 3)
            self.assertEqual([p["ratio"] for p in s["pairs"]], [1.25, 2.25, 1.5])
            self.assertEqual(s["median"]["urpd"], 20000.0)
            self.assertEqual(s["median"]["kamailio"], 16000.0)
            self.assertEqual(s["median"]["ratio"], 1.5)
            self.assertEqual(s["median"]["ratio_of_medians"], 1.25)
            self.assertEqual([g["passed"] for g in s["goals"]], [False, True])
            # Same p99 as Kamailio at its maximum (4 ms), same CPU: p99 no worse, CPU not met.
            self.assertEqual([(g["p99_no_worse"], g["cpu_ratio"], g["cpu_met"], g["goal_met"]) for g in s["goals"]],
                             [(True, 1.0, False, False), (True, 1.0, False, False)])
            self.assertIn("| median |", open(os.path.join(d, "summary.md")).read())

    def test_goal_runs_are_judged_on_all_three_clauses(self):
        with tempfile.TemporaryDirectory() as d:
            # Kamailio tops at 16,000/s with p99 152 ms and 0.0648 CPU s per 1,000 tx there.
            for i, (p99, cpu) in enumerate([(164.0, 0.0362), (8.0, 0.0308), (8.0, 0.0500)], 1):
                os.makedirs(os.path.join(d, f"pair{i}"))
                runs = search("kamailio", 16000, 32000, cpu=0.0648, p99=152.0) + search("urpd", 32000, 64000)
                runs.append(run("urpd", "register", "goal", 24000, p99=p99, cpu=cpu))
                with open(os.path.join(d, f"pair{i}", "runs.jsonl"), "w") as f:
                    f.writelines(json.dumps(r) + "\n" for r in runs)
            s = self.summarise(d, 3)
            self.assertEqual([g["passed"] for g in s["goals"]], [True, True, True])
            self.assertEqual([g["p99_no_worse"] for g in s["goals"]], [False, True, True])
            self.assertEqual([g["cpu_ratio"] for g in s["goals"]], [0.56, 0.48, 0.77])
            self.assertEqual([g["goal_met"] for g in s["goals"]], [False, True, False])
            md = open(os.path.join(d, "summary.md")).read()
            self.assertIn("| 164 (152) | 0.0362 (0.0648) | yes | no | 0.56 yes | no |", md)

    def test_goal_table_says_where_the_p99s_come_from(self):
        with tempfile.TemporaryDirectory() as d:
            os.makedirs(os.path.join(d, "pair1"))
            runs = search("kamailio", 16000, 32000, cpu=0.0648, p99=152.0) + search("urpd", 32000, 64000)
            stall = dict(slow_answers=900, slow_seconds=2, worst_second=5, worst_second_share=0.9, host_steal_pct=3.5)
            top = next(r for r in runs if r["server"] == "kamailio" and r["offered"] == 16000)
            top.update(slow_answers=0, slow_seconds=0, worst_second=None, worst_second_share=None, host_steal_pct=0.2)
            runs.append(dict(run("urpd", "register", "goal", 24000, p99=40.0, cpu=0.03), **stall))
            with open(os.path.join(d, "pair1", "runs.jsonl"), "w") as f:
                f.writelines(json.dumps(r) + "\n" for r in runs)
            s = self.summarise(d, 1)
            self.assertEqual(s["goals"][0]["episodes"]["slow_seconds"], 2)
            self.assertEqual(s["goals"][0]["kamailio_episodes"]["slow_answers"], 0)
            md = open(os.path.join(d, "summary.md")).read()
            self.assertIn("| 1 | 900 in 2 s (worst s 5: 90%); steal 3.5% | none; steal 0.2% |", md)

    def test_a_search_without_a_failing_step_is_a_lower_bound(self):
        with tempfile.TemporaryDirectory() as d:
            self.pairs(d, [(20000, 16000, None)])
            # Pair 2: urpd's search never failed (SIPp or the step limit stopped it).
            os.makedirs(os.path.join(d, "pair2"))
            with open(os.path.join(d, "pair2", "runs.jsonl"), "w") as f:
                f.writelines(json.dumps(r) + "\n" for r in search("kamailio", 16000, 32000) + search("urpd", 32000, None))
            s = self.summarise(d, 3)  # pair 3 missing altogether (a search that did not start)
            self.assertEqual((s["pairs"][1]["urpd"], s["pairs"][1]["urpd_is_max"]), (32000.0, False))
            self.assertEqual((s["pairs"][1]["ratio"], s["pairs"][1]["ratio_bound"]), (2.0, ">="))
            self.assertEqual(s["pairs"][0]["ratio_bound"], "")
            self.assertEqual((s["pairs"][2]["urpd"], s["pairs"][2]["ratio"]), (None, None))
            self.assertFalse(s["median"]["urpd_all_max"])
            md = open(os.path.join(d, "summary.md")).read()
            self.assertIn("| 2 | urpd | ≥32,000 | 16,000 | ≥2.00 |", md)


class OldAgainstNew(Quiet):
    def test_pairs_of_two_urpd_builds(self):
        with tempfile.TemporaryDirectory() as d:
            # (old top, new top, old CPU, new CPU) per pair; pair 2's new search never failed.
            for i, (old, new, oc, nc, new_fails) in enumerate([(16000, 20000, 0.010, 0.008, True), (16000, 24000, 0.010, 0.007, False)], 1):
                for b, top, cpu, fails in (("old", old, oc, True), ("new", new, nc, new_fails)):
                    os.makedirs(os.path.join(d, f"pair{i}-{b}"))
                    with open(os.path.join(d, f"pair{i}-{b}", "runs.jsonl"), "w") as f:
                        f.writelines(json.dumps(r) + "\n" for r in search("urpd", top, top * 2 if fails else None, cpu=cpu))
            quietly(report.ab_summary, d, "register", "30", "2")
            s = json.load(open(os.path.join(d, "summary.json")))
            self.assertEqual([p["ratio"] for p in s["pairs"]], [1.25, 1.5])
            self.assertEqual([p["cpu_ratio"] for p in s["pairs"]], [0.8, 0.7])
            self.assertEqual([p["first"] for p in s["pairs"]], ["new", "old"])
            self.assertEqual(s["median"]["ratio"], 1.375)
            md = open(os.path.join(d, "summary.md")).read()
            self.assertIn("| 2 | old | 16,000 | ≥24,000 | 1.50 |", md)


# `perf script -F comm,tid,period,ip,sym,dso` as perf 6 prints it: a thread name with a space,
# a kernel frame, a Rust frame with its hash, a frame perf could not name, an offset.
PERF_SCRIPT = """urpd 1234     250000:
\t    ffffffff8100 finish_task_switch.isra.0 ([kernel.kallsyms])
\t    55550001 urpd::proxy::core::Core::handle_message::h0123456789abcdef (/work/main/target/release/urpd)
\t    55550002 urpd::daemon::run::run::{{closure}} (/work/main/target/release/urpd)
\t    7f0000 __libc_start_main+0x80 (/usr/lib/x86_64-linux-gnu/libc.so.6)

urpd 1234     250000:
\t    55550003 <urpd::sip::Via as core::fmt::Display>::fmt (/work/main/target/release/urpd)
\t    55550001 urpd::proxy::core::Core::handle_message::h0123456789abcdef (/work/main/target/release/urpd)
\t    55550002 urpd::daemon::run::run::{{closure}} (/work/main/target/release/urpd)
\t    7f0000 __libc_start_main+0x80 (/usr/lib/x86_64-linux-gnu/libc.so.6)

sqlx-sqlite wor 1240     500000:
\t    7f0011 [unknown] (/usr/lib/x86_64-linux-gnu/libc.so.6)

"""


class FlameGraph(Quiet):
    def test_episodes_tell_a_stall_from_a_queue(self):
        # 1,000 answers a second for 10 s; a stall in second 4 against slow answers all along.
        fast = [(t, 2.0) for t in range(0, 10000, 1)]
        stall = fast + [(4000 + t / 10, 60.0) for t in range(100)]
        queue = fast + [(t * 100 + 5, 30.0) for t in range(100)]
        e = report.episodes(stall)
        self.assertEqual((e["slow_answers"], e["slow_seconds"], e["worst_second"], e["worst_second_share"]), (100, 1, 4, 1.0))
        e = report.episodes(queue)
        self.assertEqual((e["slow_answers"], e["slow_seconds"], e["worst_second_share"]), (100, 10, 0.1))
        self.assertEqual(report.episodes(fast)["slow_answers"], 0)

    def test_run_records_episodes_and_host_steal(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "stat.csv"), "w") as f:
                f.write("TotalCallCreated;SuccessfulCall(C);FailedCall(C);Retransmissions(C)\n10;10;0;0\n")
            with open(os.path.join(d, "x_rtt.csv"), "w") as f:
                f.write("Date_ms;response_time_ms;rtd_no\n")
                f.writelines(f"{t * 100}.0;{25.0 if t == 3 else 1.0};1\n" for t in range(10))
            import io, contextlib
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                report.run(dir=d, server="urpd", scenario="options", phase="fixed", offered="10", duration="1",
                           tx="1", final_rtd="1", cpu0="0", cpu1="0.1", wall="1", memfile="/nonexistent",
                           host0="100 10000", host1="150 12000")
            r = json.loads(buf.getvalue())
            self.assertEqual((r["slow_answers"], r["slow_seconds"], r["worst_second"]), (1, 1, 0))
            self.assertEqual(r["host_steal_pct"], 2.5)

    def test_fold_names_frames_root_first(self):
        st = flamegraph.fold(PERF_SCRIPT.splitlines(True))
        main = "urpd;__libc_start_main;urpd::daemon::run::run::{{closure}};urpd::proxy::core::Core::handle_message"
        self.assertEqual(st[main + ";finish_task_switch.isra.0_[k]"], 250000)
        self.assertEqual(st[main + ";<urpd::sip::Via as core::fmt::Display>::fmt"], 250000)
        self.assertEqual(st["sqlx-sqlite wor;[unknown] (libc.so.6)"], 500000)
        self.assertEqual(len(st), 3)

    def test_folded_text_round_trips(self):
        st = flamegraph.fold(PERF_SCRIPT.splitlines(True))
        text = "".join(f"{k} {v}\n" for k, v in st.items()) + "garbage line\n\n"
        self.assertEqual(flamegraph.read_folded(text.splitlines()), st)

    def test_svg_has_every_wide_frame_and_drops_narrow_ones(self):
        st = flamegraph.fold(PERF_SCRIPT.splitlines(True))
        st["urpd;tiny"] = 1  # 1 in ~10^6 of 1,180 px: under the 0.1 px floor
        out = flamegraph.svg(st, "t <&>")
        self.assertIn("t &lt;&amp;&gt;", out)
        self.assertIn("finish_task_switch.isra.0_[k] (25.00%, 250,000)", out)
        self.assertIn("sqlx-sqlite wor (50.00%", out)
        self.assertNotIn("tiny", out)
        self.assertTrue(out.rstrip().endswith("</svg>"))
        with self.assertRaises(ValueError):
            flamegraph.svg({}, "empty")

    def test_top_counts_a_frame_once_per_stack(self):
        st = {"urpd;a;b;a": 3, "urpd;c": 1}
        lines = flamegraph.top(st, 3).splitlines()
        self.assertEqual(lines[1].split(), ["75.00%", "75.00%", "a"])
        self.assertIn("25.00%", lines[3])


if __name__ == "__main__":
    unittest.main()
