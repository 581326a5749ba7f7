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
from dataclasses import asdict, replace

import numpy as np

from neurochip.chip.energy import energy, per_core_pj, run_energy
from neurochip.chip.placement import Placement
from neurochip.chip.simulator import Simulator
from neurochip.chip.spec import Profile, loihi1
from neurochip.mapping.placement.place import place
from neurochip.model.events import ALL_EVENTS
from neurochip.rules.baselines import GPUEstimate, TimeStepAccelerator, baseline_table
from neurochip.rules.learner import Learner, learning_profile
from neurochip.rules.rule import BPTT, OTTT, EventDriven
from neurochip.studies.datasets import digits
from neurochip.studies.event_data import SACCADE_PER_CORE, saccade_digits

SIZES = [64, 128, 10]
DATA = {"digits": None, "saccade": SACCADE_PER_CORE}   # the data sets, with the neurons a core their network takes
TARGETS = {"digits": (0.90, 0.95), "saccade": (0.80, 0.85)}   # accuracies to reach: iso-accuracy energy
PAPER_ED_VS_BPTT = 30.0  # Wei et al. 2024: event-driven learning vs BPTT-SG energy on their chip


def methods():
    # (label, rule, fixed point, epochs relative to the others: STD-ED learns slower)
    return [("OTTT_A", OTTT(), True, 1), ("OTTT_O", OTTT(mode="O", eta=0.02), True, 1),
            ("STD-ED", EventDriven("STD-ED", eta=0.005), True, 3), ("MPD-ED", EventDriven("MPD-ED"), True, 1),
            ("BPTT-SG detached", BPTT(), True, 1), ("BPTT-SG full", BPTT("full"), True, 1)]


def study(T: int = 16, epochs: int = 8, train: int | None = None, test: int | None = None,
          Ts=(4, 8, 16, 32, 64, 128, 256), sweep_samples: int = 100, rates=(0.5, 1.0, 2.0),
          rate_Ts=(8, 16, 32, 64, 128), targets=None, data: str = "digits", progress: bool = False) -> dict:
    """Run the study on `data` ("digits": Bernoulli spikes of T steps, with the sweeps against
    T and firing rate; "saccade": the embedded event-camera digits, 300 steps, T ignored) and
    return every number of the report."""
    if data not in DATA:
        raise ValueError(f"data must be one of {list(DATA)}, got {data!r}")
    x_tr, y_tr, x_te, y_te = digits(T) if data == "digits" else saccade_digits()
    T = x_tr.shape[1]
    x_tr, y_tr = x_tr[:train], y_tr[:train]
    x_te, y_te = x_te[:test], y_te[:test]
    sizes, per_core = [x_tr.shape[2]] + SIZES[1:], DATA[data]
    lprof = learning_profile()
    out = {"data": data, "T": T, "sizes": sizes, "epochs": epochs, "train_samples": len(x_tr),
           "test_samples": len(x_te), "learning_profile": _profile_table(lprof), "methods": {}}
    trained = None
    for label, rule, fixed, slower in methods():
        t0 = time.perf_counter()
        rule = for_steps(rule, T)
        learner = make(rule, fixed, sizes, per_core)
        acc, spent_uj = [], []
        for ep in range(epochs * slower):   # epoch by epoch: the energy-accuracy curve
            learner.fit(x_tr, y_tr, ep + 1, progress=progress)
            acc.append(learner.accuracy(x_te, y_te))
            spent_uj.append(phases_uj(learner, lprof))
        n = learner.samples_learned
        spent = energy(every_count(learner), lprof)
        learning_uj, total_uj = phases_uj(learner, lprof)
        writes = learner.counts("learn")["weight_writes"]
        out["methods"][label] = {
            "rule": repr(rule), "fixed_point": fixed, "epochs": epochs * slower, "accuracy": acc[-1],
            "curve": [h["loss"] for h in learner.history], "accuracy_curve": acc,
            "energy_curve_uj": [e[1] for e in spent_uj], "learning_energy_curve_uj": [e[0] for e in spent_uj],
            "seconds": time.perf_counter() - t0,
            "learning_phase_uj": learning_uj / n, "total_uj": total_uj / n,
            "counts": {k: v / n for k, v in every_count(learner).items()},
            "assumptions": {"chip": learner.chip.name, "profile": lprof.name, "fixed_point": fixed,
                            "rule": repr(rule), "learning phase": "every count of the learning phases (errors, "
                            "their packets and hops, tags, writes, stored state); total adds the forward pass"},
            "per_sample": spent.per(n).to_dict(), "weight_writes_per_sample": writes / n,
            "learning_pj_per_weight_write": learning_uj * 1e6 / max(writes, 1),
            "state_bytes": learner.state_bytes(T),
            "spike_rate": spike_rate(learner, T)}
        if label == "OTTT_A":
            trained = learner
    bptt = out["methods"]["BPTT-SG detached"]["per_sample"]["total_pj"]
    out["ratios_vs_bptt"] = {k: bptt / m["per_sample"]["total_pj"] for k, m in out["methods"].items()}
    out["paper_ed_vs_bptt"] = PAPER_ED_VS_BPTT
    out.update(compare_baselines(out, T, float(np.mean(x_tr)), targets or TARGETS[data]))

    # inference of the OTTT-trained network on loihi1, spread over cores (16 neurons a core)
    chip = loihi1()
    net = trained.to_network()
    placement = place(Placement.sequential(net, chip, per_core=16), net, chip)
    sim = Simulator(net, chip, placement)
    lag = len(sizes) - 1  # a step of delay per projection
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

    if data != "digits":
        return out
    # learning cost against T (same init, `sweep_samples` samples each)
    out["vs_T"] = {"T": list(Ts)}
    data_T = {t: digits(t)[:2] for t in Ts}
    for label, rule, fixed, _ in methods():
        e, b = [], []
        for t in Ts:
            xs, ys = data_T[t]
            learner = make(rule, fixed)
            learner.learn_samples(xs[:sweep_samples], ys[:sweep_samples])
            e.append(energy(every_count(learner), lprof).per(sweep_samples).total_pj)
            b.append(learner.state_bytes(t))
        out["vs_T"][label] = {"pj_per_sample": e, "state_bytes": b,
                              "state_level": [memory_level(v) for v in b]}
    out["vs_rate_T"] = rate_T_sweep(rate_Ts, rates, sweep_samples, lprof)
    return out


