"""Mapping quality and speed.

    python benchmarks/mapping.py [--json benchmarks/out/mapping.json]

1. Traffic: expected inter-core packets per step (uniform rates) of the pymetis partition
   against the greedy fill, on the Sinabs N-MNIST CNN (../shared/golden) and a 3-layer MLP
   784-512-512-10; hops: hop-weighted traffic of the placed mesh against a random placement
   of the same cores. Targets: >= 30% less traffic, >= 30% fewer hops.
2. Time to map (partition + place + compile) the CUBA network and a 100k-neuron,
   10M-synapse network with local connectivity (each neuron draws its 100 inputs from
   +-500 neighbours; on a 16x16-tile chip, as it does not fit loihi1's 128 cores).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp

import neurochip as nc
from neurochip.mapping.nir.importer import from_nir
from neurochip.mapping.placement.partition import partition
from neurochip.mapping.placement.place import place
from neurochip.mapping.placement.report import mapping_report
from neurochip.mapping.quantize import quantize

HERE = Path(__file__).resolve().parent
GOLDEN = HERE.parents[1] / "shared" / "golden" / "nir_graphs" / "cnn_sinabs.nir"
sys.path.insert(0, str(HERE))


def mlp(sizes=(784, 512, 512, 10), seed=0):
    rng = np.random.default_rng(seed)
    net = nc.Network()
    net.add(nc.SpikeSource(sizes[0], name="in"))
    prev = "in"
    for k, n in enumerate(sizes[1:]):
        net.add(nc.LoihiLIF(n, du=200, dv=200, vth=1000, name=f"fc{k}"))
        net.connect(prev, f"fc{k}", 2 * rng.integers(-60, 60, (n, net.populations[prev].n)))
        prev = f"fc{k}"
    return net


def quality(name, net, chip):
    greedy = partition(net, chip, "greedy")
    metis = partition(net, chip, "metis")
    g, m = mapping_report(net, chip, greedy), mapping_report(net, chip, metis)
    placed = mapping_report(net, chip, place(metis, net, chip))
    rand = np.mean([mapping_report(net, chip, place(metis, net, chip, method="random", seed=s))["hop_traffic"]
                    for s in range(5)])
    return dict(network=name, cores_greedy=g["cores_used"], cores_metis=m["cores_used"],
                traffic_greedy=g["inter_core_traffic"], traffic_metis=m["inter_core_traffic"],
                traffic_cut=1 - m["inter_core_traffic"] / g["inter_core_traffic"],
                hops_random_placement=float(rand), hops_placed=placed["hop_traffic"],
                hops_cut=1 - placed["hop_traffic"] / rand)


def local_net(n, fan_in, reach=500, seed=0):
    """n neurons, each with `fan_in` synapses from neurons within +-reach (a ring)."""
    rng = np.random.default_rng(seed)
    net = nc.Network()
    net.add(nc.LoihiLIF(n, du=100, dv=100, vth=1000, name="pop"))
    rows = np.repeat(np.arange(n), fan_in)
    cols = (rows + rng.integers(-reach, reach + 1, n * fan_in)) % n
    w = sp.csr_matrix((np.full(n * fan_in, 10, dtype=np.int64), (rows, cols)), shape=(n, n))
    w.sum_duplicates()
    net.connect("pop", "pop", w)
    return net


def timing(name, net, chip, methods=("greedy", "metis")):
    out = dict(network=name, neurons=sum(net.populations[k].n for k in net.neurons()),
               synapses=int(sum(p.weights.nnz if sp.issparse(p.weights) else np.count_nonzero(p.weights)
                                for p in net.projections)))
    for method in methods:
        t0 = time.perf_counter()
        placement = partition(net, chip, method)
        t1 = time.perf_counter()
        placement = place(placement, net, chip, sweeps=2)
        t2 = time.perf_counter()
        sim = nc.Simulator(net, chip, placement)
        t3 = time.perf_counter()
        out[method] = dict(partition_s=round(t1 - t0, 2), place_s=round(t2 - t1, 2), compile_s=round(t3 - t2, 2),
                           cores=len(sim.program.core_ids))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore", nc.WeightClipWarning)
    chip = nc.loihi1()
    results = []
    if GOLDEN.exists():
        cnn, _ = quantize(from_nir(GOLDEN, dt=1.0, reset="zero", timing="framework").net)
        results.append(quality("sinabs CNN (N-MNIST)", cnn, chip))
    results.append(quality("MLP 784-512-512-10", mlp(), chip))
    import cuba

    results.append(timing("CUBA 4000", cuba.cuba_network(), chip))
    big_chip = replace(chip, name="loihi1 16x16 tiles", tiles_x=16, tiles_y=16)
    results.append(timing("local 100k / 10M", local_net(100_000, 100), big_chip, methods=("greedy",)))
    for r in results:
        print(json.dumps(r), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
