"""Memory and wall time of the whole path at scale: 1 M, 10 M and 100 M synapses.

    python benchmarks/scale.py [--cases 1M 10M 100M] [--place none|greedy+swap] [--steps 100]
                               [--json benchmarks/results/scale.json]

Each case is a ring of LoihiLIF neurons (10k, 100k, 1M), each with 100 distinct inputs
from its neighbours within [-500, 500) (one drawn from each tenth of that window, so no
duplicates),
weight 2, built as an int8/int32 CSR by `neurochip.model.network.fan_in_weights` (no dense or int64
intermediates), driven by a random bias per neuron so that spikes flow. It runs in a child
process of its own, so that its peak resident memory (`ru_maxrss`) is its own: the figure
per synapse is (peak - resident after imports and a warm-up run of a 2,000-neuron ring,
which loads the compiled kernels) / synapses. Stages: build the network, the synapse
table, partition (greedy), place (`--place none`: logical core i on chip core i), compile
(`Simulator`), run (`--steps`, every counter on). The program's bytes are every array of
the `Program` plus the tables the run builds (`Simulator._route_tables`).

Targets (issue 16): program <= 16 B a synapse, peak <= 48 B a synapse.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

CASES = {"1M": 10_000, "10M": 100_000, "100M": 1_000_000}   # synapses -> neurons (fan-in 100)
FAN_IN, REACH, WEIGHT = 100, 500, 2
TILES = (32, 16)   # loihi1 tiles (4 cores each): 2,048 cores, enough for 1 M neurons at fan-in 100


def rss() -> int:
    """Resident bytes now."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024   # KiB on Linux


def ring(n: int, seed: int = 0):
    """n LoihiLIF on a ring, each with FAN_IN distinct inputs within +-REACH (see the module doc)."""
    import numpy as np

    import neurochip as nc
    from neurochip.model.network import fan_in_weights

    rng = np.random.default_rng(seed)
    width = 2 * REACH // FAN_IN
    pre = np.empty((n, FAN_IN), np.int32)
    strata = (-REACH + width * np.arange(FAN_IN)).astype(np.int32)
    for lo in range(0, n, 65536):   # chunks: the random draws stay small
        hi = min(n, lo + 65536)
        offset = strata + rng.integers(0, width, (hi - lo, FAN_IN), dtype=np.int32)
        pre[lo:hi] = (np.arange(lo, hi, dtype=np.int32)[:, None] + offset) % n
    net = nc.Network()
    net.add(nc.LoihiLIF(n, du=4095, dv=410, vth=1000, bias_mant=rng.integers(2500, 4000, n), bias_exp=1, name="pop"))
    net.connect("pop", "pop", fan_in_weights(pre, WEIGHT, n))
    return net


def chip():
    import neurochip as nc

    return replace(nc.loihi1(), name=f"loihi1 {TILES[0]}x{TILES[1]} tiles", tiles_x=TILES[0], tiles_y=TILES[1])


def program_bytes(sim) -> int:
    """Bytes of every array of the program and of the run's route tables."""
    import numpy as np

    arrays = [v for v in vars(sim.program).values() if isinstance(v, np.ndarray)]
    arrays += list(sim.program.usage.values()) + list(getattr(sim, "_routes", ()))
    return sum(a.nbytes for a in arrays)


def path(n: int, the_chip, place_method: str, steps: int, timed: dict | None = None):
    """The whole path on a ring of n neurons; `timed` collects each stage's seconds and the
    resident memory after it."""
    import neurochip as nc
    from neurochip.chip.placement import Placement
    from neurochip.chip.synapses import synapse_table
    from neurochip.mapping.placement.partition import partition
    from neurochip.mapping.placement.place import place

    timed = {} if timed is None else timed
    t = [(time.perf_counter(), time.process_time())]

    def stage(name):   # wall and CPU seconds (the machine is shared: CPU time is the stage's own work)
        t.append((time.perf_counter(), time.process_time()))
        timed[f"{name}_s"] = round(t[-1][0] - t[-2][0], 3)
        timed[f"{name}_cpu_s"] = round(t[-1][1] - t[-2][1], 3)
        timed[f"rss_after_{name}_mb"] = round(rss() / 2**20)

    net = ring(n)
    stage("build")
    table = synapse_table(net, the_chip)
    stage("table")
    placement = partition(net, the_chip, "greedy", table=table)
    stage("partition")
    if place_method != "none":
        placement = place(placement, net, the_chip, method=place_method, table=table)
    else:   # logical core i on chip core i
        placement = Placement({k: v.copy() for k, v in placement.cores.items()})
    stage("place")
    sim = nc.Simulator(net, the_chip, placement, table=table)
    del table
    stage("compile")
    res = sim.run(steps, record=())
    stage("run")
    return sim, res


