"""Inference throughput over a data set: samples/s on the digits network of `neurochip demo`.

    python benchmarks/throughput.py [--repeat 3] [--samples 0] [--json out.json]

The network is the demo's (64 pixels -> 256 LIF -> 10 readout, T = 32 steps, fixed point, mapped
onto loihi1 by pymetis), run on its test samples with the readout's v recorded, three ways:

- `one at a time`: `Simulator.reset` and `Simulator.run` per sample from Python (what
  `run_samples` did before it ran samples in compiled code);
- `run_samples(workers=1)`: every sample in one compiled call, one thread;
- `run_samples(workers=N)`: N threads over disjoint ranges of samples (N = the cores usable).

All three must give identical spikes, v, spike counts and counters (checked here as well as in
tests/test_throughput.py). Each figure is the best of `--repeat` runs (the machine is shared:
`cpu_over_wall` is the process's CPU time over the wall time, the cores it actually got, and
`load_average` what else ran).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from neurochip.chip.simulator import Simulator
from neurochip.chip.spec import loihi1
from neurochip.mapping.placement.place import map_network
from neurochip.studies import demo
from neurochip.studies.datasets import digits


def digits_simulator(seed: int = 0):
    """The demo's network on its mapping, and the test samples (as the demo draws them)."""
    rng = np.random.default_rng(seed)
    x, y = digits(demo.T, seed=rng, rate=0.5, split=False)
    train_idx, test_idx = np.split(rng.permutation(len(y)), [int(0.75 * len(y))])
    chip = loihi1()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net, _ = demo.train(rng, x, y, train_idx, test_idx, chip)
        mapping = map_network(net, chip, "metis")
    return Simulator(net, chip, mapping.placement, mapping.table), x[test_idx], y[test_idx]


def one_at_a_time(sim, x):
    runs = []
    for s in x:
        sim.reset()
        runs.append(sim.run(len(s), {"pixels": s}, record=["v"], populations=["readout"]))
    return runs


def best_of(repeat, fn):
    """(best wall seconds, process CPU seconds of that run, result)."""
    best, cpu, out = np.inf, 0.0, None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall = time.perf_counter() - t0
        if wall < best:
            best, cpu = wall, time.process_time() - c0
    return best, cpu, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--samples", type=int, default=0, help="use the first n test samples (0: all)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    sim, x, y = digits_simulator()
    if args.samples:
        x, y = x[:args.samples], y[:args.samples]
    samples = [{"pixels": s} for s in x]
    cores = len(os.sched_getaffinity(0))
    run = lambda w: sim.run_samples(samples, record=["v"], populations=["readout"], workers=w)  # noqa: E731
    one_at_a_time(sim, x[:2]), run(1)  # compile (or load the Numba cache)
    t_one, c_one, singles = best_of(args.repeat, lambda: one_at_a_time(sim, x))
    t_w1, c_w1, r1 = best_of(args.repeat, lambda: run(1))
    t_wn, c_wn, rn = best_of(args.repeat, lambda: run(cores))
    same = all(np.array_equal(r.v["readout"], r1.v["readout"][k]) and np.array_equal(r.counters, r1.sample_counters[k])
               for k, r in enumerate(singles))
    same = same and all(np.array_equal(a, b) for a, b in ((r1.v["readout"], rn.v["readout"]),
                                                         (r1.sample_counters, rn.sample_counters),
                                                         (r1.counters, rn.counters),
                                                         (r1.counters, sum(r.counters for r in singles))))
    acc = float(np.mean(np.argmax(rn.v["readout"][:, -1], axis=1) == y))
    n = len(x)
    out = dict(network="digits (neurochip demo): 64 -> 256 LIF -> 10, T = 32, fixed point, loihi1 (metis)",
               samples=n, steps_per_sample=demo.T, cores_usable=cores, accuracy=acc, identical=bool(same),
               load_average=os.getloadavg()[0],
               **{k: dict(seconds=round(t, 4), samples_per_s=round(n / t, 1), cpu_over_wall=round(c / t, 2))
                  for k, t, c in (("one_at_a_time", t_one, c_one), ("run_samples_1_worker", t_w1, c_w1),
                                  (f"run_samples_{cores}_workers", t_wn, c_wn))})
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
