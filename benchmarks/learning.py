"""On-chip learning on digits: training curves, learning state against T, throughput and the
cost of an update read from the chip, next to the layered engine it replaced and snnTorch.

    .venv/bin/python benchmarks/learning.py [--epochs 30] [--deep-epochs 15] [--snntorch PYTHON]

Network 64 -> 128 -> 10, T = 16 steps, digits as Bernoulli spikes (neurochip.studies.datasets),
one sample at a time (on-chip learning has no batches). OTTT, STD-ED, MPD-ED and the BPTT-SG
baseline run on the chip's plastic cores (loihi1, one core, Loihi fixed point). Then
OTTT_A and MPD-ED on two networks that separate the methods: 64-128-64-10 and a recurrent
64-128(rec)-10, spread over cores (16 neurons a core), with their error traffic.
Writes benchmarks/results/learning.json and learning_deep.png; the layered engine's own run
(OTTT included, before the plastic cores) is kept in results/learning_layered_engine.json.
"""
import argparse
import json
import subprocess
import time
from pathlib import Path

from neurochip.chip.energy import energy
from neurochip.rules.learner import Learner, learning_profile
from neurochip.rules.rule import OTTT, EventDriven
from neurochip.studies.datasets import digits
from neurochip.studies.figures import pyplot, save_figure
from neurochip.studies.learning_study import SIZES, every_count, make, methods

HERE = Path(__file__).resolve().parent
T = 16
METHODS = [(label, rule, fixed) for label, rule, fixed, _ in methods()]   # the energy report's


def train(learner, data, epochs):
    """Fit epoch by epoch; (test accuracy per epoch, samples per second of learning)."""
    x_tr, y_tr, x_te, y_te = data
    acc, seconds = [], 0.0
    for ep in range(epochs):
        t0 = time.perf_counter()
        learner.fit(x_tr, y_tr, ep + 1)
        seconds += time.perf_counter() - t0
        acc.append(learner.accuracy(x_te, y_te))
    return acc, epochs * len(x_tr) / seconds


def per_update(learner) -> dict:
    """Energy and latency of an update (one training sample) and its error traffic, from the chip."""
    n = learner.samples_learned
    prof = learning_profile()
    learned = learner.counts("learn")
    return {"energy_per_update_uj": energy(every_count(learner), prof).total_pj / n / 1e6,
            "learning_energy_per_update_uj": energy(learned, prof).total_pj / n / 1e6,
            "learning_latency_per_update_us": learner.latency_us()["learning_us"],
            "error_packets_per_update": learned["packets"] / n,
            "error_hops_per_update": (learned["hops_ew"] + learned["hops_ns"]) / n}


def curves(epochs):
    data = digits(T)
    out = {}
    for label, rule, fixed in METHODS:
        make(rule, fixed).learn_sample(data[0][0], data[1][0])  # compile outside the timing
        learner = make(rule, fixed)
        acc, rate = train(learner, data, epochs)
        out[label] = dict(fixed=fixed, rule=repr(rule),
                          test_accuracy=acc, final=acc[-1], best=max(acc),
                          loss=[h["loss"] for h in learner.history], samples_per_s=rate,
                          state_bytes=learner.state_bytes(T), **per_update(learner))
        print(f"{label:18s} {'fixed' if fixed else 'float'}  acc {acc[-1]:.3f} "
              f"(best {max(acc):.3f})  {rate:8.0f} samples/s  {out[label]['energy_per_update_uj']:.2f} uJ/update",
              flush=True)
    return out


def deep_and_recurrent(epochs):
    """OTTT_A and MPD-ED on the chip on networks where OTTT is not BPTT: two hidden layers,
    and recurrence."""
    data = digits(T)
    nets = {"64-128-10": dict(sizes=[64, 128, 10]), "64-128-64-10": dict(sizes=[64, 128, 64, 10]),
            "64-128(rec)-10": dict(sizes=[64, 128, 10], recurrent=(1,))}
    out = {}
    for rule in (OTTT(), EventDriven("MPD-ED")):
        for name, kw in nets.items():
            key = f"{rule.label} {name}"
            learner = Learner(rule=rule, fixed=True, seed=0, per_core=16, **kw)
            acc, rate = train(learner, data, epochs)
            out[key] = dict(test_accuracy=acc, final=acc[-1], samples_per_s=rate,
                            cores=len(learner.sim.program.core_ids), state_bytes=learner.state_bytes(T),
                            **per_update(learner))
            print(f"{key:22s} acc {acc[-1]:.3f}  {out[key]['energy_per_update_uj']:.2f} uJ/update  "
                  f"{out[key]['learning_latency_per_update_us']:.2f} us learning/update  "
                  f"{out[key]['error_packets_per_update']:.0f} error packets/update", flush=True)
    plt = pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4))
    for name, r in out.items():
        ax.plot(range(1, epochs + 1), r["test_accuracy"], marker="o", ms=3, label=name,
                ls="-" if name.startswith("OTTT") else "--")
    ax.set(xlabel="epoch", ylabel="test accuracy", title="learning on the chip (loihi1, fixed point)")
    ax.legend(fontsize=7)
    names = list(out)
    bx.tick_params(axis="x", labelrotation=30, labelsize=7)
    bx.bar(names, [out[k]["energy_per_update_uj"] for k in names], color="tab:blue", label="whole update")
    bx.bar(names, [out[k]["learning_energy_per_update_uj"] for k in names], color="tab:orange",
           label="learning phase")
    bx.set(ylabel="uJ per update", title="energy per update (loihi1_davies2018 + horowitz45nm)")
    bx.legend()
    save_figure(fig, HERE / "results" / "learning_deep.png")
    return out


def state_vs_T():
    Ts = [4, 8, 16, 32, 64, 128, 256]
    return {"T": Ts, **{label: [make(r, fixed).state_bytes(t) for t in Ts] for label, r, fixed in METHODS}}


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
    ap.add_argument("--deep-epochs", type=int, default=15)
    ap.add_argument("--snntorch", default=str(HERE / ".venvs" / "snntorch" / "bin" / "python"))
    args = ap.parse_args()
    (HERE / "results").mkdir(exist_ok=True)
    before = json.loads((HERE / "results" / "learning_layered_engine.json").read_text())["curves"]
    result = {"T": T, "sizes": SIZES, "curves": curves(args.epochs),
              "deep_and_recurrent": deep_and_recurrent(args.deep_epochs), "state_vs_T": state_vs_T(),
              "layered_engine_samples_per_s": {k: v["samples_per_s"] for k, v in before.items()},
              "snntorch": snntorch(args.snntorch)}
    for label, r in result["curves"].items():
        print(f"{label:18s} {r['samples_per_s']:8.0f} samples/s here, "
              f"{result['layered_engine_samples_per_s'][label]:8.0f} in the layered engine before")
    if result["snntorch"]:
        for k, v in result["snntorch"].items():
            print(f"snnTorch BPTT {k}: {v}")
    (HERE / "results" / "learning.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
