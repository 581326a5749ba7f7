"""A network trained and exported by a peer framework (snnTorch) runs on the chip as it did
there. Fixtures: tests/fixtures/snntorch/make_fixtures.py (digits, T = 25, two networks)."""
from pathlib import Path

import numpy as np
import pytest

import neurochip as nc
from neurochip.mapping.nir.importer import from_nir
from neurochip.mapping.quantize import quantize

FIXTURES = Path(__file__).parent / "fixtures" / "snntorch"
RESETS = {"ff": "zero", "rec": "subtract"}  # as each network's snn.Leaky/RLeaky reset_mechanism


@pytest.fixture(scope="module")
def data():
    d = np.load(FIXTURES / "digits_fixture.npz")
    x = np.unpackbits(d["x_test"], axis=-1)[..., :64].astype(bool)
    return x, dict(d)


def output_counts(imp, net, x, steps):
    sim = nc.Simulator(net)
    out = imp.outputs["output"]
    counts = np.empty((len(x), net.populations[out].n), np.int64)
    for i, sample in enumerate(x):
        sim.reset()
        res = sim.run(steps + max(imp.lag.values()), inputs=imp.inputs_for(sample), record=["spikes"])
        counts[i] = imp.align(res.spikes[out], out, steps).sum(0)
    return counts


def imported(kind):
    # snnTorch's conventions: dt hard-coded to 1e-4 by its exporter, zero-delay layers, late reset
    return from_nir(FIXTURES / f"{kind}.nir", dt=1e-4, reset=RESETS[kind], timing="framework", reset_delay=True)


@pytest.mark.parametrize("kind", ["ff", "rec"])
def test_float_mode_reproduces_snntorch_counts(kind, data):
    x, d = data
    imp = imported(kind)
    counts = output_counts(imp, imp.net, x, int(d["T"]))
    same = (counts == d[f"{kind}_counts"]).all(1)
    assert same.mean() >= 0.99, f"{kind}: {same.mean():.2%} of samples match snnTorch's counts"
    assert counts.sum() > len(x)  # the outputs do spike


@pytest.mark.parametrize("kind", ["ff", "rec"])
def test_fixed_point_accuracy_within_one_point(kind, data):
    x, d = data
    imp = imported(kind)
    net, report = quantize(imp.net)
    assert net.fixed_point
    counts = output_counts(imp, net, x, int(d["T"]))
    acc = (counts.argmax(1) == d["y_test"]).mean()
    assert abs(acc - d[f"{kind}_accuracy"]) <= 0.01, (acc, d[f"{kind}_accuracy"])
    assert d[f"{kind}_accuracy"] > 0.9  # a trained network, not chance
