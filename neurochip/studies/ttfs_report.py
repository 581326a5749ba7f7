"""The TTFS report (issue 7): `write_report(folder)` writes report.md, report.json and PNGs.

Study on digits (pixels / 16, the fixed stratified split):
- a ReLU MLP 64-128-64-10 (Adam, L1 activity penalty act_l1; also one without it), mapped
  exactly to a TTFS network (`neurochip.ttfs`, B1 model, float time and 2..16 time bits);
- training through exact spike times (`neurochip.rules.ttfs`): ReLU vs TTFS-B1 vs the
  weight-dependent slope from the same initialisation, and per-layer gradient norms of a
  deeper net (64-64x6-10) for B1 vs weight-dependent slope;
- energy per inference on `loihi1_sanafe`: TTFS (counted events) against the same ReLU weights
  as a rate-coded soft-reset integrate-and-fire network run on the chip simulator.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from neurochip.chip.energy import energy
import neurochip as nc
from neurochip.studies.datasets import digits
from neurochip.chip.energy import run_energy
from neurochip.mapping.ttfs import relu_forward
from neurochip.rules.ttfs import (
    ReLUTraining,
    TTFSFineTune,
    digits_data,
    finetune,
    init_params,
    relu_accuracy,
    train_relu,
    ttfs_forward,
)
from neurochip.chip.spec import Profile
from neurochip.mapping.ttfs import TTFSNetwork, relu_forward
from neurochip.studies.report import _save

PROFILE = "loihi1_sanafe"
SIZES = (64, 128, 64, 10)
ACT_L1 = 0.1
BITS = list(range(2, 11)) + [12, 14, 16]
LIF_T = (8, 16, 32, 64)
DEEP = (64,) + (64,) * 6 + (10,)


def _ttfs_energy(res, profile):
    """Per-inference TTFS energy; packets/axons_in counted as the chip simulator does when the
    whole network sits on one core: one packet per spike with a fan-out (input spikes too)."""

    c = dict(res.per_inference())
    sent = sum(float(np.isfinite(t).sum()) for t in res.times) / res.samples  # every stage has a fan-out
    c["packets"] = c["axons_in"] = sent
    return energy(c, profile)


def rate_lif(W, b, x_train, T, profile, progress=False):
    """The same ReLU weights as rate-coded soft-reset IF neurons on the chip (FloatLIF, du = 1,
    dv = 0, vth = 1, reset subtract), data-based normalisation: lambda_n = 99.9th percentile of
    the positive activations of layer n on the training set, W_n' = W_n lambda_{n-1} / lambda_n,
    b_n' = b_n / lambda_n per step; the readout integrates without spiking (vth 1e12) and its
    final potential is the logit. Inputs: Bernoulli spikes with p = pixel / 16 per step
    (`neurochip.datasets.digits`). Returns accuracy, spikes per hidden neuron, energy dict."""


    acts, _ = relu_forward(W, b, x_train)
    lam = [1.0] + [float(np.percentile(a[a > 0], 99.9)) for a in acts[1:]]
    net = nc.Network()
    net.add(nc.SpikeSource(W[0].shape[1], name="in"))
    names = ["in"]
    for n in range(len(W)):
        last = n == len(W) - 1
        name = "out" if last else f"h{n + 1}"
        scale = 1.0 if last else lam[n + 1]
        net.add(nc.FloatLIF(W[n].shape[0], du=1.0, dv=0.0, vth=1e12 if last else 1.0, reset="subtract",
                            bias=b[n] / scale, name=name))
        net.connect(names[-1], name, W[n] * lam[n] / scale)
        names.append(name)
    _, _, s_te, y_te = digits(T)
    sim = nc.Simulator(net)
    lag = len(W)
    total, correct, spikes = None, 0, 0
    it = zip(s_te, y_te)
    if progress:
        from tqdm import tqdm

        it = tqdm(list(it), desc=f"rate LIF T={T}")
    for s, y in it:
        sim.reset()
        res = sim.run(T + lag, inputs={"in": np.vstack([s, np.zeros((lag, s.shape[1]), bool)])}, record=["v"])
        correct += int(np.argmax(res.v["out"][-1]) == y)
        spikes += sum(int(res.spike_counts[k].sum()) for k in names[1:-1])
        total = res.counters.copy() if total is None else total + res.counters
    res.counters = total
    hidden = sum(w.shape[0] for w in W[:-1])
    e = run_energy(res, profile).per(len(y_te))
    return {"T": T, "accuracy": correct / len(y_te), "spikes_per_neuron": spikes / len(y_te) / hidden,
            "lambda": lam, "energy": e.to_dict()}


def study(progress: bool = False) -> dict:

    t0 = time.perf_counter()
    profile = Profile.preset(PROFILE)
    x_tr, y_tr, x_te, y_te = digits_data()
    out = {"sizes": SIZES, "act_l1": ACT_L1, "profile": PROFILE, "train_samples": len(x_tr),
           "test_samples": len(x_te), "networks": {}}

    # 1. ReLU networks and their exact TTFS images
    nets = {}
    for label, l1 in (("sparse (act_l1=0.1)", ACT_L1), ("plain (act_l1=0)", 0.0)):
        W, b, hist = train_relu(ReLUTraining(sizes=SIZES, epochs=40, act_l1=l1), x_tr, y_tr, progress=progress)
        net = TTFSNetwork.from_relu(W, b, x_tr)
        res = net.run(x_te)
        acts, logits = relu_forward(W, b, x_te)
        nets[label] = (W, b, net)
        out["networks"][label] = {
            "relu_accuracy": relu_accuracy(W, b, x_te, y_te),
            "ttfs_accuracy": float(np.mean(res.predictions == y_te)),
            "prediction_agreement": float(np.mean(res.predictions == np.argmax(logits, 1))),
            "max_activation_error": float(max(np.abs(a - r).max() for a, r in zip(acts, res.activations))),
            "saturated": res.saturated, "windows": net.windows,
            "spikes_per_neuron": res.spikes_per_neuron, "spikes_per_layer": res.spikes_per_layer,
            "spikes_per_neuron_with_input": float(sum(np.isfinite(t).sum() for t in res.times)
                                                  / len(x_te) / sum(t.shape[1] for t in res.times)),
            "relu_train_loss": hist["loss"]}
        sweep = {"bits": BITS, "accuracy": [], "agreement": [], "spikes_per_neuron": [], "energy_pj": []}
        for bits in BITS:
            r = net.with_time_bits(bits).run(x_te, warn=False)
            sweep["accuracy"].append(float(np.mean(r.predictions == y_te)))
            sweep["agreement"].append(float(np.mean(r.predictions == res.predictions)))
            sweep["spikes_per_neuron"].append(r.spikes_per_neuron)
            sweep["energy_pj"].append(_ttfs_energy(r, profile).total_pj)
        out["networks"][label]["vs_bits"] = sweep
        out["networks"][label]["ttfs_float_energy"] = _ttfs_energy(res, profile).to_dict()
    main = "sparse (act_l1=0.1)"
    W, b, net = nets[main]
    sw = out["networks"][main]["vs_bits"]
    ref = out["networks"][main]["ttfs_accuracy"]
    bits_ok = next(bt for bt, a in zip(sw["bits"], sw["accuracy"]) if a >= ref - 0.005)
    out["bits_chosen"] = bits_ok

    # 2. energy: TTFS vs rate-coded LIF, same weights
    lif = [rate_lif(W, b, x_tr, T, profile, progress) for T in LIF_T]
    relu_acc = out["networks"][main]["relu_accuracy"]
    T_ok = next((r["T"] for r in lif if r["accuracy"] >= relu_acc - 0.005), LIF_T[-1])
    rfix = net.with_time_bits(bits_ok).run(x_te, warn=False)
    out["energy"] = {
        "ttfs_closed_form": {"accuracy": ref, "spikes_per_neuron": out["networks"][main]["spikes_per_neuron"],
                             "energy": out["networks"][main]["ttfs_float_energy"]},
        "ttfs_fixed": {"bits": bits_ok, "accuracy": float(np.mean(rfix.predictions == y_te)),
                       "spikes_per_neuron": rfix.spikes_per_neuron, "energy": _ttfs_energy(rfix, profile).to_dict()},
        "rate_lif": lif, "rate_lif_T_chosen": T_ok}

    # 3. training through spike times: ReLU vs B1 vs weight-dependent slope, same init
    E = 20
    W0, b0 = init_params(SIZES, 0)
    _, _, h_relu = train_relu(ReLUTraining(sizes=SIZES, epochs=E, act_l1=ACT_L1), x_tr, y_tr, W0, b0)
    net0 = TTFSNetwork.from_relu(W0, b0, x_tr)
    curves = {"ReLU (Adam)": h_relu["loss"]}
    train = {}
    for slope in ("B1", "weights"):
        tn, h = finetune(net0, x_tr, y_tr, TTFSFineTune(slope=slope, epochs=E, act_l1=ACT_L1), progress)
        curves[f"TTFS {slope} slope"] = h["loss"]
        _, _, z = ttfs_forward(tn.weights, tn.biases, tn.windows, x_te, slope)
        train[slope] = {"test_accuracy": float(np.mean(np.argmax(z, 1) == y_te)), "windows": h["windows"]}
    out["training"] = {"epochs": E, "curves": curves, "runs": train,
                       "max_abs_loss_diff_relu_b1": float(np.max(np.abs(np.array(curves["ReLU (Adam)"])
                                                                        - np.array(curves["TTFS B1 slope"]))))}

    # 4. gradient norms per layer, deeper net, B1 vs weight-dependent slope
    W0, b0 = init_params(DEEP, 0)
    net0 = TTFSNetwork.from_relu(W0, b0, x_tr)
    grads = {"sizes": DEEP}
    for slope in ("B1", "weights"):
        _, h = finetune(net0, x_tr, y_tr, TTFSFineTune(slope=slope, epochs=5), progress)
        g = np.array(h["grad_norms"])
        grads[slope] = {"grad_norms": g.tolist(), "loss": h["loss"],
                        "mean_per_layer": g.mean(0).tolist(),
                        "first_over_last_layer": float(np.median(g[:, 0] / np.maximum(g[:, -2], 1e-300)))}
    out["gradients"] = grads
    out["seconds"] = time.perf_counter() - t0
    return out


def figures(data: dict, folder: Path) -> list:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt


    paths = []
    # accuracy vs time bits
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for label, d in data["networks"].items():
        sw = d["vs_bits"]
        ax.plot(sw["bits"], np.array(sw["accuracy"]) * 100, marker="o", label=f"TTFS, {label}")
        ax.axhline(d["relu_accuracy"] * 100, ls="--", lw=0.8, color=ax.lines[-1].get_color())
    ax.set_xlabel("time bits (2^b grid steps per window)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Fixed-point time: accuracy against time bits (dashed: ReLU)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    paths.append(_save(fig, folder / "accuracy_vs_time_bits.png"))

    # spikes per neuron per layer
    fig, ax = plt.subplots(figsize=(7, 4.2))
    labels = list(data["networks"])
    stages = list(next(iter(data["networks"].values()))["spikes_per_layer"])
    xs = np.arange(len(stages))
    for k, label in enumerate(labels):
        v = [data["networks"][label]["spikes_per_layer"][s] for s in stages]
        ax.bar(xs + (k - 0.5) * 0.38, v, 0.38, label=label)
    ax.axhline(0.3, color="k", ls=":", lw=1, label="paper: < 0.3")
    ax.set_xticks(xs, stages)
    ax.set_ylabel("spikes per neuron per inference")
    ax.set_title("TTFS spikes per neuron, by layer (float time, digits test set)")
    ax.legend(fontsize=8)
    paths.append(_save(fig, folder / "spikes_per_neuron.png"))

    # loss curves
    fig, ax = plt.subplots(figsize=(7, 4.2))
    styles = {"ReLU (Adam)": dict(lw=3, alpha=0.5), "TTFS B1 slope": dict(ls="--", marker="."),
              "TTFS weights slope": dict(marker="x")}
    for k, c in data["training"]["curves"].items():
        ax.plot(np.arange(1, len(c) + 1), c, label=k, **styles.get(k, {}))
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (CE + activity penalty)")
    ax.set_title("Training from the same init: ReLU vs exact spike-time gradients")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    paths.append(_save(fig, folder / "loss_curves.png"))

    # gradient norms per layer
    g = data["gradients"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, slope in zip(axes, ("B1", "weights")):
        arr = np.array(g[slope]["grad_norms"])
        cmap = plt.get_cmap("viridis")
        for n in range(arr.shape[1]):
            ax.plot(arr[:, n], lw=0.8, color=cmap(n / max(arr.shape[1] - 1, 1)), label=f"W{n + 1}")
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_title(f"{'B1 (slope 1)' if slope == 'B1' else 'slope = sum of input weights'}")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("|dL/dW_n| (log)")
    axes[1].legend(fontsize=7, ncol=2)
    fig.suptitle(f"Gradient norms per layer, {'-'.join(map(str, g['sizes']))}")
    paths.append(_save(fig, folder / "gradient_norms.png"))

    # energy per inference
    e = data["energy"]
    rows = [("TTFS closed form\n(event-driven)", e["ttfs_closed_form"]),
            (f"TTFS {e['ttfs_fixed']['bits']} bits\n(grid-stepped)", e["ttfs_fixed"])]
    rows += [(f"rate LIF\nT={r['T']}", r) for r in e["rate_lif"]]
    kinds = [k for k in ("syn_ops", "neuron_updates_active", "neuron_updates_inactive", "spikes_out", "packets")
             if any((r[1]["energy"]["by_kind_pj"].get(k) or 0) > 0 for r in rows)]
    fig, ax = plt.subplots(figsize=(9, 4.6))
    bottom = np.zeros(len(rows))
    for k in kinds:
        v = np.array([(r[1]["energy"]["by_kind_pj"].get(k) or 0) / 1e3 for r in rows])
        ax.bar([r[0] for r in rows], v, bottom=bottom, label=k)
        bottom += v
    for i, r in enumerate(rows):
        ax.text(i, bottom[i], f"{bottom[i]:.0f} nJ\n{r[1]['accuracy']:.1%}", ha="center", va="bottom", fontsize=7)
    ax.set_ylabel("energy per inference (nJ)")
    ax.set_title(f"Energy per inference on {data['profile']}: TTFS vs rate-coded IF (same weights)")
    ax.legend(fontsize=7)
    ax.set_ylim(0, bottom.max() * 1.18)
    paths.append(_save(fig, folder / "energy_per_inference.png"))
    return paths


def markdown(d: dict) -> str:
    m = d["networks"]["sparse (act_l1=0.1)"]
    p = d["networks"]["plain (act_l1=0)"]
    e = d["energy"]
    lines = [f"# TTFS networks on digits ({'-'.join(map(str, d['sizes']))})", "",
             "Time-to-first-spike networks after Stanojevic et al., *High-performance deep spiking neural networks "
             "with 0.3 spikes per neuron*, Nature Communications 2024 (B1 model: slope 1 after t_min). Generated by "
             "`neurochip.ttfs_report.write_report`; every number is in `report.json`.", "",
             "## What was measured", "",
             f"A ReLU MLP {'-'.join(map(str, d['sizes']))} was trained with Adam on digits (pixels/16, the fixed "
             f"stratified split: {d['train_samples']} train, {d['test_samples']} test), with an L1 activity penalty "
             f"(act_l1 = {d['act_l1']}) and without one. `TTFSNetwork.from_relu` maps it exactly (windows = 1.05 x the "
             "largest training activation per layer); `run` computes the spike times with Numba kernels that a naive "
             "event-by-event simulation in exact rational arithmetic reproduces (tests/test_ttfs.py). Events are "
             "counted as neurochip event kinds and priced with the loihi1_sanafe profile; packets are counted for "
             "TTFS as the chip simulator counts them on one core (one per spike with a fan-out, input spikes "
             "included).", "",
             "| network | ReLU acc. | TTFS acc. (float) | prediction agreement | max activation error | "
             "spikes / hidden neuron | with input layer |", "|---|---|---|---|---|---|---|"]
    for k, v in d["networks"].items():
        lines.append(f"| {k} | {v['relu_accuracy']:.2%} | {v['ttfs_accuracy']:.2%} | {v['prediction_agreement']:.1%} "
                     f"| {v['max_activation_error']:.1e} | {v['spikes_per_neuron']:.3f} | "
                     f"{v['spikes_per_neuron_with_input']:.3f} |")
    lines += ["", "![spikes per neuron](spikes_per_neuron.png)", "",
              "## Fixed-point time", "",
              "Each window holds 2^b grid steps; inputs spike on the grid, neurons are checked at grid points "
              "(the potential at t_min is integrated exactly; inputs only arrive on grid points) and fire at the "
              "first one with V >= theta, which floors each activation to the grid.", "",
              "| bits | " + " | ".join(str(b) for b in m["vs_bits"]["bits"]) + " |",
              "|---|" + "---|" * len(m["vs_bits"]["bits"])]
    for k, v in d["networks"].items():
        lines.append(f"| accuracy, {k} | " + " | ".join(f"{a:.1%}" for a in v["vs_bits"]["accuracy"]) + " |")
        lines.append(f"| agreement with float, {k} | " + " | ".join(f"{a:.1%}" for a in v["vs_bits"]["agreement"])
                     + " |")
    lines.append("| energy (nJ), sparse | " + " | ".join(f"{x / 1e3:.0f}" for x in m["vs_bits"]["energy_pj"]) + " |")
    lines += ["", "![accuracy vs time bits](accuracy_vs_time_bits.png)", "",
              "## Energy per inference: TTFS vs rate-coded integrate-and-fire (same weights, loihi1_sanafe)", "",
              "The rate-coded network runs on the chip simulator (FloatLIF du=1, dv=0, vth=1, subtract reset; "
              "layer-wise data-based normalisation with the 99.9th percentile of each layer's activations; "
              "Bernoulli input spikes p = pixel/16; the readout integrates and is read at the end). TTFS "
              "grid-stepped counts one neuron update per grid step of the two windows a neuron is live in; the "
              "closed form (event-driven) counts one update per neuron per layer.", "",
              "| model | accuracy | spikes / hidden neuron | syn_ops | neuron updates | spikes_out | packets | "
              "energy (nJ) |", "|---|---|---|---|---|---|---|---|"]

    def row(name, r):
        c = r["energy"]["counts"]
        upd = c["neuron_updates_active"] + c["neuron_updates_inactive"]
        return (f"| {name} | {r['accuracy']:.2%} | {r['spikes_per_neuron']:.3f} | {c['syn_ops']:,.0f} | {upd:,.0f} | "
                f"{c['spikes_out']:,.1f} | {c['packets']:,.1f} | {r['energy']['total_pj'] / 1e3:,.1f} |")

    lines.append(row("TTFS closed form", e["ttfs_closed_form"]))
    lines.append(row(f"TTFS {e['ttfs_fixed']['bits']} time bits", e["ttfs_fixed"]))
    for r in e["rate_lif"]:
        lines.append(row(f"rate IF, T = {r['T']}" + (" (chosen)" if r["T"] == e["rate_lif_T_chosen"] else ""), r))
    lif = next(r for r in e["rate_lif"] if r["T"] == e["rate_lif_T_chosen"])
    lines += ["", f"At matched accuracy (rate IF with T = {lif['T']}, the shortest T within 0.5 points of ReLU; "
              f"TTFS with {e['ttfs_fixed']['bits']} time bits, the fewest within 0.5 points of float TTFS) the "
              f"rate-coded network costs {lif['energy']['total_pj'] / e['ttfs_fixed']['energy']['total_pj']:.1f}x the "
              f"grid-stepped TTFS and {lif['energy']['total_pj'] / e['ttfs_closed_form']['energy']['total_pj']:.1f}x "
              "the event-driven TTFS.", "", "![energy](energy_per_inference.png)", "",
              "## Training through exact spike times", "",
              f"From the same random init, {d['training']['epochs']} epochs of Adam: the ReLU network, the TTFS "
              "network with exact spike-time gradients (B1; windows re-widened when an activation passes 95% of its "
              "window), and the same with a weight-dependent slope after t_min (slope_i = sum_j W_ij over spiking "
              f"inputs). B1 follows the ReLU loss curve to {d['training']['max_abs_loss_diff_relu_b1']:.1e} "
              "(the mapping is exact, so are the gradients). Test accuracy after training: "
              + ", ".join(f"{k} {v['test_accuracy']:.2%}" for k, v in d["training"]["runs"].items()) + ".", "",
              "![loss curves](loss_curves.png)", ""]
    g = d["gradients"]
    lines += [f"Gradient norms per weight matrix, {'-'.join(map(str, g['sizes']))}, 5 epochs from the same init: "
              "mean |dL/dW_n| per layer (input side first):", "",
              "| slope | " + " | ".join(f"W{n + 1}" for n in range(len(g["B1"]["mean_per_layer"]))) + " | final loss |",
              "|---|" + "---|" * (len(g["B1"]["mean_per_layer"]) + 1)]
    for s in ("B1", "weights"):
        lines.append(f"| {s} | " + " | ".join(f"{v:.3g}" for v in g[s]["mean_per_layer"])
                     + f" | {g[s]['loss'][-1]:.3f} |")
    lines += ["", "![gradient norms](gradient_norms.png)", "",
              "## Differences from the paper", "",
              f"- Spikes per neuron: {m['spikes_per_neuron']:.3f} per hidden neuron with the activity penalty, "
              f"{p['spikes_per_neuron']:.3f} without it (the paper reports < 0.3 on larger networks and data sets; "
              "here without a penalty most hidden ReLUs of this small MLP are active). Counting the input layer: "
              f"{m['spikes_per_neuron_with_input']:.3f}.",
              "- The paper works with larger networks and data sets; here fine-tuning is shown in float time on "
              "digits only, and the CNN variant (Conv2d + min-pooling) is tested for exactness with random "
              "convolution weights, not trained.",
              "- The weight-dependent-slope variant is our operational reading of the paper's point about the "
              "slope after t_min; it trains, but its gradients shrink towards the input layers and its loss "
              "stalls, while B1's per-layer gradient norms stay level.",
              "- Energy: the grid-stepped TTFS pays a neuron update per grid step (2^b per window), which dominates "
              "its energy; the synaptic-operation saving over rate coding is what the paper's argument rests on "
              "and shows in the syn_ops column.", "",
              f"Study time: {d['seconds']:.0f} s."]
    return "\n".join(lines) + "\n"


def write_report(folder, progress: bool = False) -> Path:
    """Run the study and write report.md, report.json and the PNG figures into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = study(progress=progress)
    (folder / "report.json").write_text(json.dumps(data, indent=1))
    figures(data, folder)
    (folder / "report.md").write_text(markdown(data))
    return folder
