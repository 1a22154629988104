# SPDX-License-Identifier: GPL-2.0-only
"""The goals table of one meshgate-bench run (summary.md, and the top of report.md).

Every row comes from the JSON of the same run, so the README's table can be this file as it is:
nothing in it is typed in by hand. A figure the run did not produce shows as "-".
"""


def _fig(doc, name):
    for f in (doc or {}).get("figures", []):
        if f.get("name") == name:
            return f.get("value")
    return None


def _pct(v, digits=0):
    return "-" if v is None else f"{v * 100:.{digits}f}%"


def _num(v, fmt):
    return "-" if v is None else format(v, fmt)


def _mark(ok):
    return "" if ok is None else (" ✓" if ok else " ✗")


def _point(doc, direction, peers, size):
    for p in (doc or {}).get("points", []):
        if p["direction"] == direction and p["peers"] == peers and str(p["size"]) == str(size):
            return p
    return None


def _ceiling_row(doc):
    s = {str(x["size"]): x for x in doc.get("sizes", [])}
    a, b = s.get("64"), s.get("1420")
    if not a or not b:
        return None
    return (f"| ChaCha20-Poly1305 ceiling, one core, intel-ipsec-mb {doc.get('isa', '?')} "
            f"| seal / open: 64 B {a['enc_mpps']:.2f} / {a['dec_mpps']:.2f} Mpps; 1420 B "
            f"{b['enc_mpps']:.2f} / {b['dec_mpps']:.2f} Mpps = {b['enc_gbps']:.1f} / "
            f"{b['dec_gbps']:.1f} Gbit/s | reference |")


def _dataplane_rows(d, label):
    rows = []
    for size, goal in (("1420", 0.90), ("64", 0.70)):
        cells, oks = [], []
        for direction in ("encrypt", "decrypt"):
            p = _point(d, direction, 1, size)
            if p is None:
                cells.append(f"{direction} -")
                continue
            cells.append(f"{direction} {p['mpps']:.3f} Mpps = **{_pct(p['ratio'])}**")
            oks.append(p["ratio"] >= goal)
        ok = all(oks) if oks else None
        rows.append(f"| {label}, 1 peer, {size} B, of the same-run ceiling | {'; '.join(cells)} "
                    f"| ≥ {goal * 100:.0f}%{_mark(ok)} |")
    return rows


def _peers_row(d):
    cells, worst = [], None
    sizes = []
    for p in d.get("points", []):
        if str(p["size"]) not in sizes:
            sizes.append(str(p["size"]))
    for size in sizes:
        pair = []
        for direction in ("encrypt", "decrypt"):
            one, many = _point(d, direction, 1, size), None
            for p in d.get("points", []):
                if p["direction"] == direction and p["peers"] > 1 and str(p["size"]) == size:
                    many = p
            if one and many:
                r = many["mpps"] / one["mpps"]
                worst = r if worst is None else min(worst, r)
                pair.append(_pct(r))
        if pair:
            cells.append(f"{size}: {' / '.join(pair)}")
    if not cells:
        return None
    return (f"| 10,000 peers against 1 peer (encrypt / decrypt) | {'; '.join(cells)} "
            f"| ≥ 90% at every size{_mark(worst >= 0.90 if worst is not None else None)} |")


def _overload_row(d):
    pts = [o for o in d.get("overload", []) if o.get("factor") == 4]
    if not pts:
        return None
    cells = [f"{o['direction']} {o['size']} {_pct(o['of_peak'], 1)}" for o in pts]
    worst = min(o["of_peak"] for o in pts)
    return (f"| forwarded at 4× offered load, of peak (1 peer) | {'; '.join(cells)} "
            f"| ≥ 95% on every point{_mark(worst >= 0.95)} |")


def _latency_row(d):
    pts = [x for x in d.get("latency", [])
           if x.get("idle_mode") == "busy-poll" and abs(x.get("load", 0) - 0.1) < 1e-6]
    if not pts:
        return None
    cells = []
    for x in pts:
        c = f"{x['direction']} {x['size']} B p50 {x['p50_us']:.1f} / p99 **{x['p99_us']:.1f}** µs"
        ws, gs = x.get("worker_stall_share"), x.get("generator_stall_share")
        if ws is not None and gs is not None:
            c += (f" (off their loops > 10 µs: worker {ws * 100:.1f}%, generator "
                  f"{gs * 100:.1f}% of the run; p99 of the {x.get('clear_samples', 0):,} frames "
                  f"no stall touched {x.get('p99_clear_us', 0):.1f} µs)")
        cells.append(c)
    worst = max(x["p99_us"] for x in pts)
    return (f"| latency at 10% load, busy poll (1 peer) | {'; '.join(cells)} "
            f"| p99 < 50 µs{_mark(worst < 50)} |")


