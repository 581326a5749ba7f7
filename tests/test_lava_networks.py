"""Whole networks through Lava (lava-nc 0.10, Loihi2SimCfg fixed_pt): the digits network
with per-sample resets (LIFReset) and the Sinabs CNN of the golden graphs with Sparse
connectivity, raster for raster against neurochip. Random networks are covered by
tests/test_lava_exact.py. Lava starts one OS process per Process; `LavaNetwork.run` stops
them in `finally`, and every Lava test has a timeout."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import neurochip as nc
from tests.conftest import golden, require_lava

require_lava()

from neurochip.mapping.lava.network import (SampleLeakWarning, min_padding, run_per_sample, stream_samples, to_lava)

pytestmark = pytest.mark.lava


def assert_same(ref: dict, lava: dict, names, variables=("spikes", "u", "v")):
    for name in names:
        for var in variables:
            assert np.array_equal(ref[var][name], lava[var][name]), (name, var)


@pytest.fixture(scope="module")
def digits_net():
    from neurochip.rules.learner import Learner
    from neurochip.rules.rule import OTTT
    from neurochip.studies.datasets import digits

    x_tr, y_tr, x_te, _ = digits(16)
    learner = Learner([64, 128, 10], OTTT(), fixed=True, seed=0)
    learner.fit(x_tr[:300], y_tr[:300], epochs=1)
    assert all(learner.to_network().populations[k].reset == "subtract" for k in ("h1", "out"))  # Lava cannot
    return learner.to_network(reset="zero"), x_te


@pytest.mark.timeout(300)
def test_digits_network_per_sample_resets_match_neurochip(digits_net):
    """5 test digits (16 steps + 2 silent) in one Lava run with LIFReset every 18 steps ==
    neurochip running each digit from Simulator.reset(): spikes, u and v at every step."""
    net, x_te = digits_net
    pad = min_padding(net)
    assert pad == 2                                  # in -> h1 -> out, one step per projection
    x, k = stream_samples({"in": x_te[:5]}, pad)
    steps = len(x["in"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.WeightClipWarning)
        ref = run_per_sample(net, x, steps, k)
        out = to_lava(net, x, steps, reset_interval=k).run()
        cont = nc.Simulator(net).run(steps, inputs=x, record=["spikes", "v"])
    assert out["leaks"] == {}
    assert_same(ref, out, net.neurons())
    per_sample = ref["spikes"]["h1"].reshape(5, k, -1).sum(axis=(1, 2))
    assert np.all(per_sample > 0)
    # the resets matter: one continuous run carries v over from one digit to the next
    assert not np.array_equal(cont.v["h1"], ref["v"]["h1"])
    assert np.array_equal(cont.v["h1"][:k], ref["v"]["h1"][:k])


@pytest.mark.timeout(300)
@pytest.mark.parametrize("fixed", [True, False])
def test_reset_offset_delays_and_float(fixed):
    """Samples starting at t % k == 3 (a 3-step head segment first), per-synapse delays up to
    3 (pad = min_padding = 1 + 3 + 1), a sparse projection, fixed and float point."""
    rng = np.random.default_rng(11)
    net = nc.Network()
    net.add(nc.SpikeSource(10, name="in"))
    if fixed:
        net.add(nc.LoihiLIF(16, du=4095, dv=300, vth=20, name="a"))
        net.add(nc.LoihiLIF(6, du=4095, dv=100, vth=30, name="b"))
        w1, w2 = 2 * rng.integers(-10, 40, (16, 10)), 2 * rng.integers(-20, 60, (6, 16))
    else:
        net.add(nc.FloatLIF(16, du=1.0, dv=0.07, vth=1.0, name="a"))
        net.add(nc.FloatLIF(6, du=1.0, dv=0.02, vth=1.5, name="b"))
        w1, w2 = rng.normal(0.3, 0.5, (16, 10)), rng.normal(0.4, 0.6, (6, 16))
    net.connect("in", "a", sp.csr_matrix(w1 * (rng.random(w1.shape) < 0.6)), delay=rng.integers(0, 4, w1.shape))
    net.connect("a", "b", w2)
    pad = min_padding(net)
    assert pad == 5
    samples = rng.random((4, 12, 10)) < 0.3
    x, k = stream_samples(samples, pad)
    x = {"in": np.concatenate([np.zeros((3, 10), bool), x[:-3]])}  # head of 3 silent steps, offset 3
    steps = len(x["in"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.WeightClipWarning)
        ref = run_per_sample(net, x, steps, k, reset_offset=3)
        lv = to_lava(net, x, steps, reset_interval=k, reset_offset=3)
        assert lv.kinds == {"in->a": "DelaySparse", "a->b": "Dense"}
        out = lv.run()
    assert out["leaks"] == {}
    if fixed:
        assert_same(ref, out, net.neurons())
    else:
        assert_same(ref, out, net.neurons(), ("spikes",))
        for name in net.neurons():
            np.testing.assert_allclose(ref["v"][name], out["v"][name], rtol=1e-9, atol=1e-9)
    assert ref["spikes"]["b"].sum() > 0


def test_per_sample_export_refuses_what_cannot_match():
    net = nc.Network()
    net.add(nc.SpikeSource(2, name="in"))
    net.add(nc.LoihiLIF(3, du=4095, dv=0, vth=5, name="a"))
    net.connect("in", "a", np.full((3, 2), 100), delay=2)
    x = np.zeros((12, 2), bool)
    x[4, 1] = True  # arrives at step 7 > the reset at step 6
    with pytest.raises(nc.NetworkError, match=r"input spikes .* pad each sample with at least 3 silent steps"):
        to_lava(net, {"in": x}, 12, reset_interval=6)
    net2 = nc.Network()
    net2.add(nc.SpikeSource(2, name="in"))
    net2.add(nc.LoihiLIF(3, du=4095, dv=0, vth=5, v0=7, name="a"))
    net2.connect("in", "a", np.ones((3, 2)))
    with pytest.raises(nc.NetworkError, match="u0 = v0 = 0"):
        to_lava(net2, None, 12, reset_interval=6)


@pytest.mark.timeout(300)
def test_neuron_spikes_crossing_a_reset_are_reported():
    """A bias keeps the neuron firing through the padding: the crossing is warned about."""
    net = nc.Network()
    net.add(nc.SpikeSource(1, name="in"))
    net.add(nc.LoihiLIF(1, du=4095, dv=0, vth=2, bias_mant=100, name="a"))
    net.add(nc.LoihiLIF(1, du=4095, dv=0, vth=1000, name="b"))
    net.connect("in", "a", np.array([[1]]))
    net.connect("a", "b", np.array([[1]]))
    with pytest.warns(SampleLeakWarning, match="'a->b'"):
        out = to_lava(net, None, 12, reset_interval=4, record=("spikes",)).run()
    assert "a->b" in out["leaks"]


@pytest.mark.timeout(900)
def test_sinabs_cnn_through_lava_sparse():
    """The Sinabs CNN (NIR golden graph; 8970 LIF, 2 unrolled convolutions as scipy.sparse ->
    Sparse), quantized, 20 steps of random input: every population's spikes, u and v."""
    from neurochip.mapping.nir.importer import from_nir
    from neurochip.mapping.placement.partition import partition
    from neurochip.mapping.placement.place import place
    from neurochip.mapping.quantize import quantize

    imp = from_nir(golden("nir_graphs") / "cnn_sinabs.nir", dt=1.0, reset="zero")  # IF: dt is immaterial
    q, _ = quantize(imp.net)
    steps = 20
    rng = np.random.default_rng(0)
    x = {k: rng.random((steps, q.populations[k].n)) < 0.2 for k in q.sources()}
    chip = nc.loihi1()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.WeightClipWarning)
        res = nc.Simulator(q, chip, place(partition(q, chip, "metis"), q, chip)).run(
            steps, inputs=x, record=["spikes", "u", "v"])
        lv = to_lava(q, x, steps)
        assert [p.name for p in q.projections if sp.issparse(p.weights)] == \
               [name for name, kind in lv.kinds.items() if kind == "Sparse"] != []
        out = lv.run()
    assert_same({"spikes": res.spikes, "u": res.u, "v": res.v}, out, q.neurons())
    assert all(res.spikes[k].sum() > 0 for k in q.neurons())
