"""Convolutional networks learning on the chip, with accuracy and energy per update.

    .venv/bin/python benchmarks/learning_conv.py [--epochs 15] [--saccade-epochs 3]

digits: 1x8x8 -> Conv2d(4, 3x3) -> 4x6x6 LIF -> 10; saccade digits: 2x16x16 -> Conv2d(8,
5x5, stride 2) -> 8x6x6 LIF -> 10 (32 neurons a core). The convolution is unrolled into a
sparse projection (`mapping.nir.unroll.conv`) whose stored entries are the plastic synapses;
Loihi's learning engine updates each synapse on its own, so after learning the layer keeps
its connectivity but not its weight sharing (a locally connected layer). Loihi fixed point,
loihi1, the digits study's rule settings (`learning_study.methods`), the event-driven
readout scaled for T (`learning_study.for_steps`). Writes benchmarks/results/learning_conv.json.
"""
import argparse
import json
from pathlib import Path

import numpy as np

from neurochip.mapping.nir.unroll import conv
from neurochip.rules.learner import Learner
from neurochip.studies.datasets import digits
from neurochip.studies.event_data import SACCADE_PER_CORE, saccade_digits
from neurochip.studies.learning_study import for_steps, methods

from learning import per_update, train

HERE = Path(__file__).resolve().parent
RULES = ("OTTT_A", "MPD-ED", "BPTT-SG detached")
NETS = {"digits": dict(in_shape=(1, 8, 8), channels=4, kernel=3, stride=1, per_core=None),
        "saccade": dict(in_shape=(2, 16, 16), channels=8, kernel=5, stride=2, per_core=SACCADE_PER_CORE)}


def conv_weights(in_shape, channels, kernel, stride, seed=0, gain=2.0):
    """(the unrolled convolution, its output size, a dense readout), seeded Gaussian weights
    with std gain / sqrt(fan-in)."""
    rng = np.random.default_rng(seed)
    k = rng.normal(0, gain / np.sqrt(in_shape[0] * kernel**2), (channels, in_shape[0], kernel, kernel))
    C, out_shape = conv(k, in_shape, stride=stride)
    n = int(np.prod(out_shape))
    return C, n, rng.normal(0, gain / np.sqrt(n), (10, n))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--saccade-epochs", type=int, default=3)
    args = ap.parse_args()
    out = {}
    for data_name, epochs in (("digits", args.epochs), ("saccade", args.saccade_epochs)):
        data = digits(16) if data_name == "digits" else saccade_digits()
        T, n_in = data[0].shape[1], data[0].shape[2]
        spec = NETS[data_name]
        C, n, readout = conv_weights(spec["in_shape"], spec["channels"], spec["kernel"], spec["stride"])
        for label, rule, fixed, _ in methods():
            if label not in RULES:
                continue
            learner = Learner([n_in, n, 10], for_steps(rule, T), fixed=fixed, seed=0, weights=[C, readout],
                              per_core=spec["per_core"])
            acc, rate = train(learner, data, epochs)
            key = f"{label} {data_name} conv"
            out[key] = dict(sizes=[n_in, n, 10], conv=spec, synapses=int(C.nnz + readout.size), epochs=epochs,
                            test_accuracy=acc, final=acc[-1], best=max(acc), samples_per_s=rate,
                            cores=len(learner.sim.program.core_ids), state_bytes=learner.state_bytes(T),
                            **per_update(learner))
            print(f"{key:28s} acc {acc[-1]:.3f} (best {max(acc):.3f})  {out[key]['energy_per_update_uj']:.2f} uJ/update "
                  f"({out[key]['learning_energy_per_update_uj']:.2f} learning)  {rate:.0f} samples/s", flush=True)
    (HERE / "results" / "learning_conv.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