def summary(docs, machine):
    """The goals table as markdown lines."""
    md = [f"Machine: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores, intel-ipsec-mb "
          f"{machine.get('isa', '?')} ({machine.get('crypto_library', '?')}), DPDK "
          f"{machine.get('dpdk', '?')}, kernel {machine.get('kernel', '?')}; "
          f"{machine.get('mode', '?')} run of {machine.get('date', '?')}.", "",
          "| benchmark | result | goal |", "| --- | --- | --- |"]
    dpm = (docs.get("dataplane") or {}).get("machine") or {}
    if "hugepages" in dpm:
        md[0] += (" Data plane memory: " +
                  ("2 MB hugepages" if dpm["hugepages"] else "4 KB pages (--no-huge)") +
                  ("; the testpmd points on 4 KB pages." if docs["dataplane"].get("testpmd")
                   and not docs["dataplane"].get("testpmd_hugepages") else "."))
    rt = dpm.get("line_round_trip_ns")
    if rt:
        md[0] += (f" A cache line's round trip between the generator's core and the worker's: "
                  f"{rt.get('start', 0):.0f} ns at the start of the data plane run, "
                  f"{rt.get('end', 0):.0f} ns at its end (bench/README.md, run-to-run spread).")
    rows = []
    for name in sorted(docs):
        if name == "crypto_ceiling" or name.startswith("crypto_ceiling_isa_"):
            rows.append(_ceiling_row(docs[name]))
    dp = docs.get("dataplane")
    if dp and dp.get("points"):
        isa = dp["points"][0].get("isa", machine.get("isa", "?"))
        rows += _dataplane_rows(dp, f"worker, {isa}")
    for name in sorted(docs):
        d = docs[name]
        if name.startswith("dataplane_isa_") and d.get("points"):
            rows += _dataplane_rows(d, f"worker, {d['points'][0].get('isa', '?')} (forced)")
    if dp and dp.get("points"):
        rows += [_peers_row(dp), _overload_row(dp), _latency_row(dp)]
        for r in dp.get("testpmd") or []:
            if str(r.get("size")) in ("64", "1420"):
                rows.append(f"| encrypt driven by stock dpdk-testpmd over memif, {r['size']} B "
                            f"| {r['mpps']:.3f} Mpps = {_pct(r['ratio'])} of ceiling | — |")
    f = docs.get("dataplane_filter")
    if f:
        k64, k1420 = _fig(f, "filter_kept_64"), _fig(f, "filter_kept_1420")
        ok = None if k64 is None or k1420 is None else min(k64, k1420) >= 0.90
        rows.append(f"| packet filter, 1,000 rules and flow tracking, decrypt path kept "
                    f"({f.get('acl_method', '?')}) | 64 B **{_pct(k64, 1)}**, 1420 B "
                    f"**{_pct(k1420, 1)}** | ≥ 90%{_mark(ok)} |")
    h = docs.get("handshake")
    if h:
        one, two = _fig(h, "handshakes_per_s"), _fig(h, "sharded_handshakes_per_s")
        rows.append(f"| handshakes per second (responder, X25519 {_num(_fig(h, 'x25519_us'), '.1f')}"
                    f" µs) | one core {_num(one, ',.0f')}; two sharded cores "
                    f"**{_num(two, ',.0f')}** | ≥ 10,000 on two cores"
                    f"{_mark(None if two is None else two >= 10000)} |")
    for n in (1, 2):
        d = docs.get(f"hs_lcores_{n}")
        if d:
            rows.append(f"| gateway handshake lcores: {n}, per CPU second (wall clock) "
                        f"| {_num(_fig(d, 'handshakes_per_cpu_s'), ',.0f')} "
                        f"({_num(_fig(d, 'wall_handshakes_per_s'), ',.0f')}) | — |")
    fl = docs.get("handshake_flood")
    if fl:
        kept = _fig(fl, "throughput_kept")
        pairs, lo, hi = (_fig(fl, k) for k in ("pairs", "throughput_kept_min",
                                               "throughput_kept_max"))
        spread = (f" (median of {pairs:.0f} pairs without / with the flood: "
                  f"{_pct(lo)}–{_pct(hi)})" if pairs and lo is not None else "")
        rows.append(f"| TCP kept during a {_num(_fig(fl, 'flood_sent_pps'), ',.0f')}/s initiation "
                    f"flood (flooder on the same 2 CPUs) | **{_pct(kept)}**{spread} | ≥ 90%"
                    f"{_mark(None if kept is None else kept >= 0.9)} |")
    e = docs.get("e2e")
    if e:
        cells = []
        for t, label in (("tcp1", "TCP 1 stream"), ("tcp4", "TCP 4 streams"), ("udp", "UDP")):
            cells.append(f"{label} {_num(_fig(e, t + '_meshgate_gbps'), '.2f')} vs "
                         f"{_num(_fig(e, t + '_wireguard_go_gbps'), '.2f')} Gbit/s = "
                         f"**{_num(_fig(e, t + '_ratio'), '.1f')}×**")
        worst = min((_fig(e, t + "_ratio") or 0) for t in ("tcp1", "tcp4", "udp"))
        rows.append(f"| end to end through two gateways, meshgate vs wireguard-go (iperf3) "
                    f"| {'; '.join(cells)} | ≥ 3×{_mark(worst >= 3)} |")
    m = docs.get("memory")
    if m:
        load_s = _fig(m, "allowedips_load_seconds")
        rows.append(f"| memory, {m.get('peers')} peers / {m.get('prefixes')} prefixes "
                    f"| {_num(_fig(m, 'allowedips_per_prefix_bytes'), '.0f')} B per prefix, "
                    f"{_num(_fig(m, 'per_peer_total_bytes'), ',.0f')} B per peer; loaded in "
                    f"**{_num(load_s, '.2f')} s** | load < 10 s"
                    f"{_mark(None if load_s is None else load_s < 10)} |")
    return md + [r for r in rows if r] + [""]
