"""Learning on the chip on the embedded temporal data set (saccade digits), every rule.

    .venv/bin/python benchmarks/temporal_learning.py [--epochs 5]

Data: `neurochip.studies.event_data.saccade_digits()` (2 x 16 x 16 ON/OFF channels, 300 steps
of 1 ms, 1347 training and 450 test samples). Network 512-128-10 on loihi1, 32 neurons a
core (one core cannot hold its 65,536 synapses with the learning state), Loihi fixed point,
the BPTT-SG baseline too. The event-driven rules' readout
counts spikes over T = 300 steps, so their readout_scale is 0.5 x 16 / 300 (0.5 at the
digits' T = 16) to keep the softmax out of saturation; every other setting is the digits
study's (`learning_study.methods`). Writes benchmarks/results/temporal_learning.json.
"""
import argparse
import json
from pathlib import Path

from neurochip.rules.learner import Learner
from neurochip.studies.event_data import SACCADE_PER_CORE, saccade_digits
from neurochip.studies.learning_study import for_steps, methods

from learning import per_update, train

HERE = Path(__file__).resolve().parent
HIDDEN = 128


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=5)
    args = ap.parse_args()
    data = saccade_digits()
    x_tr = data[0]
    T, n_in = x_tr.shape[1], x_tr.shape[2]
    out = {"data": "saccade_digits", "T": T, "sizes": [n_in, HIDDEN, 10], "epochs": args.epochs, "results": {}}
    for label, rule, fixed, _ in methods():
        rule = for_steps(rule, T)
        learner = Learner([n_in, HIDDEN, 10], rule, fixed=fixed, seed=0, per_core=SACCADE_PER_CORE)
        acc, rate = train(learner, data, args.epochs)
        r = dict(rule=repr(rule), fixed=fixed, test_accuracy=acc, final=acc[-1],
                 best=max(acc), samples_per_s=rate, state_bytes=learner.state_bytes(T), **per_update(learner))
        out["results"][label] = r
        print(f"{label:18s} acc {acc[-1]:.3f} (best {max(acc):.3f})  {rate:6.0f} samples/s  "
              f"{r['energy_per_update_uj']:.2f} uJ/update ({r['learning_energy_per_update_uj']:.2f} learning)",
              flush=True)
    (HERE / "results" / "temporal_learning.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