def make(rule, fixed: bool, sizes=SIZES, per_core=None):
    """The learner of a method, on the chip's plastic cores."""
    return Learner(sizes, rule, fixed=fixed, seed=0, per_core=per_core)


def for_steps(rule, T: int):
    """`rule` for samples of T steps: an event-driven rule's spike-count readout scaled by
    16 / T (its settings are the digits' at T = 16), so its softmax stays unsaturated."""
    return replace(rule, readout_scale=rule.readout_scale * 16 / T) if isinstance(rule, EventDriven) else rule


def every_count(learner) -> dict:
    """The counts of learning: the learning phases and the forward pass they need."""
    learned, forward = learner.counts("learn"), learner.counts("infer")
    return {k: learned.get(k, 0) + forward.get(k, 0) for k in learned}


RULES_ON_CHIP = ("OTTT_A", "OTTT_O", "STD-ED", "MPD-ED")
CHIP_BPTT = "BPTT-SG detached"
STATE_SRAM = TimeStepAccelerator().sram_bytes   # the accelerator's state buffer, the level a state lands in


def baselines() -> dict:
    """The time-step SG baselines off this chip (rules.baselines), each with its parameters."""
    return {"accelerator, dense": TimeStepAccelerator(),
            "accelerator, dense, full reset": TimeStepAccelerator(reset_term="full"),
            "accelerator, event-sparse": TimeStepAccelerator(backward="event"),
            "accelerator, dense, gradients in memory": TimeStepAccelerator(gradient_accumulator="memory"),
            "accelerator, dense, state and weights in DRAM": TimeStepAccelerator(sram_bytes=0, weight_sram_bytes=0),
            "GPU fp32, batch 1": GPUEstimate(), "GPU fp32, batch 32": GPUEstimate(batch=32)}


def phases_uj(learner, profile: Profile) -> tuple:
    """(learning phase, total) energy in µJ of everything `learner` has learned: the learning
    phases' counts (errors, their packets and hops, tags, writes, stored state), and those
    plus the forward passes."""
    return (energy(learner.counts("learn"), profile).total_pj / 1e6,
            energy(every_count(learner), profile).total_pj / 1e6)


def spike_rate(learner, T: int) -> float:
    """Spikes per neuron and step in the learning forward passes, over the neurons that spike
    (the hidden layers; the readout too for the event-driven rules)."""
    sizes = learner.sizes
    spiking = sum(sizes[1:]) if isinstance(learner.rule, EventDriven) else sum(sizes[1:-1])
    return learner.counts("infer")["spikes_out"] / (learner.samples_learned * T * spiking)


def memory_level(state_bytes: float) -> str:
    return f"SRAM (<= {STATE_SRAM // 1024} KB)" if state_bytes <= STATE_SRAM else "DRAM"


