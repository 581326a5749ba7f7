"""On-chip learning on digits: training curves, learning state against T, and throughput
(samples per second) of every rule, next to snnTorch's BPTT on the CPU for the same network.

    .venv/bin/python benchmarks/learning.py [--epochs 10] [--snntorch benchmarks/.venvs/snntorch/bin/python]

Network 64 -> 128 -> 10, T = 16 steps, digits as Bernoulli spikes (neurochip.studies.datasets),
one sample at a time (on-chip learning has no batches). Writes benchmarks/results/learning.json.
"""
import argparse
import json
import subprocess
import time
from pathlib import Path

from neurochip.rules.learner import Learner
from neurochip.studies.datasets import digits
from neurochip.studies.learning_study import SIZES, methods

HERE = Path(__file__).resolve().parent
T = 16
# the energy report's rules and settings; BPTT-SG runs in float here, the baseline as the issue states it
METHODS = [(label, rule, fixed and not label.startswith("BPTT")) for label, rule, fixed, _ in methods()]


def curves(epochs):
    x_tr, y_tr, x_te, y_te = digits(T)
    out = {}
    for label, rule, fixed in METHODS:
        learner = Learner(SIZES, rule, fixed=fixed, seed=0)
        learner.learn_sample(x_tr[0], y_tr[0])  # compile outside the timing
        learner = Learner(SIZES, rule, fixed=fixed, seed=0)
        acc, seconds = [], 0.0
        for ep in range(epochs):
            t0 = time.perf_counter()
            learner.fit(x_tr, y_tr, ep + 1)
            seconds += time.perf_counter() - t0
            acc.append(learner.accuracy(x_te, y_te))
        n = epochs * len(x_tr)
        out[label] = dict(fixed=fixed, rule=repr(rule), test_accuracy=acc, final=acc[-1], best=max(acc),
                          loss=[h["loss"] for h in learner.history], samples_per_s=n / seconds,
                          events_per_sample={k: v / n for k, v in learner.counts("learn").items()},
                          state_bytes=learner.state_bytes(T))
        print(f"{label:18s} {'fixed' if fixed else 'float'}  acc {acc[-1]:.3f} (best {max(acc):.3f})  "
              f"{n / seconds:8.0f} samples/s", flush=True)
    return out


def state_vs_T():
    Ts = [4, 8, 16, 32, 64, 128, 256]
    rules = {label: rule for label, rule, _ in METHODS}
    return {"T": Ts, **{label: [Learner(SIZES, r).state_bytes(t) for t in Ts] for label, r in rules.items()}}


def snntorch(python, epochs=1):
    if not python or not Path(python).exists():
        return None
    script = HERE / "peers" / "digits_snntorch.py"
    res = subprocess.run([python, str(script), str(T), str(epochs)], capture_output=True, text=True, timeout=1800)
    if res.returncode:
        print("snnTorch run failed:", res.stderr[-500:])
        return None
    return json.loads(res.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--snntorch", default=str(HERE / ".venvs" / "snntorch" / "bin" / "python"))
    args = ap.parse_args()
    result = {"T": T, "sizes": SIZES, "curves": curves(args.epochs), "state_vs_T": state_vs_T(),
              "snntorch": snntorch(args.snntorch)}
    if result["snntorch"]:
        for k, v in result["snntorch"].items():
            print(f"snnTorch BPTT {k}: {v}")
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "learning.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
