#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Benchmark JSON -> Markdown report and PNG plots (gnuplot), and the JSON schema check.

    report.py DIR           writes DIR/report.md and DIR/*.png from DIR/*.json
    report.py --check DIR   exit 0 when every expected benchmark left sane, non-zero figures;
                            never judges speed (CI runs the quick mode through this)

Standard library only. Each benchmark writes {"bench": NAME, ...}: most as a "figures" list of
{"name", "value", "unit"}; crypto_ceiling ("sizes") and dataplane ("points") have their own
shapes, read here.
"""
import json
import math
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report_summary import summary  # noqa: E402  (beside this script)

EXPECTED = ["crypto_ceiling", "dataplane", "memory", "handshake", "e2e", "handshake_flood"]
# Figures that may legitimately be zero (counts of things that need not happen, and a machine's
# idle or steal share).
MAY_BE_ZERO_UNITS = {"count", "percent"}
# Differences of two measurements: only finite, since noise can push them below zero.
DERIVED_UNITS = {"us (derived)"}


def load(out_dir):
    docs = {}
    for name in sorted(os.listdir(out_dir)):
        if not name.endswith(".json") or name == "machine.json":
            continue
        with open(os.path.join(out_dir, name)) as f:
            doc = json.load(f)
        docs[doc.get("bench", name[:-5])] = doc
    machine = {}
    mpath = os.path.join(out_dir, "machine.json")
    if os.path.exists(mpath):
        with open(mpath) as f:
            machine = json.load(f)
    return docs, machine


def positive(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0


# ---- the schema check ----

def check_doc(bench, doc):
    errs = []
    if bench == "crypto_ceiling" or bench.startswith("crypto_ceiling_isa_"):
        sizes = doc.get("sizes") or []
        if not sizes:
            errs.append("no sizes")
        for s in sizes:
            for k in ("size", "enc_mpps", "enc_gbps", "dec_mpps", "dec_gbps"):
                if not positive(s.get(k)):
                    errs.append(f"size {s.get('size')}: {k} = {s.get(k)!r}")
    elif bench == "dataplane" or bench.startswith("dataplane_isa_"):
        generator = doc.get("generator", "builtin")
        if generator not in ("builtin", "testpmd", "both"):
            errs.append(f"generator = {generator!r}")
        rt = (doc.get("machine") or {}).get("line_round_trip_ns") or {}
        for k in ("start", "end"):
            if not positive(rt.get(k)):
                errs.append(f"machine: line_round_trip_ns {k} = {rt.get(k)!r}")
        if generator != "testpmd":
            points = doc.get("points") or []
            if not points:
                errs.append("no points")
            for p in points:
                for k in ("mpps", "gbps", "ceiling_mpps", "ratio"):
                    if not positive(p.get(k)):
                        errs.append(f"{p.get('direction')}/{p.get('peers')}/{p.get('size')}: "
                                    f"{k} = {p.get(k)!r}")
            errs += check_load(doc)
        if generator != "builtin":
            errs += check_testpmd(doc)
    else:
        figs = doc.get("figures") or []
        if not figs:
            errs.append("no figures")
        for f in figs:
            v, unit = f.get("value"), f.get("unit")
            if not isinstance(f.get("name"), str) or not isinstance(unit, str):
                errs.append(f"figure without name or unit: {f!r}")
            elif unit in DERIVED_UNITS:
                if not (isinstance(v, (int, float)) and math.isfinite(v)):
                    errs.append(f"{f['name']} = {v!r}")
            elif unit in MAY_BE_ZERO_UNITS:
                if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                    errs.append(f"{f['name']} = {v!r}")
            elif not positive(v):
                errs.append(f"{f['name']} = {v!r}")
    return errs


# Per overload and latency entry: the figures that must be positive, and those that may be 0.
OVERLOAD_POSITIVE = ("factor", "capacity_mpps", "offered_mpps", "forwarded_mpps", "peak_mpps",
                     "of_peak")
LATENCY_POSITIVE = ("load", "capacity_mpps", "offered_mpps", "samples", "p50_us", "p99_us")
# Per latency entry, per thread (worker, generator): its loop gaps, which may be none.
LATENCY_STALLS = ("stall_share", "stalls", "stall_share_100us", "stalls_100us", "nivcsw")


# Per testpmd point (stock dpdk-testpmd txonly over memif): must be positive / may be zero.
TESTPMD_POSITIVE = ("size", "mpps", "median_mpps", "gbps", "ceiling_mpps", "ratio",
                    "median_ratio", "generator_mpps", "offered", "packets")
TESTPMD_COUNTS = ("refused", "drops")


def check_testpmd(doc):
    """dataplane's testpmd[] when the run used the testpmd generator."""
    errs = []
    rows = doc.get("testpmd") or []
    if not rows:
        errs.append("no testpmd points (the run used the testpmd generator)")
    if not doc.get("testpmd_note") or not doc.get("testpmd_command"):
        errs.append("testpmd_note or testpmd_command missing")
    for r in rows:
        for k in TESTPMD_POSITIVE:
            if not positive(r.get(k)):
                errs.append(f"testpmd {r.get('size')}: {k} = {r.get(k)!r}")
        for k in TESTPMD_COUNTS:
            v = r.get(k)
            if not (isinstance(v, int) and not isinstance(v, bool) and v >= 0):
                errs.append(f"testpmd {r.get('size')}: {k} = {v!r}")
    return errs


def check_stalls(tag, r):
    """A latency entry's stall figures: present, shares in [0, 1], counts whole, the clear
    samples a subset whose p99 is 0 only when there are none."""
    errs = []
    for who in ("worker", "generator"):
        for k in LATENCY_STALLS:
            v = r.get(f"{who}_{k}")
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0 \
                    or ("share" in k and v > 1):
                errs.append(f"{tag}: {who}_{k} = {v!r}")
    clear, n = r.get("clear_samples"), r.get("samples")
    if not isinstance(clear, int) or not isinstance(n, int) or not 0 <= clear <= n:
        errs.append(f"{tag}: clear_samples = {clear!r} of {n!r}")
    elif not isinstance(r.get("p99_clear_us"), (int, float)) or \
            (clear > 0) != positive(r.get("p99_clear_us")):
        errs.append(f"{tag}: p99_clear_us = {r.get('p99_clear_us')!r} over {clear} samples")
    return errs


def check_load(doc):
    """dataplane's overload[] (1x, 2x, 4x capacity) and latency[] (busy poll and back-off)."""
    errs = []
    over, lat = doc.get("overload") or [], doc.get("latency") or []
    if not over:
        errs.append("no overload figures")
    if sorted({o.get("factor") for o in over}) != [1, 2, 4]:
        errs.append(f"overload factors {sorted({o.get('factor') for o in over})}, want 1, 2, 4")
    if not lat:
        errs.append("no latency figures")
    if {(x.get("idle_mode"), x.get("load")) for x in lat} != \
            {(m, l) for m in ("busy-poll", "backoff") for l in (0.1, 0.5)}:
        errs.append("latency: want busy-poll and backoff at loads 0.1 and 0.5")
    for kind, rows, keys in (("overload", over, OVERLOAD_POSITIVE),
                             ("latency", lat, LATENCY_POSITIVE)):
        for r in rows:
            tag = f"{kind} {r.get('direction')}/{r.get('size')}/{r.get('factor', r.get('load'))}"
            for k in keys:
                if not positive(r.get(k)):
                    errs.append(f"{tag}: {k} = {r.get(k)!r}")
            ref = r.get("refused")
            if not (isinstance(ref, int) and ref >= 0):
                errs.append(f"{tag}: refused = {ref!r}")
            if kind == "latency" and positive(r.get("p50_us")) and positive(r.get("p99_us")) \
                    and r["p99_us"] < r["p50_us"]:
                errs.append(f"{tag}: p99 {r['p99_us']} below p50 {r['p50_us']}")
            if kind == "latency":
                errs += check_stalls(tag, r)
    return errs


def check(out_dir, expected):
    docs, machine = load(out_dir)
    bad = []
    for bench in expected:
        if bench not in docs:
            bad.append(f"{bench}: no JSON")
            continue
        bad += [f"{bench}: {e}" for e in check_doc(bench, docs[bench])]
    for k in ("cpu", "cores", "isa", "dpdk"):
        if not machine.get(k):
            bad.append(f"machine: {k} missing")
    for line in bad:
        print("bench check: " + line, file=sys.stderr)
    if not bad:
        print(f"bench check: {len(expected)} benchmarks, all figures present and non-zero")
    return 0 if not bad else 1


# ---- the report ----

def fmt(v):
    if isinstance(v, float):
        if v == 0 or abs(v) >= 100:
            return f"{v:,.0f}"
        return f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def figures_table(doc):
    rows = ["| figure | value | unit |", "|---|---:|---|"]
    for f in doc.get("figures", []):
        rows.append(f"| {f['name']} | {fmt(f['value'])} | {f['unit']} |")
    return rows


def fig_value(doc, name, default=0.0):
    for f in doc.get("figures", []):
        if f["name"] == name:
            return f["value"]
    return default


def gnuplot(script, out_dir):
    if not shutil.which("gnuplot"):
        return False
    r = subprocess.run(["gnuplot"], input=script, text=True, cwd=out_dir,
                       capture_output=True, timeout=60)
    if r.returncode != 0:
        print("gnuplot: " + r.stderr.strip(), file=sys.stderr)
    return r.returncode == 0


TERM = "set terminal pngcairo size 900,540 noenhanced font ',10'\n"


def plot_crypto(doc, out_dir):
    data = "\n".join(f"{s['size']} {s['enc_gbps']} {s['dec_gbps']}" for s in doc["sizes"])
    script = TERM + f"""set output 'crypto_ceiling.png'
set title 'ChaCha20-Poly1305 ceiling, one core ({doc.get('isa', '?')})'
set xlabel 'message bytes'; set ylabel 'Gbit/s'; set logscale x 2; set grid; set key left top
$d << EOD
{data}
EOD
plot $d using 1:2 with linespoints title 'seal', $d using 1:3 with linespoints title 'open'
"""
    return gnuplot(script, out_dir) and "crypto_ceiling.png"


def plot_dataplane(doc, out_dir):
    series = {}
    for p in doc["points"]:
        series.setdefault(f"{p['direction']}, {p['peers']} peer(s)", []).append(p)
    blocks, plots = [], []
    for i, (title, pts) in enumerate(sorted(series.items())):
        lines = "\n".join(f"\"{p['size']}\" {p['gbps']} {p['ratio']}" for p in pts)
        blocks.append(f"$s{i} << EOD\n{lines}\nEOD")
        plots.append(f"$s{i} using 0:2:xtic(1) with linespoints title '{title}'")
    # The reference of the same run: the ceiling in the same units (its Mpps times the point's
    # bytes per packet), dashed; and the testpmd-driven points when the run had them.
    for d in ("encrypt", "decrypt"):
        pts = [p for p in doc["points"] if p["direction"] == d and p["peers"] == 1 and p["mpps"]]
        if not pts:
            continue
        lines = "\n".join(f"\"{p['size']}\" {p['gbps'] / p['mpps'] * p['ceiling_mpps']}"
                          for p in pts)
        blocks.append(f"$c{d} << EOD\n{lines}\nEOD")
        plots.append(f"$c{d} using 0:2:xtic(1) with lines dashtype 2 "
                     f"title 'ceiling ({'seal' if d == 'encrypt' else 'open'}), same run'")
    tp = [p for p in doc.get("testpmd", []) if p.get("gbps")]
    if tp:
        lines = "\n".join(f"\"{p['size']}\" {p['gbps']}" for p in tp)
        blocks.append(f"$tp << EOD\n{lines}\nEOD")
        plots.append("$tp using 0:2:xtic(1) with linespoints dashtype 3 "
                     "title 'encrypt, 1 peer, stock dpdk-testpmd over memif'")
    script = TERM + "set output 'dataplane.png'\n" + \
        "set title 'Data plane, one worker core (inner Gbit/s)'\n" + \
        "set xlabel 'inner packet size'; set ylabel 'Gbit/s'; set grid; set key left top\n" + \
        "\n".join(blocks) + "\nplot " + ", ".join(plots) + "\n"
    return gnuplot(script, out_dir) and "dataplane.png"


def plot_e2e(doc, out_dir):
    rows = []
    for t, label in (("tcp1", "TCP 1 stream"), ("tcp4", "TCP 4 streams"), ("udp", "UDP")):
        rows.append(f"\"{label}\" {fig_value(doc, t + '_meshgate_gbps')} "
                    f"{fig_value(doc, t + '_wireguard_go_gbps')}")
    script = TERM + """set output 'e2e.png'
set title 'End to end through two gateways (iperf3, same machine)'
set ylabel 'Gbit/s'; set style data histograms; set style histogram clustered gap 1
set style fill solid 0.8 border -1; set boxwidth 0.9; set grid ytics; set yrange [0:*]
$d << EOD
""" + "\n".join(rows) + """
EOD
plot $d using 2:xtic(1) title 'meshgate', '' using 3 title 'wireguard-go'
"""
    return gnuplot(script, out_dir) and "e2e.png"


def plot_handshake(doc, flood, out_dir):
    rows = [f"\"handshakes/s\" {fig_value(doc, 'handshakes_per_s')}",
            f"\"X25519 bound\" {fig_value(doc, 'x25519_bound_handshakes_per_s')}"]
    if fig_value(doc, "sharded_handshakes_per_s", None) is not None:
        rows += [f"\"2 shards\" {fig_value(doc, 'sharded_handshakes_per_s')}",
                 f"\"2 shards, per CPU s\" {fig_value(doc, 'sharded_handshakes_per_cpu_s')}"]
    rows += ["\"goal (two cores)\" 10000"]
    script = TERM + """set output 'handshake.png'
set title 'Responder handshakes per second, one core and two shards'
set ylabel 'per second'; set style data histograms; set style fill solid 0.8 border -1
set boxwidth 0.6; set grid ytics; set yrange [0:*]
$d << EOD
""" + "\n".join(rows) + """
EOD
plot $d using 2:xtic(1) notitle
"""
    return gnuplot(script, out_dir) and "handshake.png"


def points_rows(d):
    md = ["| path | peers | size | Mpps | Gbit/s | ceiling Mpps | of ceiling |",
          "|---|---:|---|---:|---:|---:|---:|"]
    for p in d["points"]:
        md.append(f"| {p['direction']} | {p['peers']} | {p['size']} | "
                  f"{p['mpps']:.3f} | {p['gbps']:.2f} | {p['ceiling_mpps']:.3f} | "
                  f"{p['ratio'] * 100:.0f}% |")
    return md + [""]


def load_tables(d):
    md = []
    if d.get("overload"):
        md += ["### Overload (one peer; offered at 1x, 2x, 4x capacity; goal: 95% of peak at "
               "4x)", "", d.get("load_is", "") + f"; runs repeated because the generator or "
               f"worker got no CPU: {d.get('load_runs_repeated', 0)}", "",
               "| path | size | capacity Mpps | load | offered Mpps | refused | forwarded Mpps "
               "| of peak | of capacity |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for o in d["overload"]:
            of_cap = o.get("of_capacity")
            of_cap = f"{of_cap * 100:.1f}%" if isinstance(of_cap, (int, float)) else "-"
            md.append(f"| {o['direction']} | {o['size']} | {o['capacity_mpps']:.3f} | "
                      f"{o['factor']:.0f}x | {o['offered_mpps']:.3f} | {o['refused']:,} | "
                      f"{o['forwarded_mpps']:.3f} | {o['of_peak'] * 100:.1f}% | {of_cap} |")
        md.append("")
    if d.get("latency"):
        md += ["### Latency through one worker (enqueue to TX ring, one peer)", "",
               "Stall: the share of the measured time the thread spent off its loop in gaps over "
               "10 us beyond the frames it handled (worker / generator; preempted, or off its "
               "CPU), csw: the worker's involuntary context switches; p99 clear: over the frames "
               "that no loop gap over 10 us overlapped (their share in parentheses). A p99 far "
               "above its p99 clear was the machine, not the code.",
               "", "| path | size | idle mode | load | offered Mpps | p50 us | p99 us | max us | "
               "samples | stall | csw | p99 clear us |",
               "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for x in d["latency"]:
            stall = csw = clear = "-"
            if "worker_stall_share" in x:
                stall = (f"{x['worker_stall_share'] * 100:.2f}% / "
                         f"{x['generator_stall_share'] * 100:.2f}%")
                csw = f"{x['worker_nivcsw']:,}"
                share = x["clear_samples"] / x["samples"] if x["samples"] else 0
                clear = f"{x['p99_clear_us']:.1f} ({share * 100:.0f}%)"
            md.append(f"| {x['direction']} | {x['size']} | {x['idle_mode']} | "
                      f"{x['load'] * 100:.0f}% | {x['offered_mpps']:.4f} | {x['p50_us']:.1f} | "
                      f"{x['p99_us']:.1f} | {x['max_us']:.1f} | {x['samples']:,} | {stall} | "
                      f"{csw} | {clear} |")
        md.append("")
    return md


def testpmd_table(d):
    rows = d.get("testpmd") or []
    if not rows:
        return []

    def opt_pct(v):
        return f"{v * 100:.0f}%" if isinstance(v, (int, float)) else "-"

    md = ["### Driven by stock dpdk-testpmd (txonly over memif; encrypt, 1 peer)", "",
          d.get("testpmd_note", ""), "", f"`{d.get('testpmd_command', '')}`", "",
          "| size | Mpps | Gbit/s | ceiling Mpps | of ceiling | median | testpmd offered Mpps | "
          "refused by memif | built-in Mpps | built-in of ceiling |",
          "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        b = r.get("builtin_mpps")
        md.append(f"| {r['size']} | {r['mpps']:.3f} | {r['gbps']:.2f} | "
                  f"{r['ceiling_mpps']:.3f} | {r['ratio'] * 100:.0f}% | "
                  f"{r['median_ratio'] * 100:.0f}% | {r['generator_mpps']:.2f} | "
                  f"{r['refused']:,} | {f'{b:.3f}' if isinstance(b, (int, float)) else '-'} | "
                  f"{opt_pct(r.get('builtin_ratio'))} |")
    md.append("")
    return md


def report(out_dir):
    docs, machine = load(out_dir)
    md = ["# meshgate benchmark report", ""]
    if machine:
        md += ["| machine | |", "|---|---|"]
        for k in ("cpu", "cores", "isa", "crypto_library", "dpdk", "idle_mode", "cpuidle",
                  "governor", "kernel", "mode", "date"):
            if k in machine:
                md.append(f"| {k} | {machine[k]} |")
        md.append("")
    goals = summary(docs, machine)
    with open(os.path.join(out_dir, "summary.md"), "w") as f:
        f.write("\n".join(goals))
    md += ["## Goals", ""] + goals
    plots = []
    if "crypto_ceiling" in docs:
        d = docs["crypto_ceiling"]
        md += ["## Crypto ceiling (ChaCha20-Poly1305, one core)", "",
               "| bytes | seal Mpps | seal Gbit/s | open Mpps | open Gbit/s |",
               "|---:|---:|---:|---:|---:|"]
        for s in d["sizes"]:
            md.append(f"| {s['size']} | {s['enc_mpps']:.3f} | {s['enc_gbps']:.2f} | "
                      f"{s['dec_mpps']:.3f} | {s['dec_gbps']:.2f} |")
        md.append("")
        plots.append(plot_crypto(d, out_dir))
    for name, d in sorted(docs.items()):
        if name.startswith("crypto_ceiling_isa_"):
            md += [f"### The same ceiling on intel-ipsec-mb's {d.get('isa', '?')} path (same run)",
                   "", "| bytes | seal Mpps | seal Gbit/s | open Mpps | open Gbit/s |",
                   "|---:|---:|---:|---:|---:|"]
            for s in d["sizes"]:
                md.append(f"| {s['size']} | {s['enc_mpps']:.3f} | {s['enc_gbps']:.2f} | "
                          f"{s['dec_mpps']:.3f} | {s['dec_gbps']:.2f} |")
            md.append("")
    if "dataplane" in docs:
        d = docs["dataplane"]
        md += ["## Data plane, one worker core", ""]
        if d.get("points"):
            md += ["| path | peers | size | Mpps | Gbit/s | ceiling Mpps | of ceiling |",
                   "|---|---:|---|---:|---:|---:|---:|"]
            md += points_rows(d)
        md += load_tables(d)
        md += testpmd_table(d)
        if d.get("points"):
            plots.append(plot_dataplane(d, out_dir))
    for name, d in sorted(docs.items()):
        if name.startswith("dataplane_isa_") and d.get("points"):
            isa = d["points"][0].get("isa", "?")
            md += [f"## Data plane, one worker core, crypto forced to {isa} (same run, its own "
                   f"ceiling)", ""] + points_rows(d) + load_tables(d)
    if "e2e" in docs:
        d = docs["e2e"]
        md += ["## End to end: meshgate vs wireguard-go (goal: 3x)", "",
               "| test | meshgate Gbit/s | wireguard-go Gbit/s | ratio |", "|---|---:|---:|---:|"]
        for t, label in (("tcp1", "TCP, 1 stream"), ("tcp4", "TCP, 4 streams"), ("udp", "UDP")):
            md.append(f"| {label} | {fig_value(d, t + '_meshgate_gbps'):.3f} | "
                      f"{fig_value(d, t + '_wireguard_go_gbps'):.3f} | "
                      f"{fig_value(d, t + '_ratio'):.2f}x |")
        md.append("")
        plots.append(plot_e2e(d, out_dir))
    if "dataplane_filter" in docs:
        d = docs["dataplane_filter"]
        md += [f"## Packet filter on the decrypt path, one worker core (goal: 90% kept; "
               f"{d.get('rules')} rules, crypto {d.get('isa')}, rte_acl {d.get('acl_method', '?')}, "
               f"{d.get('date', 'undated')})", "",
               f"Traffic: {d.get('traffic')}. Median of the paired batches' ratios (range).", "",
               "| size | without filter Mpps | with filter Mpps | kept | pairs | worker on CPU |",
               "|---:|---:|---:|---:|---:|---:|"]
        for size in (64, 1420):
            def v(name):
                return fig_value(d, name.format(size))
            md.append(f"| {size} | {v('decrypt_{}_mpps'):.3f} | {v('decrypt_filter_{}_mpps'):.3f} | "
                      f"{v('filter_kept_{}') * 100:.1f}% ({v('filter_kept_{}_min') * 100:.0f}–"
                      f"{v('filter_kept_{}_max') * 100:.0f}%) | {v('pairs_{}'):.0f} | "
                      f"{v('worker_cpu_share_{}') * 100:.0f}% |")
        md.append("")
    if "handshake" in docs:
        md += ["## Handshakes (goal: 10,000/s on two cores; sharded_*: two responders at once)",
               ""] + \
            figures_table(docs["handshake"]) + [""]
        plots.append(plot_handshake(docs["handshake"], docs.get("handshake_flood"), out_dir))
    if "handshake_flood" in docs:
        d = docs["handshake_flood"]
        md += ["## Data plane during a handshake flood (goal: 90% kept)", "",
               f"Kept {fig_value(d, 'throughput_kept') * 100:.0f}% of TCP throughput while "
               f"{fig_value(d, 'flood_sent_pps'):,.0f} initiations/s arrived (median of "
               f"{fig_value(d, 'pairs', 1):.0f} pairs of runs without and with the flood).",
               ""] + \
            figures_table(d) + [""]
    if "memory" in docs:
        d = docs["memory"]
        md += [f"## Memory ({d.get('peers')} peers, {d.get('prefixes')} prefixes, "
               f"{d.get('v6_layout')} IPv6 layout)", ""] + figures_table(d) + [""]
    for name, doc in sorted(docs.items()):
        if name not in EXPECTED and name != "dataplane_filter" and \
                not name.startswith(("crypto_ceiling_isa_", "dataplane_isa_")):
            md += [f"## {name}", ""] + figures_table(doc) + [""]
    plots = [p for p in plots if p]
    if plots:
        md += ["## Plots", ""] + [f"![{p}]({p})" for p in plots] + [""]
    with open(os.path.join(out_dir, "report.md"), "w") as f:
        f.write("\n".join(md))
    print(f"report: {os.path.join(out_dir, 'report.md')}; plots: {', '.join(plots) or 'none'}")
    return 0


def main(argv):
    if len(argv) == 3 and argv[1] == "--check":
        return check(argv[2], expected_from_env() or EXPECTED)
    if len(argv) == 2 and not argv[1].startswith("-"):
        return report(argv[1])
    print(__doc__, file=sys.stderr)
    return 2


def expected_from_env():
    """meshgate-bench names the benchmarks it ran in MESHGATE_BENCH_EXPECT (comma list)."""
    v = os.environ.get("MESHGATE_BENCH_EXPECT", "")
    return [x for x in v.split(",") if x]


if __name__ == "__main__":
    sys.exit(main(sys.argv))
