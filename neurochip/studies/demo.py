"""`neurochip demo` (= `make demo`): scikit-learn's digits, end to end on a simulated loihi1.

1. Train offline: pixels become Bernoulli spike trains, a fixed random hidden layer of Loihi
   LIF neurons expands them, and a readout is fitted by ridge regression on hidden spike
   counts (numpy), then quantized to 8-bit weights as a second LIF layer.
2. Write the network to NIR and read it back.
3. Map it onto loihi1 (pymetis partition, mesh placement) and write the mapping report.
4. Run inference on the chip, every event counted: accuracy, energy, latency.
5. Learn on the chip from random weights with every rule (OTTT, STD-ED, MPD-ED and the
   BPTT-SG baselines) and write the energy report (`neurochip.studies.report`).
6. Export to Lava and check its rasters equal neurochip's, sample by sample.
7. The temporal default (`event_data.saccade_digits`: the digits before an emulated event
   camera): MPD-ED learns it on the chip for one epoch, 512-128-10 over 32-neuron cores.
Everything lands in `out` (default energy_reports/digits/).
"""
from __future__ import annotations

import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from neurochip.chip.energy import energy, run_energy
from neurochip.chip.simulator import Simulator
from neurochip.chip.spec import loihi1
from neurochip.mapping.lava.network import min_padding, run_per_sample, stream_samples, to_lava
from neurochip.mapping.nir.exporter import to_nir
from neurochip.mapping.nir.importer import read_nir
from neurochip.mapping.placement.place import map_network
from neurochip.mapping.placement.report import plot_mesh_heatmap
from neurochip.model.fixed import NEVER_VTH
from neurochip.model.network import Network
from neurochip.model.neurons import LoihiLIF, SpikeSource
from neurochip.rules.learner import Learner, learning_profile
from neurochip.rules.rule import EventDriven
from neurochip.studies.datasets import digits
from neurochip.studies.event_data import saccade_digits
from neurochip.studies.learning_study import every_count
from neurochip.studies.report import write

T = 32            # steps per sample
N_HIDDEN = 256
VTH_HIDDEN = 1500
LAVA_SAMPLES = 5
LAVA_PAD = 32    # silent steps after each sample in the Lava check


def train(rng, x, y, train_idx, test_idx, chip):
    """The network with its readout fitted offline; returns (network, float accuracy)."""
    net = Network()
    net.add(SpikeSource(64, name="pixels"))
    net.add(LoihiLIF(N_HIDDEN, du=1024, dv=256, vth=VTH_HIDDEN, name="hidden"))
    net.connect("pixels", "hidden", 2 * rng.integers(-20, 30, (N_HIDDEN, 64)), weight_exp=3)  # even: mixed 8-bit drops the LSB
    h = Simulator(net, chip).run_samples([{"pixels": s} for s in x]).spike_counts["hidden"].astype(np.float64)
    onehot = np.eye(10)[y]
    hx = np.hstack([h, np.ones((len(h), 1))])
    w = np.linalg.solve(hx[train_idx].T @ hx[train_idx] + 10.0 * np.eye(hx.shape[1]), hx[train_idx].T @ onehot[train_idx])
    float_acc = np.mean(np.argmax(hx[test_idx] @ w, axis=1) == y[test_idx])
    net.add(LoihiLIF(10, du=4095, dv=0, vth=NEVER_VTH, name="readout"))   # v integrates the input
    net.connect("hidden", "readout", 2 * np.round(w[:-1].T * 127 / np.abs(w[:-1]).max()).astype(np.int64))
    return net, float_acc


def lava_check(net, x):
    """Lava (Loihi2SimCfg fixed_pt) against neurochip on the samples x, per-sample resets."""
    try:
        import lava  # noqa: F401
    except ImportError:
        return None

    # silent steps after each sample until the slow synaptic currents have let go (no spike
    # may cross a reset: see SampleLeakWarning), then compare spikes and the readout's v
    stream, k = stream_samples(x, max(min_padding(net), LAVA_PAD))
    ours = run_per_sample(net, {"pixels": stream}, len(stream), k, record=("spikes", "v"))
    theirs = to_lava(net, {"pixels": stream}, len(stream), record=("spikes", "v"), reset_interval=k).run()
    return all(np.array_equal(ours[var][p], theirs[var][p]) for var in ("spikes", "v") for p in net.neurons())


