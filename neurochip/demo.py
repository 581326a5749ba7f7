"""`neurochip demo`: scikit-learn's digits, end to end on a simulated loihi1.

Pixels become Bernoulli spike trains; a fixed random hidden layer of Loihi LIF neurons
expands them; a readout fitted offline (ridge regression on hidden spike counts, numpy)
is quantized to 8-bit weights and runs on the chip as a second LIF layer. Every sample
is simulated step by step with every hardware event counted.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .network import Network
from .neurons import LoihiLIF, SpikeSource
from .placement import Placement
from .simulator import Simulator
from .spec import loihi1

T = 32            # steps per sample
N_HIDDEN = 256
VTH_HIDDEN = 1500


def digits_spikes(rng, steps=T):
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    p = x / 16.0 * 0.5                                  # max 0.5 spikes a step
    return (rng.random((len(x), steps, x.shape[1])) < p[:, None, :]), y


def hidden_counts(sim, spikes):
    out = []
    for s in spikes:
        sim.reset()
        out.append(sim.run(len(s), inputs={"pixels": s}).spike_counts["hidden"])
    return np.array(out, dtype=np.float64)


def main(seed: int = 0, out: str = "energy_reports/digits") -> int:
    t_start = time.perf_counter()
    rng = np.random.default_rng(seed)
    x, y = digits_spikes(rng)
    order = rng.permutation(len(y))
    train, test = order[: int(0.75 * len(y))], order[int(0.75 * len(y)):]
    chip = loihi1()

    net = Network()
    net.add(SpikeSource(64, name="pixels"))
    net.add(LoihiLIF(N_HIDDEN, du=1024, dv=256, vth=VTH_HIDDEN, name="hidden"))
    net.connect("pixels", "hidden", 2 * rng.integers(-20, 30, (N_HIDDEN, 64)), weight_exp=3)  # even: mixed 8-bit drops the LSB
    hidden_sim = Simulator(net, chip, Placement.sequential(net, chip, per_core=64))
    print(f"digits: {len(y)} samples, {T} steps each; hidden layer of {N_HIDDEN} LIF on "
          f"{len(hidden_sim.program.core_ids)} cores of {chip.name}")
    h = hidden_counts(hidden_sim, x)

    # readout: ridge regression on hidden spike counts, then 8-bit weights
    onehot = np.eye(10)[y]
    hx = np.hstack([h, np.ones((len(h), 1))])
    w = np.linalg.solve(hx[train].T @ hx[train] + 10.0 * np.eye(hx.shape[1]), hx[train].T @ onehot[train])
    float_acc = np.mean(np.argmax(hx[test] @ w, axis=1) == y[test])
    w_int = 2 * np.round(w[:-1].T * 127 / np.abs(w[:-1]).max()).astype(np.int64)

    net.add(LoihiLIF(10, du=4095, dv=0, vth=2**17 - 1, name="readout"))   # v integrates the input
    net.connect("hidden", "readout", w_int)
    sim = Simulator(net, chip, Placement.sequential(net, chip, per_core=64))
    test_x = x[test]
    correct, totals, latency = 0, None, 0.0
    for s, label in zip(test_x, y[test]):
        sim.reset()
        res = sim.run(T, inputs={"pixels": s}, record=["v"], populations=["readout"])
        correct += int(np.argmax(res.v["readout"][-1]) == label)
        c = res.counters.sum(axis=0)
        totals = c if totals is None else totals + c
        latency += float(res.step_latency_ns.sum())
    from .events import EVENTS

    n = len(test)
    print(f"readout fitted offline: float accuracy {float_acc:.3f}; on the chip in fixed point "
          f"{correct / n:.3f} ({correct}/{n} test samples)")
    print("events per inference: " + ", ".join(f"{k} {v / n:.0f}" for k, v in zip(EVENTS, totals)))
    print(f"chip latency per inference ({chip.profile.name} timing): {latency / n / 1e3:.1f} us over {T} steps")
    report_summary(Path(out))
    print(f"done in {time.perf_counter() - t_start:.1f} s")
    return 0


def report_summary(folder: Path) -> None:
    """On-chip learning with every rule and the energy report (neurochip.report), summarised."""
    import json
    import os
    import sys

    from .report import write

    print(f"on-chip learning (OTTT_A, OTTT_O, STD-ED, MPD-ED, BPTT-SG) and energy report -> {folder}/")
    write(folder, T=16, epochs=8, progress=sys.stderr.isatty() and not os.environ.get("CI"))
    data = json.loads((folder / "report.json").read_text())
    for k, m in data["methods"].items():
        print(f"  {k:17s} test accuracy {m['accuracy']:.3f}  energy per update {m['per_sample']['total_pj'] / 1e6:6.3f} uJ"
              f"  (BPTT-SG detached / this: {data['ratios_vs_bptt'][k]:.2f})")
    inf = data["inference"]
    print(f"  inference on {len(inf['cores'])} loihi1 cores: accuracy {inf['accuracy_on_chip']:.3f}, "
          f"{inf['energy']['loihi1_sanafe']['total_pj'] / 1e3:.1f} nJ (loihi1_sanafe), "
          f"{inf['latency_ns'] / 1e3:.1f} us per inference")
    print(f"  report: {folder / 'report.md'} (figures and report.json beside it)")
