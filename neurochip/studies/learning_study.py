"""The digits study of `neurochip report`: what inference and learning cost on the chip.

The study (digits, 64-128-10, T steps): every learning rule trains from the same random
weights on the chip's plastic cores (`rules.learner.Learner`): OTTT, STD-ED, MPD-ED and the
BPTT-SG baseline; the OTTT-trained network then runs inference on a simulated loihi1 spread
over several cores, and the learning cost is measured against T.
Energies use `neurochip.chip.energy` with two profiles:
- inference: `loihi1_sanafe` (silicon-calibrated, complete for inference events) and
  `loihi1_davies2018` (pre-silicon, unknown kinds listed);
- learning: `loihi1_davies2018` with its unknown learning costs filled from `horowitz45nm`
  (marked "derived": Loihi publishes only the synaptic update, 120 pJ).
"""
from __future__ import annotations

import time
from dataclasses import asdict

import numpy as np

from neurochip.chip.energy import energy, per_core_pj, run_energy
from neurochip.chip.placement import Placement
from neurochip.chip.simulator import Simulator
from neurochip.chip.spec import Profile, loihi1
from neurochip.mapping.placement.place import place
from neurochip.model.events import ALL_EVENTS
from neurochip.rules.learner import Learner, learning_profile
from neurochip.rules.rule import BPTT, OTTT, EventDriven
from neurochip.studies.datasets import digits

SIZES = [64, 128, 10]
PAPER_ED_VS_BPTT = 30.0  # Wei et al. 2024: event-driven learning vs BPTT-SG energy on their chip


def methods():
    # (label, rule, fixed point, epochs relative to the others: STD-ED learns slower)
    return [("OTTT_A", OTTT(), True, 1), ("OTTT_O", OTTT(mode="O", eta=0.02), True, 1),
            ("STD-ED", EventDriven("STD-ED", eta=0.005), True, 3), ("MPD-ED", EventDriven("MPD-ED"), True, 1),
            ("BPTT-SG detached", BPTT(), True, 1), ("BPTT-SG full", BPTT("full"), True, 1)]


def study(T: int = 16, epochs: int = 8, train: int | None = None, test: int | None = None,
          Ts=(4, 8, 16, 32, 64, 128, 256), sweep_samples: int = 100, progress: bool = False) -> dict:
    """Run the digits study and return every number of the report."""
    x_tr, y_tr, x_te, y_te = digits(T)
    x_tr, y_tr = x_tr[:train], y_tr[:train]
    x_te, y_te = x_te[:test], y_te[:test]
    lprof = learning_profile()
    out = {"T": T, "sizes": SIZES, "epochs": epochs, "train_samples": len(x_tr), "test_samples": len(x_te),
           "learning_profile": _profile_table(lprof), "methods": {}}
    trained = None
    for label, rule, fixed, slower in methods():
        t0 = time.perf_counter()
        learner = make(rule, fixed)
        learner.fit(x_tr, y_tr, epochs * slower, progress=progress)
        n = epochs * slower * len(x_tr)
        spent = energy(every_count(learner), lprof)
        writes = learner.counts("learn")["weight_writes"]
        out["methods"][label] = {
            "rule": repr(rule), "fixed_point": fixed, "epochs": epochs * slower,
            "accuracy": learner.accuracy(x_te, y_te),
            "curve": [h["loss"] for h in learner.history], "seconds": time.perf_counter() - t0,
            "per_sample": spent.per(n).to_dict(), "weight_writes_per_sample": writes / n,
            "learning_pj_per_weight_write": spent.by_phase()["learning"] / max(writes, 1),
            "state_bytes": learner.state_bytes(T)}
        if label == "OTTT_A":
            trained = learner
    bptt = out["methods"]["BPTT-SG detached"]["per_sample"]["total_pj"]
    out["ratios_vs_bptt"] = {k: bptt / m["per_sample"]["total_pj"] for k, m in out["methods"].items()}
    out["paper_ed_vs_bptt"] = PAPER_ED_VS_BPTT

    # inference of the OTTT-trained network on loihi1, spread over cores (16 neurons a core)
    chip = loihi1()
    net = trained.to_network()
    placement = place(Placement.sequential(net, chip, per_core=16), net, chip)
    sim = Simulator(net, chip, placement)
    lag = len(SIZES) - 1  # a step of delay per projection
    res = sim.run_samples([{"in": x} for x in x_te], steps=T + lag, record=["v"])
    correct = int(np.sum(np.argmax(res.v["out"][:, lag:].sum(1), axis=1) == y_te))
    latency = sum(float(np.nansum(step)) for step in res.step_latency_ns)  # summed as the JSON always was
    cores = [int(r.split()[1]) for r in res.rows if r.startswith("core")]
    inf = {}
    for name in ("loihi1_sanafe", "loihi1_davies2018"):
        prof = Profile.preset(name)
        inf[name] = run_energy(res, prof).per(len(x_te)).to_dict()
        inf[name]["per_core_pj"] = (per_core_pj(res.counters, prof)[:len(cores)] / len(x_te)).tolist()
    out["inference"] = {"accuracy_on_chip": correct / len(x_te), "accuracy_learner": trained.accuracy(x_te, y_te),
                        "cores": cores, "latency_ns": latency / len(x_te), "energy": inf,
                        "chip": {"name": chip.name, "tiles_x": chip.tiles_x, "tiles_y": chip.tiles_y,
                                 "cores_per_tile": chip.cores_per_tile}}

    # learning cost against T (same init, `sweep_samples` samples each)
    out["vs_T"] = {"T": list(Ts)}
    data_T = {t: digits(t)[:2] for t in Ts}
    for label, rule, fixed, _ in methods():
        e, b = [], []
        for t in Ts:
            xs, ys = data_T[t]
            learner = make(rule, fixed)
            for x, y in zip(xs[:sweep_samples], ys[:sweep_samples]):
                learner.learn_sample(x, y)
            e.append(energy(every_count(learner), lprof).per(sweep_samples).total_pj)
            b.append(learner.state_bytes(t))
        out["vs_T"][label] = {"pj_per_sample": e, "state_bytes": b}
    return out


def make(rule, fixed: bool):
    """The learner of a method, on the chip's plastic cores."""
    return Learner(SIZES, rule, fixed=fixed, seed=0)


def every_count(learner) -> dict:
    """The counts of learning: the learning phases and the forward pass they need."""
    learned, forward = learner.counts("learn"), learner.counts("infer")
    return {k: learned.get(k, 0) + forward.get(k, 0) for k in learned}


def _profile_table(p: Profile) -> list:
    """Each event kind's costs, basis and source; unknown (NaN) costs as None."""
    return [{"kind": k, **{f: None if v != v else v for f, v in asdict(p.events[k]).items()}} for k in ALL_EVENTS]