def temporal() -> tuple:
    """MPD-ED on the saccade digits, one epoch on the chip: (test accuracy, µJ and error
    packets per update). The spike-count readout is scaled by 16 / T, as `neurochip learn` does."""
    x_tr, y_tr, x_te, y_te = saccade_digits()
    T = x_tr.shape[1]
    learner = Learner([x_tr.shape[2], 128, 10], EventDriven("MPD-ED", readout_scale=0.5 * 16 / T), fixed=True,
                      seed=0, per_core=32)
    learner.fit(x_tr, y_tr, 1)
    n = learner.samples_learned
    return learner.accuracy(x_te, y_te), energy(every_count(learner), learning_profile()).total_pj / n / 1e6, \
        learner.counts("learn")["packets"] / n


def main(seed: int = 0, out: str = "energy_reports/digits") -> int:
    import nir

    t_start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    x, y = digits(T, seed=rng, rate=0.5, split=False)   # at most 0.5 spikes a step
    train_idx, test_idx = np.split(rng.permutation(len(y)), [int(0.75 * len(y))])
    chip = loihi1()

    print(f"1. digits: {len(y)} samples of {T} steps; hidden layer of {N_HIDDEN} LIF, readout fitted offline")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net, float_acc = train(rng, x, y, train_idx, test_idx, chip)
    print(f"   float readout accuracy {float_acc:.3f}")
    nir.write(out / "network.nir", to_nir(net, dt=1e-3))
    print(f"2. NIR: wrote {out / 'network.nir'} ({len(read_nir(out / 'network.nir').nodes)} nodes) and read it back")
    mapping = map_network(net, chip, "metis")
    report = mapping.report()
    (out / "mapping.json").write_text(json.dumps(report, indent=1))
    plot_mesh_heatmap(report, chip, out / "mesh.png")
    print(f"3. mapped onto {chip.name}: {report['cores_used']} cores, peak compartment use "
          f"{max(report['utilization']['compartments']):.0%} -> {out / 'mapping.json'}, {out / 'mesh.png'}")

    sim = Simulator(net, chip, mapping.placement, mapping.table)
    res = sim.run_samples([{"pixels": s} for s in x[test_idx]], record=["v"], populations=["readout"])
    correct = int(np.sum(np.argmax(res.v["readout"][:, -1], axis=1) == y[test_idx]))
    latency = float(res.step_latency_ns.sum())
    n = len(test_idx)
    e_inf = run_energy(res, chip.profile).per(n)
    print(f"4. inference on the chip in fixed point: accuracy {correct / n:.3f} ({correct}/{n}); "
          f"{e_inf.total_pj / 1e3:.0f} nJ and {latency / n / 1e3:.0f} us per inference ({chip.profile.name})")

    print("5. on-chip learning from random weights (OTTT_A, OTTT_O, STD-ED, MPD-ED, BPTT-SG) and the energy report")
    write(out, T=16, epochs=8, progress=sys.stderr.isatty() and not os.environ.get("CI"))
    data = json.loads((out / "report.json").read_text())
    for k, m in data["methods"].items():
        print(f"   {k:17s} test accuracy {m['accuracy']:.3f}, {m['per_sample']['total_pj'] / 1e6:6.3f} uJ per update "
              f"(BPTT-SG detached / this: {data['ratios_vs_bptt'][k]:.2f})")

    same = lava_check(net, x[test_idx[:LAVA_SAMPLES]])
    print("6. Lava export: " + ("lava-nc not installed, skipped" if same is None else
                                f"spikes and readout v of {LAVA_SAMPLES} test samples identical to neurochip's: {same}"))

    acc, uj, packets = temporal()
    print(f"7. temporal default (saccade digits, 300 steps of 1 ms, 512 ON/OFF channels): MPD-ED on the chip, "
          f"one epoch: test accuracy {acc:.3f}, {uj:.2f} uJ and {packets:.0f} error packets per update")

    best = max(data["methods"].items(), key=lambda kv: kv[1]["accuracy"])
    print(f"\nsummary: chip inference {correct / n:.1%} at {e_inf.total_pj / 1e3:.0f} nJ per inference; best on-chip "
          f"learner {best[0]} {best[1]['accuracy']:.1%} at {best[1]['per_sample']['total_pj'] / 1e6:.2f} uJ per update; "
          f"report {out / 'report.md'}; done in {time.perf_counter() - t_start:.0f} s")
    return 0 if same is not False else 1
