"""`neurochip report`: what inference and learning cost on the chip, as a folder people can read.

The study (digits, 64-128-10, T steps): every learning rule trains from the same random
weights on the chip (`rules.Learner`), the OTTT-trained network then runs inference on a
simulated loihi1 spread over several cores, and the learning cost is measured against T.
Energies use `neurochip.energy` with two profiles:
- inference: `loihi1_sanafe` (silicon-calibrated, complete for inference events) and
  `loihi1_davies2018` (pre-silicon, unknown kinds listed);
- learning: `loihi1_davies2018` with its unknown learning costs filled from `horowitz45nm`
  (marked "derived": Loihi publishes only the synaptic update, 120 pJ).
Writes report.md (tables, figures embedded), report.json (every number) and PNG figures.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from neurochip.chip.energy import energy, per_core_pj, run_energy
from neurochip.model.events import ALL_EVENTS, PHASES
from neurochip.chip.spec import Profile, loihi1
from neurochip.rules.rule import BPTT, OTTT, EventDriven
from neurochip.studies.datasets import digits
from neurochip.mapping.placement.place import place
from neurochip.chip.placement import Placement
from neurochip.rules.learner import Learner
from neurochip.chip.simulator import Simulator

SIZES = [64, 128, 10]
PAPER_ED_VS_BPTT = 30.0  # Wei et al. 2024: event-driven learning vs BPTT-SG energy on their chip


def methods():

    # (label, rule, fixed point, epochs relative to the others: STD-ED learns slower)
    return [("OTTT_A", OTTT(), True, 1), ("OTTT_O", OTTT(mode="O", eta=0.02), True, 1),
            ("STD-ED", EventDriven("STD-ED", eta=0.005), True, 3), ("MPD-ED", EventDriven("MPD-ED"), True, 1),
            ("BPTT-SG detached", BPTT(), True, 1), ("BPTT-SG full", BPTT("full"), True, 1)]


def learning_profile() -> Profile:
    return Profile.preset("loihi1_davies2018").filled(Profile.preset("horowitz45nm"))


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
        learner = Learner(SIZES, rule, fixed=fixed, seed=0)
        learner.fit(x_tr, y_tr, epochs * slower, progress=progress)
        n = epochs * slower * len(x_tr)
        per_sample = energy(learner.counts("learn"), lprof).per(n)
        learning_only = energy({k: v for k, v in learner.counts("learn").items() if k in PHASES["learning"]}, lprof)
        writes = learner.counts("learn")["weight_writes"]
        out["methods"][label] = {
            "rule": repr(rule), "fixed_point": fixed, "epochs": epochs * slower,
            "accuracy": learner.accuracy(x_te, y_te),
            "curve": [h["loss"] for h in learner.history], "seconds": time.perf_counter() - t0,
            "per_sample": per_sample.to_dict(), "weight_writes_per_sample": writes / n,
            "learning_pj_per_weight_write": learning_only.total_pj / max(writes, 1),
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
    lag = len(SIZES) - 1
    total, correct, latency = None, 0, 0.0
    for x, y in zip(x_te, y_te):
        sim.reset()
        res = sim.run(T + lag, inputs={"in": np.vstack([x, np.zeros((lag, x.shape[1]), bool)])}, record=["v"])
        correct += int(np.argmax(res.v["out"][lag:].sum(0)) == y)
        latency += float(np.nansum(res.step_latency_ns))
        total = res.counters.copy() if total is None else total + res.counters
    res.counters = total
    cores = [int(r.split()[1]) for r in res.rows if r.startswith("core")]
    inf = {}
    for name in ("loihi1_sanafe", "loihi1_davies2018"):
        prof = Profile.preset(name)
        inf[name] = run_energy(res, prof).per(len(x_te)).to_dict()
        inf[name]["per_core_pj"] = (per_core_pj(total, prof)[:len(cores)] / len(x_te)).tolist()
    out["inference"] = {"accuracy_on_chip": correct / len(x_te), "accuracy_learner": trained.accuracy(x_te, y_te),
                        "cores": cores, "latency_ns": latency / len(x_te), "energy": inf,
                        "chip": {"name": chip.name, "tiles_x": chip.tiles_x, "tiles_y": chip.tiles_y,
                                 "cores_per_tile": chip.cores_per_tile}}

    # learning cost against T (same init, `sweep_samples` samples each)
    sweep = {"T": list(Ts)}
    data_T = {t: digits(t)[:2] for t in Ts}
    for label, rule, fixed, _ in methods():
        e, b = [], []
        for t in Ts:
            xs, ys = data_T[t]
            learner = Learner(SIZES, rule, fixed=fixed, seed=0)
            for x, y in zip(xs[:sweep_samples], ys[:sweep_samples]):
                learner.learn_sample(x, y)
            e.append(energy(learner.counts("learn"), lprof).per(sweep_samples).total_pj)
            b.append(learner.state_bytes(t))
        sweep[label] = {"pj_per_sample": e, "state_bytes": b}
    out["vs_T"] = sweep
    return out


def _profile_table(p: Profile) -> list:
    return [{"kind": k, "energy_pj": _n(p.cost(k)), "latency_ns": _n(p.cost(k, "latency_ns")),
             "basis": p.events[k].basis, "source": p.events[k].source} for k in ALL_EVENTS]


def _n(v):
    return None if v != v else v


def figures(data: dict, folder: Path) -> list:
    """The report's PNGs (Agg backend, headless)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    labels = list(data["methods"])
    kinds = [k for k in ALL_EVENTS if any((m["per_sample"]["by_kind_pj"][k] or 0) > 0 for m in data["methods"].values())]

    # 1. energy per training sample by event kind (stacked)
    fig, ax = plt.subplots(figsize=(9, 4.8))
    bottom = np.zeros(len(labels))
    cmap = plt.get_cmap("tab20")
    for i, k in enumerate(kinds):
        vals = np.array([(data["methods"][m]["per_sample"]["by_kind_pj"][k] or 0) / 1e6 for m in labels])
        ax.bar(labels, vals, bottom=bottom, label=k, color=cmap(i % 20))
        bottom += vals
    ax.set_ylabel("energy per training sample (µJ)")
    ax.set_title(f"Energy by event kind, digits {'-'.join(map(str, data['sizes']))}, T = {data['T']} "
                 "(loihi1_davies2018 + horowitz45nm)")
    ax.legend(fontsize=7, ncol=2)
    plt.setp(ax.get_xticklabels(), rotation=20, ha="right")
    paths.append(_save(fig, folder / "energy_by_kind.png"))

    # 2. energy per update, log scale
    fig, ax = plt.subplots(figsize=(8, 4.5))
    per = [data["methods"][m]["per_sample"]["total_pj"] / 1e6 for m in labels]
    ax.bar(labels, per, color=["#1f77b4", "#1f77b4", "#2ca02c", "#2ca02c", "#d62728", "#d62728"][:len(labels)])
    ax.set_yscale("log")
    ax.set_ylabel("energy per weight update = per training sample (µJ, log)")
    ax.set_title("Energy per update (forward pass + learning phase)")
    for i, v in enumerate(per):
        ax.text(i, v, f"{v:.2f}", ha="center", va="bottom", fontsize=8)
    plt.setp(ax.get_xticklabels(), rotation=20, ha="right")
    paths.append(_save(fig, folder / "energy_per_update.png"))

    # 3. energy and state memory against T
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4.2))
    Ts = data["vs_T"]["T"]
    for m in labels:
        a1.plot(Ts, np.array(data["vs_T"][m]["pj_per_sample"]) / 1e6, marker="o", label=m)
        a2.plot(Ts, np.array(data["vs_T"][m]["state_bytes"]) / 1024, marker="o", label=m)
    for a, yl in ((a1, "energy per training sample (µJ)"), (a2, "learning state held (KiB)")):
        a.set_xscale("log", base=2)
        a.set_yscale("log")
        a.set_xlabel("time steps per sample T")
        a.set_ylabel(yl)
        a.grid(alpha=0.3)
    a1.legend(fontsize=7)
    a1.set_title("Energy against T")
    a2.set_title("State memory against T")
    paths.append(_save(fig, folder / "energy_vs_T.png"))

    # 4. per-core inference energy on the mesh
    inf = data["inference"]
    chip = inf["chip"]
    grid = np.full((chip["tiles_y"], chip["tiles_x"]), 0.0)
    for core, pj in zip(inf["cores"], inf["energy"]["loihi1_sanafe"]["per_core_pj"]):
        tile = core // chip["cores_per_tile"]
        grid[tile // chip["tiles_x"], tile % chip["tiles_x"]] += pj / 1e3
    fig, ax = plt.subplots(figsize=(8, 4))
    im = ax.imshow(grid, cmap="magma", origin="lower")
    ax.set_xlabel("tile x (east-west)")
    ax.set_ylabel("tile y (north-south)")
    ax.set_title(f"Inference energy per tile, {chip['name']} ({len(inf['cores'])} cores, loihi1_sanafe)")
    fig.colorbar(im, ax=ax, label="nJ per inference")
    paths.append(_save(fig, folder / "core_heatmap.png"))
    return paths


def _save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def markdown(data: dict) -> str:
    m, inf = data["methods"], data["inference"]
    lines = [f"# Energy report: digits {'-'.join(map(str, data['sizes']))}, T = {data['T']}", "",
             f"{data['train_samples']} training samples x {data['epochs']} epochs (STD-ED: 3x as many, to reach a "
             f"matched accuracy), {data['test_samples']} test samples, "
             "one sample at a time, every rule from the same random weights, Loihi fixed point. "
             "Generated by `neurochip report`; every number is in `report.json`.", "",
             "## Learning: energy per update", "",
             "One update = one training sample: its forward pass and its learning phase (OTTT_O writes the weights "
             "every step of it, the others once). Profile: loihi1_davies2018, learning costs Loihi does not publish "
             "filled from horowitz45nm (see the table at the end).", "",
             "| method | test accuracy | energy per update (µJ) | learning phase (µJ) | weight writes | "
             "pJ per weight written | BPTT-SG detached / this | state at T (KiB) |",
             "|---|---|---|---|---|---|---|---|"]
    for k, v in m.items():
        ps = v["per_sample"]
        lines.append(f"| {k} | {v['accuracy']:.1%} | {ps['total_pj'] / 1e6:.3f} | "
                     f"{ps['by_phase_pj']['learning'] / 1e6:.3f} | {v['weight_writes_per_sample']:,.0f} | "
                     f"{v['learning_pj_per_weight_write']:.1f} | {data['ratios_vs_bptt'][k]:.2f}x | "
                     f"{v['state_bytes'] / 1024:.1f} |")
    ed = {k: data["ratios_vs_bptt"][k] for k in ("STD-ED", "MPD-ED")}
    b = m["BPTT-SG detached"]["per_sample"]
    fwd = 1 - b["by_phase_pj"]["learning"] / b["total_pj"]
    lp = {k: b["by_phase_pj"]["learning"] / m[k]["per_sample"]["by_phase_pj"]["learning"] for k in ("STD-ED", "MPD-ED")}
    lines += ["", f"Per update the event-driven rules cost {ed['STD-ED']:.2f}x (STD-ED) and {ed['MPD-ED']:.2f}x "
              f"(MPD-ED) less than BPTT-SG; their learning phases alone {lp['STD-ED']:.1f}x and {lp['MPD-ED']:.1f}x "
              f"less. The seed paper reports about {data['paper_ed_vs_bptt']:.0f}x on its chip. Why ours is smaller: "
              f"BPTT-SG runs here on the same event-driven chip model (its forward pass skips silent inputs, as every "
              f"method's does) and the forward pass, identical in kind for every method, is {fwd:.0%} of its "
              "energy; its T stored steps sit in on-chip SRAM at 2.5 pJ a byte (Horowitz, 32 KB SRAM; DRAM would "
              "cost about 100x more a byte). The paper's baseline is a time-step method on its own hardware, where "
              "every neuron at every step costs a full update and the stored state goes off the core.", "",
              "![energy by kind](energy_by_kind.png)", "", "![energy per update](energy_per_update.png)", "",
              "## Against T", "", "![energy and state against T](energy_vs_T.png)", "",
              "| method | " + " | ".join(f"T={t}" for t in data["vs_T"]["T"]) + " |",
              "|---|" + "---|" * len(data["vs_T"]["T"])]
    for k in m:
        lines.append(f"| {k} state (KiB) | " + " | ".join(f"{b / 1024:.1f}" for b in data["vs_T"][k]["state_bytes"])
                     + " |")
    for k in m:
        lines.append(f"| {k} energy (µJ) | " + " | ".join(f"{e / 1e6:.3f}" for e in data["vs_T"][k]["pj_per_sample"])
                     + " |")
    s = inf["energy"]["loihi1_sanafe"]
    d = inf["energy"]["loihi1_davies2018"]
    lines += ["", "## Inference on loihi1", "",
              f"The OTTT_A-trained network placed on {len(inf['cores'])} cores (16 neurons a core): accuracy on the "
              f"chip {inf['accuracy_on_chip']:.1%} (learner {inf['accuracy_learner']:.1%}), "
              f"latency {inf['latency_ns'] / 1e3:.1f} µs per inference (slowest core + barrier, per step).", "",
              "| event | count per inference | loihi1_sanafe (nJ) | loihi1_davies2018 (nJ) |", "|---|---|---|---|"]
    for k in ALL_EVENTS:
        c = s["counts"][k]
        if c:
            dv = d["by_kind_pj"][k]
            lines.append(f"| {k} | {c:,.1f} | {s['by_kind_pj'][k] / 1e3:.2f} | "
                         f"{'unknown' if dv is None else f'{dv / 1e3:.2f}'} |")
    lines += [f"| **total** | | **{s['total_pj'] / 1e3:.1f}** | **{d['total_pj'] / 1e3:.1f}** (without "
              f"{', '.join(d['unknown']) or 'nothing'}) |", "", "![per-core energy](core_heatmap.png)", "",
              "## Learning-cost constants", "", "| kind | pJ | basis | source |", "|---|---|---|---|"]
    for row in data["learning_profile"]:
        lines.append(f"| {row['kind']} | {row['energy_pj'] if row['energy_pj'] is not None else 'unknown'} | "
                     f"{row['basis']} | {row['source']} |")
    return "\n".join(lines) + "\n"


def write(folder, **kw) -> Path:
    folder = Path(folder)
    data = study(**kw)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(data, indent=1))
    figures(data, folder)
    (folder / "report.md").write_text(markdown(data))
    return folder
