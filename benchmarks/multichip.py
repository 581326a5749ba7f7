"""Multi-chip traffic: a network too large for one Loihi on the 8- and 32-chip Nahuku boards.

    python benchmarks/multichip.py [--neurons 300000] [--steps 20] [--json benchmarks/results/multichip.json]
                                   [--figure benchmarks/results/multichip_nahuku32.png]

The network: a ring of LIF neurons, each with `fan_in` synapses from neurons within +-reach
(a local network: partitioned in neuron order, neighbouring cores talk), driven by a bias so
that neurons fire on their own. It is partitioned once (greedy fill) and placed on each board
three ways (and, to time placement alone, rings of 1,000 and 2,000 logical cores on
nahuku32): chip-aware (`place`, a chip link weighed as `link_weight(board)` hops, its energy
over a mesh hop's), chip-oblivious (`place(..., weight=1)`: a link counted as a hop) and
random. Each placement is simulated for `steps` steps; every number is counted by the chip
kernels (packets, mesh hops, chip links, per-core time) except inter-chip packets, which are
each sender's spikes times its out-axons that cross a link (exact, from the program). Energy
is priced with the board's profile (loihi1_sanafe, links DERIVED: nahuku32.toml); latency is
the slowest core plus the barrier (DERIVED for several chips).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

import neurochip as nc
from neurochip.chip.energy import run_energy
from neurochip.chip.spec import ChipSpec
from neurochip.chip.synapses import synapse_table
from neurochip.mapping.placement.partition import partition
from neurochip.mapping.placement.place import place
from neurochip.mapping.placement.report import mapping_report, plot_tile_grid
from neurochip.mapping.placement.traffic import link_weight
from neurochip.model.events import EVENTS

BOARDS = ("nahuku8", "nahuku32")
PLACEMENTS = {"chip-aware": {}, "chip-oblivious": dict(weight=1.0), "random": dict(method="random")}


def ring_network(n: int, fan_in: int = 16, reach: int = 1500, seed: int = 0) -> nc.Network:
    """n LIF neurons on a ring, each with `fan_in` synapses (weight 4 or -6) from within +-reach;
    biases spread so that a neuron fires every 8-20 steps on its own, from random potentials."""
    rng = np.random.default_rng(seed)
    net = nc.Network()
    net.add(nc.LoihiLIF(n, du=4095, dv=410, vth=64, bias_mant=rng.integers(450, 700, n), bias_exp=0,
                        v0=rng.integers(0, 64 << 6, n), name="ring"))
    rows = np.repeat(np.arange(n), fan_in)
    cols = (rows + rng.integers(-reach, reach + 1, len(rows))) % n
    w = sp.csr_matrix((rng.choice(np.array([-6, 4]), len(rows)), (rows, cols)), shape=(n, n))
    w.sum_duplicates()
    net.connect("ring", "ring", w)
    return net


def inter_chip_packets(sim: nc.Simulator, spike_counts: np.ndarray) -> int:
    """Packets that crossed at least one chip link: each sender's spikes x its out-axons with
    out_chip > 0 (no host input here)."""
    p = sim.program
    crossing = np.add.reduceat((p.out_chip > 0).astype(np.int64), p.out_ptr[:-1]) * (np.diff(p.out_ptr) > 0)
    return int(spike_counts @ crossing[:p.n_neurons])


def measure(net, board: ChipSpec, logical, table, label: str, steps: int) -> tuple[dict, nc.Simulator, object]:
    t0 = time.perf_counter()
    placed = place(logical, net, board, table=table, **PLACEMENTS[label])
    place_s = time.perf_counter() - t0
    rep = mapping_report(net, board, placed, table=table)
    sim = nc.Simulator(net, board, placed, table=table)
    r = sim.run(steps, record=["spikes"])
    total = r.counters.sum(0)
    e = run_energy(r, board.profile)
    per = {k: float(total[EVENTS.index(k)]) / steps for k in ("spikes_out", "packets", "hops_ew", "hops_ns",
                                                               "chip_hops")}
    return dict(board=board.name, placement=label, place_s=round(place_s, 2), cores=rep["cores_used"],
                chips=rep["chips_used"], spikes_per_step=per["spikes_out"], packets_per_step=per["packets"],
                inter_chip_packets_per_step=inter_chip_packets(sim, r.spike_counts["ring"]) / steps,
                links_per_step=per["chip_hops"], hops_per_step=per["hops_ew"] + per["hops_ns"],
                energy_uj_per_step=e.total_pj / steps * 1e-6, link_energy_share=e.pj["chip_hops"] / e.total_pj,
                unknown_energy=e.unknown, latency_us_per_step=float(np.mean(r.step_latency_ns)) * 1e-3,
                barrier_us=sim.program.barrier_ns * 1e-3,
                expected_link_traffic_rate1=rep["link_traffic"]), sim, r


def placement_speed(board: ChipSpec, cores: int, shuffle: bool) -> dict:
    """Seconds to place `cores` logical cores of a ring (64 neurons a core) on `board`, in ring
    order or with shuffled core ids, and the links at rate 1 against a random placement."""
    net = ring_network(cores * 64, fan_in=8, reach=64 * 6)
    table = synapse_table(net, board)
    logical = nc.Placement.sequential(net, board, per_core=64)
    if shuffle:
        logical = nc.Placement({"ring": np.random.default_rng(0).permutation(cores)[logical.cores["ring"]]})
    t0 = time.perf_counter()
    placed = place(logical, net, board, table=table)
    seconds = time.perf_counter() - t0
    links = mapping_report(net, board, placed, table=table)["link_traffic"]
    rand = mapping_report(net, board, place(logical, net, board, method="random", table=table), table=table)
    return dict(board=board.name, placement_speed=f"{cores} cores, {'shuffled ids' if shuffle else 'ring order'}",
                place_s=round(seconds, 2), link_traffic_rate1=links, link_traffic_random=rand["link_traffic"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--neurons", type=int, default=300_000)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--figure", type=Path)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore", nc.WeightClipWarning)
    net = ring_network(args.neurons)
    results = []
    for name in BOARDS:
        board = ChipSpec.preset(name)
        table = synapse_table(net, board)
        t0 = time.perf_counter()
        logical = partition(net, board, "greedy", table=table)
        part_s = time.perf_counter() - t0
        n_logical = len(np.unique(logical.cores["ring"]))
        if n_logical <= nc.loihi1().n_cores:
            raise SystemExit(f"{n_logical} cores fit one loihi1: use more --neurons")
        per_core = {}
        for label in PLACEMENTS:
            row, sim, r = measure(net, board, logical, table, label, args.steps)
            row.update(neurons=args.neurons, synapses=len(table.tgt), partition_s=round(part_s, 2),
                       link_weight=round(link_weight(board), 2), steps=args.steps)
            results.append(row)
            print(json.dumps(row), flush=True)
            per_core[label] = (sim.program.core_ids, r.counters[:-1, EVENTS.index("chip_hops")] / args.steps)
        if args.figure and name == BOARDS[-1]:
            for label in ("chip-aware", "random"):
                ids, links = per_core[label]
                path = args.figure.with_name(f"{args.figure.stem}_{label}{args.figure.suffix}")
                plot_tile_grid(board, ids, links, path, "chip links sent a step",
                               f"{board.name}, {label} placement: chip links per step, per tile")
                print(f"figure: {path}")
    for cores in (1000, 2000):
        for shuffle in (False, True):
            results.append(placement_speed(ChipSpec.preset(BOARDS[-1]), cores, shuffle))
            print(json.dumps(results[-1]), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
