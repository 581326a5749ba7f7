"""TTFS networks (Stanojevic et al. 2024, B1 model): exact ReLU mapping, the chip's B1
network against the event-by-event naive twin, fixed-point time, spike counts, placement,
exact spike-time gradients."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import neurochip as nc
from neurochip.mapping.ttfs import TTFSNetwork, TTFSSaturationWarning, conv_layer, pool_groups
from neurochip.rules.relu import ReLUTraining, init_params, relu_forward, relu_grads, train_relu
from neurochip.rules.ttfs import TTFSFineTune, finetune, ttfs_forward, ttfs_grads
from neurochip.studies.datasets import digits
from tests.reference import ttfs as naive

SIZES = (64, 128, 64, 10)
ACT_L1 = 0.1


@pytest.fixture(scope="module")
def data():
    return digits(None)


@pytest.fixture(scope="module")
def trained(data):
    x_tr, y_tr, _, _ = data
    W, b, _ = train_relu(ReLUTraining(sizes=SIZES, epochs=40, act_l1=ACT_L1), x_tr, y_tr)
    return W, b, TTFSNetwork.from_relu(W, b, x_tr)


# ----------------------------------------------------------------------- (a) exact mapping
def test_float_ttfs_equals_relu_on_every_test_sample(data, trained):
    _, _, x_te, y_te = data
    W, b, net = trained
    res = net.run(x_te)
    acts, logits = relu_forward(W, b, x_te)
    assert res.saturated == 0
    assert np.array_equal(res.predictions, np.argmax(logits, axis=1))
    assert len(res.activations) == len(acts) == 3
    for a, r in zip(acts, res.activations):
        np.testing.assert_allclose(r, a, rtol=0, atol=1e-9)
    np.testing.assert_allclose(res.logits, logits, rtol=0, atol=1e-9)
    assert np.mean(res.predictions == y_te) > 0.95


def test_spikes_inside_windows_and_at_most_once_on_digits(data, trained):
    _, _, x_te, _ = data
    _, _, net = trained
    res = net.with_time_bits(6).run(x_te)
    for k, t in enumerate(res.times):
        lo, hi = net.windows[k]
        fin = np.isfinite(t)
        assert np.all((t[fin] >= lo) & (t[fin] < hi))
        assert np.all(res.activations[k] >= 0)


# ----------------------------------------------------------------------- (b, c) naive twin
def _random_net(rng, sizes, pools=None):
    W = [rng.normal(0, 0.7, (b, a)) * (rng.random((b, a)) < 0.8) for a, b in zip(sizes[:-1], sizes[1:])]
    bias = [rng.normal(0, 0.3, n) for n in sizes[1:]]
    return W, bias


def _compare(net, x, bits, **chip):
    res = net.with_time_bits(bits).run(x, warn=False, **chip)
    counts, spikes = {}, 0
    for s in range(len(x)):
        ref = naive.simulate(net.weights, net.biases, net.windows, x[s], bits, net.pools)
        assert ref["stages"] == res.stages
        for k in range(len(res.times)):
            want = np.array(ref["times"][k])
            got = res.times[k][s]
            assert np.array_equal(np.isinf(want), np.isinf(got))
            fin = np.isfinite(want)
            np.testing.assert_allclose(got[fin], want[fin], rtol=0, atol=1e-12)
            np.testing.assert_allclose(res.activations[k][s], ref["activations"][k], rtol=0, atol=1e-12)
            if bits is not None:
                assert np.array_equal(res.ticks[k][s], np.array(ref["ticks"][k]))
        np.testing.assert_allclose(res.logits[s], ref["logits"], rtol=0, atol=1e-12)
        for k, v in (ref["counts"] or {}).items():
            counts[k] = counts.get(k, 0) + v
        # (c) each neuron fires at most once, inside its window
        fired = [(stage, i) for stage, i, _ in ref["spikes"]]
        assert len(fired) == len(set(fired))
        spikes += len(fired)
    if bits is None:   # the closed form runs on the host: no chip counts
        assert res.counters is None
        return res
    assert counts == {k: res.counters[k] for k in counts}
    assert res.counters["spikes_out"] == spikes
    return res


# margin below 2: at margin 2 the largest activation falls exactly on a grid point of 1 time
# bit, a tie that float arithmetic (chip or closed form) cannot decide as the exact twin does
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), depth=st.integers(1, 3), bits=st.sampled_from([None, 1, 2, 3, 5]),
       n_in=st.integers(1, 8), width=st.integers(1, 7), margin=st.floats(0.6, 1.9))
def test_kernels_equal_naive_event_simulation(seed, depth, bits, n_in, width, margin):
    rng = np.random.default_rng(seed)
    sizes = [n_in] + [width] * depth + [3]
    W, b = _random_net(rng, sizes)
    x = rng.random((4, n_in)) * (rng.random((4, n_in)) < 0.7)
    # margin < 1 makes some neurons saturate: the clipping must match too
    net = TTFSNetwork.from_relu(W, b, x, margin=max(margin, 1.0), x_max=1.0)
    if margin < 1:
        net = TTFSNetwork(W, b, [(0.0, 1.0)] + [(1.0 + k * margin, 1.0 + (k + 1) * margin) for k in range(depth)])
    res = _compare(net, x, bits)
    steps = net.steps
    for k, t in enumerate(res.times):
        lo, hi = net.windows[k]
        fin = np.isfinite(t)
        assert np.all((t[fin] >= lo) & (t[fin] < hi))
        assert np.all(res.activations[k] >= 0)
        if steps:
            kk = res.ticks[k]
            assert np.all((kk[fin] >= 0) & (kk[fin] < steps)) and np.all(kk[~fin] == -1)
            np.testing.assert_allclose(t[fin], lo + kk[fin] * (hi - lo) / steps, rtol=0, atol=1e-12)
    if bits is None and margin >= 1:
        acts, _ = relu_forward(W, b, x)
        for a, r in zip(acts, res.activations):
            np.testing.assert_allclose(r, a, rtol=0, atol=1e-9)


def test_cnn_conv_minpool_equals_relu_maxpool_and_naive(data):
    x_tr, _, x_te, _ = data
    rng = np.random.default_rng(3)
    Wc, bc, shape = conv_layer(rng.normal(0, 0.5, (3, 1, 3, 3)), rng.normal(0, 0.1, 3), (1, 8, 8), padding=1)
    groups, pshape = pool_groups(shape, 2)
    assert pshape == (3, 4, 4)
    W = [Wc, rng.normal(0, 0.3, (10, int(np.prod(pshape))))]
    b = [bc, rng.normal(0, 0.1, 10)]
    net = TTFSNetwork.from_relu(W, b, x_tr, pools=[groups])
    res = net.run(x_te)
    acts, logits = relu_forward(W, b, x_te, [groups])
    assert res.stages == ["input", "hidden1", "pool1"]
    for a, r in zip(acts, res.activations):
        np.testing.assert_allclose(r, a, rtol=0, atol=1e-9)
    assert np.array_equal(res.predictions, np.argmax(logits, axis=1))
    for bits in (None, 3):
        _compare(net, x_te[:3], bits)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31), pool=st.booleans(), bits=st.sampled_from([1, 3]))
def test_b1_network_on_any_placement_spikes_the_same(seed, pool, bits):
    """One core, one neuron a core, scattered cores: identical spike ticks, logits and
    placement-free counts; packets follow the placement."""
    rng = np.random.default_rng(seed)
    Wc, bc, shape = conv_layer(rng.normal(0, 0.5, (2, 1, 3, 3)), rng.normal(0, 0.1, 2), (1, 4, 4), padding=1)
    groups, pshape = pool_groups(shape, 2)
    W = [Wc, rng.normal(0, 0.5, (3, int(np.prod(pshape)) if pool else Wc.shape[0]))]
    x = rng.random((3, 16))
    ttfs = TTFSNetwork.from_relu(W, [bc, rng.normal(0, 0.1, 3)], x, time_bits=bits, pools=[groups if pool else None])
    net, chip = ttfs.to_network(), nc.loihi1()
    placements = [None, nc.Placement.sequential(net, chip, per_core=1),
                  nc.Placement({k: rng.integers(0, chip.n_cores, net.populations[k].n) for k in net.neurons()})]
    results = [_compare(ttfs, x, bits, chip=chip, placement=p) for p in placements]
    for res in results[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(res.ticks, results[0].ticks))
        assert np.array_equal(res.logits, results[0].logits)
        for kind in ("syn_ops", "spikes_out", "neuron_updates_active", "neuron_updates_inactive", "dendrite_accums"):
            assert res.counters[kind] == results[0].counters[kind], kind
    assert results[1].counters["packets"] >= results[0].counters["packets"]


def test_b1_network_is_placed_and_counted_as_any_network(data, trained):
    _, _, x_te, _ = data
    _, _, net = trained
    chip_net = net.with_time_bits(4).to_network()
    assert [type(p).__name__ for p in chip_net.populations.values()] == ["SpikeSource", "B1", "B1", "B1"]
    assert chip_net.populations["hidden2"].start == 2 * 16 and chip_net.populations["readout"].start == 3 * 16
    res = net.with_time_bits(4).run(x_te[:20])
    assert res.counters["packets"] == res.counters["axons_in"] > 0   # routed by the placement
    with pytest.raises(ValueError, match="time_bits"):
        net.to_network()


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="windows\\[1\\]"):
        TTFSNetwork([np.ones((2, 2)), np.ones((1, 2))], [np.zeros(2), np.zeros(1)], [(0, 1), (1.5, 2)])
    with pytest.raises(ValueError, match="time_bits"):
        TTFSNetwork([np.ones((1, 2))], [np.zeros(1)], [(0, 1)], time_bits=0)
    net = TTFSNetwork([np.ones((2, 2)), np.ones((1, 2))], [np.zeros(2), np.zeros(1)], [(0, 1), (1, 1.5)])
    with pytest.raises(ValueError, match="input window"):
        net.run(np.array([[2.0, 0.0]]))
    with pytest.warns(TTFSSaturationWarning, match="exceeded their window"):
        res = net.run(np.array([[1.0, 1.0]]))   # activation 2 > width 0.5
    assert res.saturated == 2 and np.allclose(res.activations[1], 0.5)


# ----------------------------------------------------------------------- (d) fixed-point time
def test_fixed_point_accuracy_against_time_bits(data, trained):
    _, _, x_te, y_te = data
    _, _, net = trained
    float_pred = net.run(x_te).predictions
    acc = {b: float(np.mean(net.with_time_bits(b).run(x_te).predictions == y_te)) for b in range(2, 11)}
    print("accuracy vs time bits:", acc)
    bits = sorted(acc)
    assert all(acc[b] >= acc[a] - 0.015 for a, b in zip(bits, bits[1:]))   # non-decreasing in the large
    assert acc[10] >= acc[2] and acc[10] >= np.mean(float_pred == y_te) - 0.01
    agree = np.mean(net.with_time_bits(14).run(x_te).predictions == float_pred)
    assert agree >= 0.99


# ----------------------------------------------------------------------- (e) sparsity
def test_spikes_per_neuron_below_half(data, trained):
    _, _, x_te, _ = data
    _, _, net = trained
    res = net.run(x_te)
    print(f"spikes per hidden neuron per inference: {res.spikes_per_neuron:.3f} ({res.spikes_per_layer})")
    assert res.spikes_per_neuron < 0.5
    res = net.with_time_bits(8).run(x_te)   # on the chip, which counts the spikes
    assert res.spikes_per_neuron < 0.5
    assert res.counters["spikes_out"] == sum(np.isfinite(t).sum() for t in res.times[1:])


# ----------------------------------------------------------------------- (f) exact gradients
def test_one_ttfs_gradient_step_equals_relu_gradient(data, trained):
    x_tr, y_tr, _, _ = data
    W, b, net = trained
    for Ws, bs, tn in ((W, b, net), init_params(SIZES, 5) + (None,)):
        tn = tn or TTFSNetwork.from_relu(Ws, bs, x_tr)
        xb, yb = x_tr[:100], y_tr[:100]
        l_r, gW_r, gb_r = relu_grads(Ws, bs, xb, yb, ACT_L1)
        l_t, gW_t, gb_t, _ = ttfs_grads(tn.weights, tn.biases, tn.windows, xb, yb, "B1", ACT_L1)
        assert abs(l_r - l_t) < 1e-9
        for a, c in zip(gW_r + gb_r, gW_t + gb_t):
            np.testing.assert_allclose(c, a, rtol=0, atol=1e-9)
    # inference in float time runs the training forward pass
    times, _, _ = ttfs_forward(net.weights, net.biases, net.windows, x_tr[:50])
    res = net.run(x_tr[:50])
    for a, c in zip(times, res.times):
        np.testing.assert_allclose(np.where(np.isfinite(a), a, -1), np.where(np.isfinite(c), c, -1), atol=1e-12)


def test_b1_finetuning_follows_relu_training_trajectory(data):
    x_tr, y_tr, _, _ = data
    W0, b0 = init_params(SIZES, 1)
    _, _, h_relu = train_relu(ReLUTraining(sizes=SIZES, epochs=3, act_l1=ACT_L1, seed=1), x_tr, y_tr, W0, b0)
    net0 = TTFSNetwork.from_relu(W0, b0, x_tr)
    W, b, h_ttfs = finetune(net0.weights, net0.biases, net0.windows, x_tr, y_tr,
                            TTFSFineTune(epochs=3, act_l1=ACT_L1, seed=1))
    net = TTFSNetwork(W, b, h_ttfs["windows"])
    np.testing.assert_allclose(h_ttfs["step_loss"], h_relu["step_loss"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(h_ttfs["loss"], h_relu["loss"], rtol=1e-6)
    assert h_ttfs["loss"][-1] < h_ttfs["loss"][0]
    # window adaptation kept every activation inside its window
    assert net.run(x_tr).saturated == 0


def test_weight_dependent_slope_differs_and_trains_worse(data):
    x_tr, y_tr, _, _ = data
    W0, b0 = init_params((64, 32, 32, 32, 10), 2)
    net0 = TTFSNetwork.from_relu(W0, b0, x_tr)
    start = (net0.weights, net0.biases, net0.windows, x_tr, y_tr)
    _, _, hb = finetune(*start, TTFSFineTune(slope="B1", epochs=2))
    _, _, hw = finetune(*start, TTFSFineTune(slope="weights", epochs=2))
    gb, gw = np.array(hb["grad_norms"]), np.array(hw["grad_norms"])
    assert gb.shape == gw.shape == (2 * int(np.ceil(len(x_tr) / 32)), 4)
    assert np.all(np.isfinite(gw))
    assert hb["loss"][-1] < hw["loss"][-1]
