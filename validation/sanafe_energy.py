"""Cross-check neurochip's event counts and energy against SANA-FE on the Loihi architecture.

The same network (digits spikes -> 100 integrate-and-fire -> 10 integrate-and-fire), the same
input, the same placement on the 8 x 4 tile mesh and the same energy constants (SANA-FE's
arch/loihi.yaml, which neurochip's profile loihi1_sanafe copies) run in both simulators:
neurochip in-process, SANA-FE as an external program from its own venv (GPL: run, never
imported or vendored) via validation/sanafe_side.py and a temporary .npz.

    .venv/bin/python validation/sanafe_energy.py [--seed 0] [--steps-per-digit 50] [--gap 10] [--digits 3]

Prints a markdown table (per event kind: counts, energies, difference) and writes
validation/results/sanafe_energy.json. Exit 1 if spikes or synaptic ops differ or the
total energy differs by more than 5%; exit 2 if the SANA-FE venv is missing.
See validation/README.md for what is compared and why the remaining differences exist.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import neurochip as nc  # noqa: E402
from neurochip.chip.energy import run_energy  # noqa: E402
from neurochip.chip.spec import Profile  # noqa: E402
from neurochip.model.events import EVENTS  # noqa: E402
from neurochip.model.fixed import U_MAX, V_LIMIT  # noqa: E402

PEER_PY = ROOT / "benchmarks" / ".venvs" / "peers" / "bin" / "python"
SIDE = Path(__file__).resolve().parent / "sanafe_side.py"
PROFILE_TOML = ROOT / "neurochip" / "profiles" / "loihi1_sanafe.toml"
OUT_JSON = Path(__file__).resolve().parent / "results" / "sanafe_energy.json"
TOLERANCE = 0.05

N_IN, N_H, N_O = 64, 100, 10
VTH_H, VTH_O = 160, 128
# Placement (neurochip core indices; core c is on tile c // 4 at x = tile % 8, y = tile // 8):
# h on two cores of tile (0,0), one of tile (1,0), one of tile (1,1); o on tile (3,2). The host
# injects the input at tile (0,0), where SANA-FE's input neurons are mapped (core 0).
CORES_H = np.repeat([0, 1, 4, 36], 25)
CORES_O = np.full(N_O, 76)


def peer_python_ok() -> str | None:
    """None if the peers venv can import sanafe, else the reason."""
    if not PEER_PY.exists():
        return f"{PEER_PY} does not exist"
    r = subprocess.run([str(PEER_PY), "-c", "import sanafe"], capture_output=True, text=True)
    return None if r.returncode == 0 else f"{PEER_PY} cannot import sanafe: {r.stderr.strip()[-300:]}"


def make_problem(seed: int, steps_per_digit: int, n_digits: int, gap: int = 10):
    """Input spikes (steps, 64) and integer weights, seeded: the first `n_digits` scikit-learn
    digits as Bernoulli spike trains (neurochip.studies.datasets.digits), each followed by `gap`
    silent steps (so that neurons which just fired sit at rest: inactive updates)."""
    from neurochip.studies.datasets import digits

    x, _ = digits(steps_per_digit, seed=seed, split=False)
    silent = np.zeros((gap, x.shape[2]), dtype=bool)
    spikes = np.concatenate([np.concatenate([d, silent]) for d in x[:n_digits]], axis=0)
    rng = np.random.default_rng(seed)
    # even weights: mixed-sign 8-bit synapses drop the LSB (neurochip.effective_weights)
    w1 = np.where(rng.random((N_H, N_IN)) < 0.5, 2 * rng.integers(-3, 7, (N_H, N_IN)), 0)
    w2 = np.where(rng.random((N_O, N_H)) < 0.6, 2 * rng.integers(-4, 7, (N_O, N_H)), 0)
    w1, w2 = (nc.effective_weights(w, 8) for w in (w1, w2))
    return spikes, w1.astype(np.int64), w2.astype(np.int64)


def run_neurochip(spikes, w1, w2):
    net = nc.Network()
    net.add(nc.SpikeSource(N_IN, name="in"))
    net.add(nc.LoihiLIF(N_H, du=4095, dv=0, vth=VTH_H, name="h"))
    net.add(nc.LoihiLIF(N_O, du=4095, dv=0, vth=VTH_O, name="o"))
    net.connect("in", "h", w1)
    net.connect("h", "o", w2)
    chip = nc.loihi1()
    sim = nc.Simulator(net, chip, nc.Placement({"h": CORES_H, "o": CORES_O}))
    t0 = time.perf_counter()
    res = sim.run(len(spikes), inputs={"in": spikes}, record=["spikes", "u", "v"])
    wall = time.perf_counter() - t0
    for pop in ("h", "o"):  # the comparison is exact only away from the 24-bit limits
        if np.abs(res.v[pop]).max() >= V_LIMIT or np.abs(res.u[pop]).max() >= U_MAX:
            raise SystemExit(f"neurochip: population {pop} reached the 24-bit u/v limit; "
                             "SANA-FE has no such limit, so the comparison would not be exact")
    return chip, res, wall


def update_rules(res, spikes, w1, w2) -> dict:
    """Both simulators' rule for an *active* neuron update, applied to neurochip's recorded
    state (bias is 0, du = 4095 so u[t] = a[t] << 6):
      neurochip: a[t] != 0  or  u[t-1] != 0  or  v[t-1] != 0
      SANA-FE:   a spike message reached the neuron for step t (even if the weights sum
                 to 0)  or  v[t-1] != 0     (the soma never sees u, which it does not keep)
    """
    def prev(x):
        return np.vstack([np.zeros((1, x.shape[1]), x.dtype), x[:-1]])

    out = dict(neurochip_rule=0, sanafe_rule=0, neurochip_only=0, sanafe_only=0)
    for pop, pre, w in (("h", spikes, w1), ("o", res.spikes["h"], w2)):
        u, v = res.u[pop], res.v[pop]
        arrived = (prev(pre.astype(np.int64)) @ (w != 0).T.astype(np.int64)) > 0
        nc_rule = (u != 0) | (prev(u) != 0) | (prev(v) != 0)
        sf_rule = arrived | (prev(v) != 0)
        out["neurochip_rule"] += int(nc_rule.sum())
        out["sanafe_rule"] += int(sf_rule.sum())
        out["neurochip_only"] += int((nc_rule & ~sf_rule).sum())
        out["sanafe_only"] += int((sf_rule & ~nc_rule).sum())
    return out


def sanafe_location(chip, cores):
    """SANA-FE (tile id, core offset) of neurochip cores, same mesh coordinates.
    neurochip numbers tiles row-major (x = t % tiles_x); SANA-FE column-major (x = id // height)."""
    tile = cores // chip.cores_per_tile
    x, y = tile % chip.tiles_x, tile // chip.tiles_x
    return x * chip.tiles_y + y, cores % chip.cores_per_tile


def run_sanafe(chip, spikes, w1, w2):
    meta = dict(steps=len(spikes), source="in", input_tile=0, input_core=0,
                populations=[dict(name="h", n=N_H, vth=VTH_H), dict(name="o", n=N_O, vth=VTH_O)],
                projections=[dict(pre="in", post="h", key="in_h"), dict(pre="h", post="o", key="h_o")])
    th, ch = sanafe_location(chip, CORES_H)
    to, co = sanafe_location(chip, CORES_O)
    with tempfile.TemporaryDirectory() as tmp:
        npz, out = Path(tmp) / "net.npz", Path(tmp) / "out.json"
        np.savez(npz, meta=json.dumps(meta), spikes_in=spikes, W_in_h=w1, W_h_o=w2,
                 tile_h=th, core_h=ch, tile_o=to, core_o=co)
        t0 = time.perf_counter()
        r = subprocess.run([str(PEER_PY), str(SIDE), str(npz), str(out)], capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if r.returncode != 0:
            raise SystemExit(f"SANA-FE side failed (exit {r.returncode}):\n{r.stderr[-3000:]}")
        return json.loads(out.read_text()), wall


def by_kind(table, label):
    return next(r for r in table if r["kind"] == label)


def raster(events, steps, n):
    a = np.zeros((steps, n), dtype=bool)
    if events:
        e = np.asarray(events)
        a[e[:, 0], e[:, 1]] = True
    return a


def pct(a, b):
    return float("nan") if b == 0 and a != 0 else (0.0 if b == 0 else 100.0 * (a - b) / b)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps-per-digit", type=int, default=50)
    ap.add_argument("--gap", type=int, default=10, help="silent steps after each digit")
    ap.add_argument("--digits", type=int, default=3)
    args = ap.parse_args()

    why = peer_python_ok()
    if why:
        print(f"SANA-FE peer venv not usable: {why}\n"
              "Create it with:  bash benchmarks/peers/setup_peer_venvs.sh\n"
              "or just:         python3.11 -m venv benchmarks/.venvs/peers && "
              "benchmarks/.venvs/peers/bin/pip install sanafe numpy", file=sys.stderr)
        sys.exit(2)

    spikes, w1, w2 = make_problem(args.seed, args.steps_per_digit, args.digits, args.gap)
    steps = len(spikes)
    chip, res, nc_wall = run_neurochip(spikes, w1, w2)
    sf, sf_wall = run_sanafe(chip, spikes, w1, w2)

    # ---- energy constants: neurochip's profile vs SANA-FE's own arch file (pJ)
    prof = Profile.from_toml(PROFILE_TOML)
    cost = dict(zip(EVENTS, prof.vector("energy_pj")))
    chip_cost = dict(zip(EVENTS, chip.profile.vector("energy_pj")))
    a = {u: {k: v * 1e12 for k, v in e.items()} for u, e in sf["arch_energy_j"].items()}
    sf_cost = {
        "syn_ops": a["loihi_dense_synapse"]["energy_process_spike"],
        "dendrite_accums": a["loihi_dendrites"]["energy_update"],
        "neuron_updates_active": a["loihi_lif"]["energy_access_neuron"] + a["loihi_lif"]["energy_update_neuron"],
        "neuron_updates_inactive": a["loihi_lif"]["energy_access_neuron"],
        "spikes_out": a["loihi_lif"]["energy_spike_out"],
        "spikes_out_input": a["loihi_inputs[0..1023]"]["energy_spike_out"],
        "packets": a["loihi_out"]["energy_message_out"],
        "hops_ew": a["loihi_tile[0..31]"]["energy_east_hop"],
        "hops_ns": a["loihi_tile[0..31]"]["energy_north_hop"],
        "axons_in": a["loihi_in"]["energy_message_in"],
    }
    assert a["loihi_tile[0..31]"]["energy_west_hop"] == sf_cost["hops_ew"]
    assert a["loihi_tile[0..31]"]["energy_south_hop"] == sf_cost["hops_ns"]
    constants_match = {k: bool(np.isclose(cost[k], sf_cost[k])) for k in EVENTS}
    constants_match["chip_profile_is_toml"] = bool(all(np.isclose(cost[k], chip_cost[k]) for k in EVENTS))

    # ---- spikes: full rasters, per neuron
    spikes_cmp, sf_fired_in = {}, len(sf["rasters"]["in"])
    for pop, n in (("h", N_H), ("o", N_O)):
        r_nc, r_sf = res.spikes[pop], raster(sf["rasters"][pop], steps, n)
        spikes_cmp[pop] = dict(neurochip=int(r_nc.sum()), sanafe=int(r_sf.sum()),
                               per_neuron_identical=bool(np.array_equal(r_nc.sum(0), r_sf.sum(0))),
                               raster_identical=bool(np.array_equal(r_nc, r_sf)))
    in_identical = bool(np.array_equal(raster(sf["rasters"]["in"], steps, N_IN), spikes))

    # ---- counts per kind
    chip_rows, host = res.counters[:-1].sum(0), res.counters[-1]
    ix = {k: i for i, k in enumerate(EVENTS)}
    n_lif = N_H + N_O
    c = sf["counters"]
    sf_active = c["neurons_updated"] - sf_fired_in  # SANA-FE counts a firing input neuron as updated
    tr = sf["traffic"]
    rows = [  # (label, kind for cost, neurochip count, SANA-FE count or None)
        ("syn_ops", "syn_ops", res.total("syn_ops"), c["spikes"]),
        ("dendrite_accums", "dendrite_accums", res.total("dendrite_accums"), c["spikes"]),
        ("neuron_updates_active", "neuron_updates_active", res.total("neuron_updates_active"), sf_active),
        ("neuron_updates_inactive", "neuron_updates_inactive", res.total("neuron_updates_inactive"),
         n_lif * steps - sf_active),
        ("spikes_out (chip neurons)", "spikes_out", int(chip_rows[ix["spikes_out"]]),
         c["neurons_fired"] - sf_fired_in),
        ("spikes_out (host input)", "spikes_out_input", int(host[ix["spikes_out"]]), sf_fired_in),
        ("packets", "packets", res.total("packets"), c["packets_sent"]),
        ("hops_ew", "hops_ew", res.total("hops_ew"), tr["source"]["hops_ew"] + tr["chip"]["hops_ew"]),
        ("hops_ns", "hops_ns", res.total("hops_ns"), tr["source"]["hops_ns"] + tr["chip"]["hops_ns"]),
        ("axons_in", "axons_in", res.total("axons_in"), c["packets_sent"]),
    ]
    table = []
    for label, kind, n_nc, n_sf in rows:
        e_nc = n_nc * cost.get(kind, 0.0)  # neurochip.chip.energy does not charge host-injected spikes
        if kind == "dendrite_accums":
            e_sf = sf["energy_j"]["dendrite"] * 1e12
        else:
            e_sf = n_sf * sf_cost[kind]
        table.append(dict(kind=label, neurochip_count=int(n_nc), sanafe_count=None if n_sf is None else int(n_sf),
                          neurochip_pj=float(e_nc), sanafe_pj=float(e_sf), diff_pct=pct(e_nc, e_sf)))
    tot_nc = sum(r["neurochip_pj"] for r in table)
    assert abs(tot_nc - run_energy(res, prof).total_pj) <= 1e-9 * tot_nc  # the table is neurochip's model
    tot_nc_no_host_spk = tot_nc - by_kind(table, "spikes_out (host input)")["neurochip_pj"]
    rules = update_rules(res, spikes, w1, w2)
    rules["neurochip_matches_own_counter"] = rules["neurochip_rule"] == res.total("neuron_updates_active")
    rules["sanafe_rule_matches_sanafe"] = rules["sanafe_rule"] == sf_active
    tot_sf_kinds = sum(r["sanafe_pj"] for r in table)
    tot_sf = sf["energy_j"]["total"] * 1e12

    # ---- SANA-FE's own category breakdown vs neurochip grouped the same way
    grp = {"synapse": ["syn_ops"], "dendrite": ["dendrite_accums"],
           "soma": ["neuron_updates_active", "neuron_updates_inactive", "spikes_out (chip neurons)",
                    "spikes_out (host input)"],
           "network": ["packets", "hops_ew", "hops_ns", "axons_in"]}
    by = {r["kind"]: r for r in table}
    cats = []
    for cat, labels in grp.items():
        e_nc = sum(by[k]["neurochip_pj"] for k in labels)
        e_sf = sf["energy_j"][cat] * 1e12
        recon = sum(by[k]["sanafe_pj"] for k in labels)
        cats.append(dict(category=cat, neurochip_pj=e_nc, sanafe_pj=e_sf, sanafe_from_counts_pj=recon,
                         diff_pct=pct(e_nc, e_sf)))

    nc_time = float(np.sum(res.step_latency_ns)) * 1e-9
    total_diff = pct(tot_nc, tot_sf)
    total_diff_no_host_spk = pct(tot_nc_no_host_spk, tot_sf)
    spikes_ok = all(v["raster_identical"] for v in spikes_cmp.values()) and in_identical
    synops_ok = by["syn_ops"]["neurochip_count"] == by["syn_ops"]["sanafe_count"]
    energy_ok = abs(total_diff) <= 100 * TOLERANCE

    # ---- report
    f = lambda v: "n/a" if v is None else f"{v:,}"  # noqa: E731
    print(f"# neurochip vs SANA-FE {sf['version']} (Loihi arch), seed {args.seed}, {steps} steps, "
          f"{N_IN}->{N_H}->{N_O} IF, {sf['n_synapses']} synapses\n")
    print("| event kind | neurochip count | SANA-FE count | neurochip pJ | SANA-FE pJ | diff % |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in table:
        d = "n/a" if np.isnan(r["diff_pct"]) else f"{r['diff_pct']:+.2f}"
        print(f"| {r['kind']} | {f(r['neurochip_count'])} | {f(r['sanafe_count'])} | "
              f"{r['neurochip_pj']:,.1f} | {r['sanafe_pj']:,.1f} | {d} |")
    print(f"| **total** | | | **{tot_nc:,.1f}** | **{tot_sf:,.1f}** | **{total_diff:+.2f}** |")
    print(f"| total without host-input spikes_out | | | {tot_nc_no_host_spk:,.1f} | {tot_sf:,.1f} | "
          f"{total_diff_no_host_spk:+.2f} |")
    print("\n(SANA-FE dendrite count: one dendrite-unit update per synaptic op, not a SANA-FE counter.)")
    print("\n| SANA-FE category | neurochip pJ | SANA-FE reported pJ | SANA-FE from counts x constants | diff % |")
    print("|---|---:|---:|---:|---:|")
    for r in cats:
        print(f"| {r['category']} | {r['neurochip_pj']:,.1f} | {r['sanafe_pj']:,.1f} | "
              f"{r['sanafe_from_counts_pj']:,.1f} | {r['diff_pct']:+.2f} |")
    print()
    for pop, v in spikes_cmp.items():
        print(f"spikes {pop}: neurochip {v['neurochip']}, SANA-FE {v['sanafe']}, per neuron identical: "
              f"{v['per_neuron_identical']}, rasters identical: {v['raster_identical']}")
    print(f"input spikes delivered identically: {in_identical}")
    print(f"active-update rules on neurochip's state: neurochip rule {rules['neurochip_rule']} "
          f"(= its counter: {rules['neurochip_matches_own_counter']}), SANA-FE rule {rules['sanafe_rule']} "
          f"(= SANA-FE's count: {rules['sanafe_rule_matches_sanafe']}); neurochip-only "
          f"{rules['neurochip_only']} (no input, v[t-1] = 0 but u[t-1] != 0: right after a spike's reset), SANA-FE-only "
          f"{rules['sanafe_only']} (spikes arrived but weights summed to 0)")
    print(f"energy constants identical (neurochip TOML vs SANA-FE loihi.yaml): "
          f"{all(v for k, v in constants_match.items())}")
    print(f"chip time (not a target): neurochip {nc_time * 1e6:.1f} us, SANA-FE simple model "
          f"{sf['sim_time_s'] * 1e6:.1f} us ({pct(nc_time, sf['sim_time_s']):+.1f} %)")
    print(f"wall: neurochip {nc_wall:.2f} s (incl. compile), SANA-FE subprocess {sf_wall:.2f} s")
    verdict = "PASS" if (spikes_ok and synops_ok and energy_ok) else "FAIL"
    print(f"\n{verdict}: spikes identical {spikes_ok}, syn_ops identical {synops_ok}, "
          f"total energy within {100 * TOLERANCE:.0f} %: {energy_ok} ({total_diff:+.2f} %)")

    OUT_JSON.parent.mkdir(parents=True, exist_ok=True)
    OUT_JSON.write_text(json.dumps(dict(
        seed=args.seed, steps=steps, network=dict(n_in=N_IN, n_h=N_H, n_o=N_O, vth_h=VTH_H, vth_o=VTH_O,
                                                  synapses=sf["n_synapses"], cores_h=sorted(set(CORES_H.tolist())),
                                                  cores_o=sorted(set(CORES_O.tolist()))),
        sanafe_version=sf["version"], kinds=table, categories=cats,
        total_pj=dict(neurochip=tot_nc, sanafe=tot_sf, sanafe_from_counts=tot_sf_kinds, diff_pct=total_diff,
                      neurochip_without_host_spikes_out=tot_nc_no_host_spk,
                      diff_pct_without_host_spikes_out=total_diff_no_host_spk),
        active_update_rules=rules,
        spikes=spikes_cmp, input_identical=in_identical, constants_match=constants_match,
        traffic_sanafe=tr, chip_time_s=dict(neurochip=nc_time, sanafe_simple=sf["sim_time_s"]),
        verdict=verdict, tolerance=TOLERANCE), indent=2))
    print(f"wrote {OUT_JSON.relative_to(ROOT)}")
    sys.exit(0 if verdict == "PASS" else 1)


if __name__ == "__main__":
    main()