def child(case: str, place_method: str, steps: int) -> dict:
    """One case, measured in this process (see the module doc)."""
    import numpy as np

    import neurochip as nc

    warnings.simplefilter("ignore", nc.WeightClipWarning)
    the_chip = chip()
    path(2000, the_chip, "none", 5)   # warm-up: the compiled kernels load
    base = rss()
    n = CASES[case]
    out = dict(case=case, neurons=n, chip=the_chip.name, chip_cores=the_chip.n_cores, place=place_method,
               steps=steps)
    t0, c0 = time.perf_counter(), time.process_time()
    sim, res = path(n, the_chip, place_method, steps, out)
    out["total_s"] = round(time.perf_counter() - t0, 2)
    out["total_cpu_s"] = round(time.process_time() - c0, 2)
    S = len(sim.program.syn_tgt) + len(sim.program.sc_w)
    peak = peak_rss()
    out.update(synapses=S, cores_used=len(sim.program.core_ids), input_axons=len(sim.program.out_axon),
               fast_path=bool(sim._fixed32()),
               program_bytes=program_bytes(sim), program_bytes_per_synapse=round(program_bytes(sim) / S, 2),
               baseline_rss_mb=round(base / 2**20), peak_rss_mb=round(peak / 2**20),
               peak_bytes_per_synapse=round((peak - base) / S, 2), raw_peak_bytes_per_synapse=round(peak / S, 2),
               counters={k: v for k, v in res.totals().items() if v},
               spikes_per_step=round(res.total("spikes_out") / steps, 1),
               dtypes={k: str(getattr(sim.program, k).dtype) for k in ("syn_tgt", "syn_w", "syn_dly")})
    assert np.isfinite(res.step_latency_ns).all()
    return out


STAGES = ("build", "table", "partition", "place", "compile", "run")


def table(rows: list) -> str:
    """Markdown table: seconds per stage as wall (CPU), memory per synapse."""
    head = ("| synapses | neurons | cores | " + " | ".join(f"{s} s" for s in STAGES) + " | total s "
            "| spikes/step | program B/syn | peak MB | peak B/syn over baseline | raw peak B/syn |\n"
            + "|---" * (len(STAGES) + 9) + "|")
    lines = [f"| {r['synapses']:,} | {r['neurons']:,} | {r['cores_used']} | "
             + " | ".join(f"{r[s + '_s']:.2f} ({r[s + '_cpu_s']:.2f})" for s in STAGES)
             + f" | {r['total_s']:.1f} ({r['total_cpu_s']:.1f}) | {r['spikes_per_step']:,} "
             f"| {r['program_bytes_per_synapse']} | {r['peak_rss_mb']:,} | {r['peak_bytes_per_synapse']} "
             f"| {r['raw_peak_bytes_per_synapse']} |" for r in rows]
    return "\n".join([head, *lines])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    ap.add_argument("--place", choices=("none", "greedy+swap"), default="none",
                    help="none: logical core i on chip core i (place is not timed)")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--child", choices=list(CASES), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.place, args.steps)), flush=True)
        return 0
    rows = []
    for case in args.cases:
        done = subprocess.run([sys.executable, __file__, "--child", case, "--place", args.place,
                               "--steps", str(args.steps)], capture_output=True, text=True)
        if done.returncode:
            print(done.stderr, file=sys.stderr)
            return done.returncode
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    print(f"\nchip: {rows[0]['chip']} ({rows[0]['chip_cores']} loihi1 cores), place: {args.place}, "
          f"{args.steps} steps\n")
    print(table(rows))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
