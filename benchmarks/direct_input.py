"""Direct (analog) input: the snnTorch fixture networks and a Norse network with the digits' pixels
/ 16 as an input current at every one of T = 25 steps (tests/fixtures/snntorch/direct_fixture.npz,
made by the frameworks themselves), run in float and in Loihi fixed point on loihi2 (graded
spikes) and loihi1 (the first layer's input computed on the host). Writes
benchmarks/results/direct_input.json: per network, the share of the 450 test samples whose
float output counts equal the framework's, the accuracies, and per chip the events and energy
per inference.

    .venv/bin/python benchmarks/direct_input.py
"""
import json
import warnings
from pathlib import Path

import numpy as np

import neurochip as nc
from neurochip.chip.energy import run_energy
from neurochip.mapping.graded import grade
from neurochip.mapping.nir.importer import from_nir
from neurochip.mapping.placement.place import map_network
from neurochip.mapping.quantize import quantize

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "snntorch"
CONVENTIONS = {"ff": dict(dt=1e-4, reset="zero", reset_delay=True),        # snnTorch
               "rec": dict(dt=1e-4, reset="subtract", reset_delay=True),
               "norse": dict(dt=1e-3, reset="zero", reset_delay=False)}    # Norse: dt 1 ms


def counts_of(imp, net, chip, x, T):
    mapping = map_network(net, chip, "metis")
    sim = nc.Simulator(mapping.net, chip, mapping.placement, mapping.table)
    (src,), (out,) = imp.inputs.values(), imp.outputs.values()
    res = sim.run_samples([imp.inputs_for({src: np.repeat(s[None], T, 0)}) for s in x], populations=[out])
    return np.stack([imp.align(r, out, T) for r in res.spikes[out]]).sum(1), res, sim


def main():
    warnings.simplefilter("ignore")
    d = np.load(FIXTURES / "direct_fixture.npz")
    x, y, T = d["x_test"], d["y_test"], int(d["T"])
    out = {"data": "scikit-learn digits, 450 test samples, pixels / 16 as current at every step, T = 25",
           "framework_versions": d["versions"].tolist(), "networks": {}}
    for kind, conv in CONVENTIONS.items():
        imp = from_nir(FIXTURES / f"{kind}.nir", timing="framework", input_kind="current", **conv)
        ref = d[f"{kind}_counts"]
        row = {"framework_accuracy": float(d[f"{kind}_accuracy"])}
        counts, _, _ = counts_of(imp, imp.net, nc.loihi1(), x, T)
        row["float_samples_identical"] = float((counts == ref).all(1).mean())
        row["float_accuracy"] = float((counts.argmax(1) == y).mean())
        fixed, _ = quantize(imp.net)
        for chip in (nc.loihi2(), nc.loihi1()):
            net, (report,) = grade(fixed, chip, x_max=float(np.abs(x).max()))
            counts, res, sim = counts_of(imp, net, chip, x, T)
            acc = float((counts.argmax(1) == y).mean())
            host = res.counters[-1]
            e = run_energy(res, nc.Profile.preset("loihi1_sanafe")).per(len(x))
            row[chip.name] = {"accuracy": acc, "minus_framework_pp": 100 * (acc - row["framework_accuracy"]),
                              "input": report.describe(chip.name), "cores": int(len(sim.program.core_ids)),
                              "per_inference": {k: v / len(x) for k, v in res.totals().items()},
                              "host_row_per_inference": {k: int(c) / len(x) for k, c in zip(nc.EVENTS, host)},
                              "energy_nj_loihi1_sanafe_costs": e.total_pj / 1e3}
            print(f"{kind} {chip.name}: {acc:.4f} (framework {row['framework_accuracy']:.4f}); "
                  f"{e.total_pj / 1e3:.0f} nJ per inference at loihi1_sanafe costs")
        print(f"{kind} float: {row['float_samples_identical']:.2%} of samples identical to the framework")
        out["networks"][kind] = row
    (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
    (ROOT / "benchmarks" / "results" / "direct_input.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
