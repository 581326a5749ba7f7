"""Per-step wall time of the same fixed-point networks in Lava and in neurochip.

    .venv/bin/python benchmarks/lava_step_time.py [--quick]

Networks: the digits network (64 -> 128 -> 10, OTTT-trained on 300 digits, rebuilt with
reset="zero" LIFs because Lava's LIF cannot reset by subtraction), the Sinabs CNN of the
golden NIR graphs (quantized; its two unrolled convolutions exported as Lava Sparse), and a
1 -> 1 LIF. Inputs are Bernoulli spikes (digits: the test digits streamed back to back).

Lava: `Loihi2SimCfg(select_tag="fixed_pt")` through `neurochip.mapping.lava.network.to_lava`,
no monitors. Each run builds, compiles and starts the processes, so a short run (n1 steps)
and a longer run (n2 steps) are timed (best of `--repeats`) and (t2 - t1) / (n2 - n1) is
the per-step time with compile and startup excluded.
neurochip: `Simulator.run` of many steps after a warm-up run (Numba compile excluded), no
recording (spike counts and every event counter are always on), best of `--repeats`.
Writes benchmarks/results/lava_step_time.json and prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

import neurochip as nc

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("NEUROCHIP_SHARED", HERE.parents[1] / "shared"))


def digits_case():
    from neurochip.rules.learner import Learner
    from neurochip.rules.rule import OTTT
    from neurochip.studies.datasets import digits

    x_tr, y_tr, x_te, _ = digits(16)
    learner = Learner([64, 128, 10], OTTT(), fixed=True, seed=0)
    learner.fit(x_tr[:300], y_tr[:300], epochs=1)
    net = learner.to_network(reset="zero")
    stream = x_te.reshape(-1, 64)

    def inputs(steps):
        reps = -(-steps // len(stream))
        return {"in": np.tile(stream, (reps, 1))[:steps]}

    return "digits 64-128-10 (OTTT, reset zero)", net, inputs, None


def cnn_case():
    from neurochip.mapping.nir.importer import from_nir
    from neurochip.mapping.placement.partition import partition
    from neurochip.mapping.placement.place import place
    from neurochip.mapping.quantize import quantize

    imp = from_nir(SHARED / "golden/nir_graphs/cnn_sinabs.nir", dt=1.0, reset="zero")
    net, _ = quantize(imp.net)
    chip = nc.loihi1()
    placement = place(partition(net, chip, "metis"), net, chip)

    def inputs(steps):
        rng = np.random.default_rng(0)
        return {k: rng.random((steps, net.populations[k].n)) < 0.2 for k in net.sources()}

    return "Sinabs CNN (NIR golden, Sparse convs)", net, inputs, placement


def lif_case():
    net = nc.Network()
    net.add(nc.SpikeSource(1, name="in"))
    net.add(nc.LoihiLIF(1, du=4095, dv=163, vth=25, name="lif"))
    net.connect("in", "lif", np.array([[10]]))

    def inputs(steps):
        return {"in": np.random.default_rng(0).random((steps, 1)) < 0.5}

    return "1 -> 1 LIF", net, inputs, None


def lava_per_step(net, inputs, n1, n2, repeats):
    from neurochip.mapping.lava.network import to_lava

    def wall(n):
        best = np.inf
        for _ in range(repeats):
            t0 = time.perf_counter()
            to_lava(net, inputs(n), n, record=()).run()
            best = min(best, time.perf_counter() - t0)
        return best

    t1, t2 = wall(n1), wall(n2)
    return (t2 - t1) / (n2 - n1), t1, t2


def neurochip_per_step(net, inputs, placement, steps, repeats):
    sim = nc.Simulator(net, nc.loihi1(), placement)
    sim.run(10, inputs=inputs(10), record=())  # Numba compile
    x = inputs(steps)
    best = np.inf
    for _ in range(repeats):
        sim.reset()
        t0 = time.perf_counter()
        sim.run(steps, inputs=x, record=())
        best = min(best, time.perf_counter() - t0)
    return best / steps


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="fewer steps (a smoke run)")
    ap.add_argument("--json", default=str(HERE / "results" / "lava_step_time.json"))
    args = ap.parse_args()
    from importlib.metadata import version

    import lava  # noqa: F401  (fail early with a clear ImportError)

    q = 10 if args.quick else 1
    # (case, Lava short/long steps, neurochip steps)
    plan = [(lif_case, 20, 1020 // q, 200_000 // q), (digits_case, 20, 1020 // q, 50_000 // q),
            (cnn_case, 10, 110 // q, 2_000 // q)]
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.WeightClipWarning)
        for make, n1, n2, nn in plan:
            label, net, inputs, placement = make()
            neurons = sum(net.populations[k].n for k in net.neurons())
            synapses = int(sum((p.weights.count_nonzero() if sp.issparse(p.weights) else np.count_nonzero(p.weights))
                               for p in net.projections))
            ours = neurochip_per_step(net, inputs, placement, nn, args.repeats)
            lava_s, t1, t2 = lava_per_step(net, inputs, n1, n2, args.repeats)
            rows.append(dict(network=label, neurons=neurons, synapses=synapses, lava_s_per_step=lava_s,
                             neurochip_s_per_step=ours, ratio=lava_s / ours, lava_steps=[n1, n2],
                             lava_wall_s=[t1, t2], neurochip_steps=nn))
            print(f"done: {label}", flush=True)
    out = dict(lava=f"lava-nc {version('lava-nc')}, Loihi2SimCfg(select_tag='fixed_pt'), to_lava(record=())",
               neurochip="Simulator.run on loihi1, record=() (counters on), after a warm-up run",
               method="Lava: (wall(n2) - wall(n1)) / (n2 - n1), each wall = build + compile + run + stop; "
                      f"best of {args.repeats}", machine=f"{platform.machine()}, {os.cpu_count()} cores",
               python=platform.python_version(), date=time.strftime("%Y-%m-%d"), rows=rows)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=1))
    print("\n| network | neurons | synapses | Lava s/step | neurochip s/step | ratio |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['network']} | {r['neurons']} | {r['synapses']} | {r['lava_s_per_step']:.3g} | "
              f"{r['neurochip_s_per_step']:.3g} | {r['ratio']:.3g} |")


if __name__ == "__main__":
    main()