def _plain(x):
    """JSON-ready: Fractions and numpy numbers as floats."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x if isinstance(x, (str, bool, type(None), int)) else float(x)


def baseline_costs(model, sizes, T: int, act: list) -> dict:
    c = model.counts(sizes, T, act)
    e = model.energy_pj(c)
    return {"learning_phase_uj": e["learning_phase"] / 1e6, "total_uj": e["total"] / 1e6, "counts": _plain(c),
            "assumptions": _plain(model.assumptions())}


def compare_baselines(out: dict, T: int, x_rate: float, targets) -> dict:
    """Every baseline's cost per sample at the activity of BPTT-SG on this chip, ratios to the
    rules learning on the chip (learning phase and total), energy to reach each target
    accuracy, and the accounting nearest the seed paper's ratio."""
    m = out["methods"]
    act = [x_rate, m[CHIP_BPTT]["spike_rate"]]
    base = {f"BPTT-SG on this chip ({k.split()[-1]})": {
        "learning_phase_uj": m[k]["learning_phase_uj"], "total_uj": m[k]["total_uj"], "counts": m[k]["counts"],
        "assumptions": m[k]["assumptions"]} for k in ("BPTT-SG detached", "BPTT-SG full")}
    models = baselines()
    base.update({name: baseline_costs(model, out["sizes"], T, act) for name, model in models.items()})
    ratios = {b: {r: {"learning_phase": v["learning_phase_uj"] / m[r]["learning_phase_uj"],
                      "total": v["total_uj"] / m[r]["total_uj"]} for r in RULES_ON_CHIP} for b, v in base.items()}
    n = out["train_samples"]
    iso = {}
    for target in targets:
        row = {}
        for label, v in m.items():
            hit = next((i for i, a in enumerate(v["accuracy_curve"]) if a >= target), None)
            row[label] = None if hit is None else {"epochs": hit + 1, "total_uj": v["energy_curve_uj"][hit],
                                                   "learning_phase_uj": v["learning_energy_curve_uj"][hit]}
        bptt = row[CHIP_BPTT]   # the baselines run BPTT-SG's algorithm: its epochs to the target
        for name in models:
            row[name] = None if bptt is None else {
                "epochs": bptt["epochs"], "total_uj": bptt["epochs"] * n * base[name]["total_uj"],
                "learning_phase_uj": bptt["epochs"] * n * base[name]["learning_phase_uj"]}
        iso[f"{target:.0%}"] = row
    accountings = {
        "total, BPTT-SG on this chip": ("BPTT-SG on this chip (detached)", "total"),
        "learning phase, BPTT-SG on this chip": ("BPTT-SG on this chip (detached)", "learning_phase"),
        "learning phase, dense accelerator, SRAM": ("accelerator, dense", "learning_phase"),
        "total, dense accelerator, SRAM": ("accelerator, dense", "total"),   # SRAM: its default buffers
        "learning phase, dense accelerator, state and weights in DRAM":
            ("accelerator, dense, state and weights in DRAM", "learning_phase"),
        "total, dense accelerator, state and weights in DRAM":
            ("accelerator, dense, state and weights in DRAM", "total"),
        "total, GPU fp32 batch 1": ("GPU fp32, batch 1", "total")}
    table = {name: {r: ratios[b][r][what] for r in RULES_ON_CHIP} for name, (b, what) in accountings.items()}
    nearest = min(table, key=lambda k: abs(np.log(table[k]["MPD-ED"] / PAPER_ED_VS_BPTT)))
    return {"activity": {"input": x_rate, "hidden": act[1]}, "baselines": base,
            "baselines_table": _plain(baseline_table(models.values())), "ratios": ratios, "iso_accuracy": iso,
            "accountings": table, "nearest_to_paper": nearest}


def rate_T_sweep(Ts, rates, samples: int, profile: Profile) -> dict:
    """SG / ED energy ratios against T and the input firing rate (digits spikes with
    probability rate x pixel / 16): MPD-ED and OTTT_A learning on the chip, BPTT-SG on the
    chip and the dense accelerator at BPTT-SG's measured activity; `samples` samples each."""
    accel = TimeStepAccelerator()
    out = {"T": list(Ts), "rates": list(rates), "samples": samples, "rows": []}
    for rate in rates:
        for t in Ts:
            xs, ys = digits(t, rate=rate)[:2]
            xs, ys = xs[:samples], ys[:samples]
            row = {"rate": rate, "T": t, "input_rate": float(xs.mean())}
            for label in ("MPD-ED", "OTTT_A", CHIP_BPTT):
                rule, fixed = next((r, f) for lab, r, f, _ in methods() if lab == label)
                learner = make(rule, fixed)
                learner.learn_samples(xs, ys)
                lp, tot = phases_uj(learner, profile)
                row[label] = {"learning_phase_uj": lp / samples, "total_uj": tot / samples,
                              "spike_rate": spike_rate(learner, t)}
            a = baseline_costs(accel, SIZES, t, [row["input_rate"], row[CHIP_BPTT]["spike_rate"]])
            row["accelerator, dense"] = {k: a[k] for k in ("learning_phase_uj", "total_uj")}
            for sg in (CHIP_BPTT, "accelerator, dense"):
                for ed in ("MPD-ED", "OTTT_A"):
                    row[f"{sg} / {ed}"] = row[sg]["learning_phase_uj"] / row[ed]["learning_phase_uj"]
            out["rows"].append(row)
    return out


def _profile_table(p: Profile) -> list:
    """Each event kind's costs, basis and source; unknown (NaN) costs as None."""
    return [{"kind": k, **{f: None if v != v else v for f, v in asdict(p.events[k]).items()}} for k in ALL_EVENTS]
