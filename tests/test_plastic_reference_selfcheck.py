"""The twin of the chip's learning engines (tests/reference/plastic.py) checked on its own:
float OTTT_A is offline OTTT (tests/reference/learning.py), the float event rules are the old
layered engine's (tests/reference/layered_event.py), fixed point stays on the grid and is
reproducible."""
import math
from itertools import pairwise

import numpy as np
import pytest

from neurochip.model.fixed import dyadic
from tests.reference import layered_event as old_engine
from tests.reference import learning as ref
from tests.reference import plastic

ALPHA = 4.0


def test_loss_grad_is_the_reference_step_loss():
    rng = np.random.default_rng(1)
    o, gamma = rng.normal(size=5), 0.3
    e, loss = plastic.loss_grad(list(o), 2, gamma)
    np.testing.assert_allclose(e, ref.step_loss_grad(o, 2, gamma), rtol=1e-13, atol=1e-15)
    assert loss == pytest.approx(ref.step_loss(o, 2, gamma), rel=1e-13)


@pytest.mark.parametrize("sizes", [[4, 6, 3], [5, 6, 4, 3], [3, 5, 5, 4, 2]])
@pytest.mark.parametrize("seed", range(4))
def test_float_ottt_a_is_offline_ottt(sizes, seed):
    rng = np.random.default_rng(seed)
    x, y, Ws = ref.random_problem(rng, sizes, T=7)
    dv, theta, gamma, eta = [0.5, 0.25, 0.125, 0.0][seed], 0.6, 0.2, 0.7
    want = [-eta * g for g in ref.ottt_grad(x, y, Ws, 1 - dv, theta, ALPHA, gamma)]
    out = plastic.learn([x], [y], Ws, fixed=False, rule="A", eta=eta, gamma=gamma, alpha=ALPHA, vth=theta, dv=dv)
    tol = 1e-12 * max(np.abs(w).max() for w in want) + 4 * np.finfo(float).eps * max(np.abs(w).max() for w in Ws)
    for got, w0, w in zip(out["W"], Ws, want):
        assert np.abs((got - w0) - w).max() <= tol
    assert out["losses"][0] == pytest.approx(ref.loss(x, y, Ws, 1 - dv, theta, gamma), rel=1e-12)
    assert out["counts"]["weight_writes"] > 0


def fixed_problem(rng, sizes, T=6, samples=3):
    xs = [(rng.random((T, sizes[0])) < 0.5).astype(np.int64) for _ in range(samples)]
    ys = [int(rng.integers(sizes[-1])) for _ in range(samples)]
    W = [2 * rng.integers(-60, 100, size=(b, a)) for a, b in pairwise(sizes)]
    R = {d: 2 * rng.integers(-40, 40, size=(sizes[d], sizes[d])) for d in range(1, len(sizes) - 1)}
    B = {m: rng.normal(0, 0.5, size=(sizes[m], sizes[m + 1])) for m in range(1, len(sizes) - 1)}
    return xs, ys, W, R, B


@pytest.mark.parametrize("rule", ["O", "A"])
@pytest.mark.parametrize("feedback", ["mirror", "random"])
def test_fixed_point_stays_on_grid_and_is_reproducible(rule, feedback):
    sizes = [5, 7, 6, 3]
    xs, ys, W, R, B = fixed_problem(np.random.default_rng(3), sizes)
    kw = {"fixed": True, "rule": rule, "feedback": feedback, "eta": 0.5, "vth": 100, "dv": 700, "weight_exp": 0,
          "seed": 11, "samples_seen": 2}
    a = plastic.learn(xs, ys, W, R, B, **kw)
    b = plastic.learn(xs, ys, W, R, B, **kw)
    for got, again, w0 in zip(a["W"] + list(a["R"].values()), b["W"] + list(b["R"].values()),
                              W + list(R.values())):
        assert got.dtype == np.int64 and np.array_equal(got, again)
        assert np.all(got % 2 == 0) and got.min() >= -256 and got.max() <= 254
    assert any(not np.array_equal(g, w0) for g, w0 in zip(a["W"], W))
    assert a["losses"] == b["losses"] and a["samples_seen"] == 5
    c = a["counts"]
    assert c["weight_writes"] > 0 and c["graded_spikes"] > 0 and c["trace_updates_per_sender"].sum() > 0
    assert (c["mirror_writes"] > 0) == (feedback == "mirror")
    assert c["surrogate_evals"] == 3 * 6 * (7 + 6)
    assert (c["tag_updates"] > 0) == (rule == "A")


def test_synapse_ids_follow_the_network_order():
    W_ids, R_ids = plastic.synapse_ids([2, 3, 2, 1], recurrent_depths=[2])
    assert [w.shape for w in W_ids] == [(3, 2), (2, 3), (1, 2)] and R_ids[2].shape == (2, 2)
    order = np.concatenate([W_ids[0].ravel(), W_ids[1].ravel(), R_ids[2].ravel(), W_ids[2].ravel()])
    assert np.array_equal(order, np.arange(6 + 6 + 4 + 2))


# -- event-driven rules (learn_event) ------------------------------------------------------------

def layered_event(sizes, W, xs, ys, kind, *, theta, dv, **rule_kw):
    """The old layered engine's event rules (tests/reference/layered_event.py) on the same float
    network: (weights, losses, thresholds, counts)."""
    return old_engine.learn(sizes, W, xs, ys, kind, theta=theta, dv=dv, **rule_kw)


@pytest.mark.parametrize("kind", ["MPD-ED", "STD-ED"])
@pytest.mark.parametrize("sizes", [[4, 6, 3], [5, 7, 4, 3], [3, 6, 5, 4, 2]])
@pytest.mark.parametrize("seed", range(3))
def test_float_event_twin_is_the_layered_engine(kind, sizes, seed):
    """The spec's float event rules are the old engine's operational definitions
    (tests/reference/layered_event.py) on feed-forward networks, theta = 1, reset by subtraction."""
    rng = np.random.default_rng(100 * seed + len(sizes))
    T, samples = 5 + seed, 1 + seed
    W = [rng.normal(0.3, 2.0 / np.sqrt(a), size=(b, a)) for a, b in pairwise(sizes)]
    xs = [(rng.random((T, sizes[0])) < 0.6).astype(np.int64) for _ in range(samples)]
    ys = [int(rng.integers(sizes[-1])) for _ in range(samples)]
    dv = 0.0 if kind == "STD-ED" else [0.25, 0.125, 0.5][seed]
    rule = {"eta": 0.3, "gamma": [0.0, 0.3, 1.0][seed], "kappa": [0.002, 0.05, 0.1][seed], "rate": 0.1,
            "s_min": 0.2, "readout_scale": 0.7, "thr_lo": 0.5, "thr_hi": 1.5}
    want_W, want_losses, want_thr, counts = layered_event(sizes, W, xs, ys, kind, theta=1.0, dv=dv, **rule)
    got = plastic.learn_event(xs, ys, W, fixed=False, kind=kind, vth=1.0, dv=dv, **rule)
    assert got["counts"]["weight_writes"] > 0 and any(not np.array_equal(g, w) for g, w in zip(got["W"], W))
    for g, w in zip(got["W"], want_W):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got["losses"], want_losses, rtol=1e-9)
    np.testing.assert_allclose(got["thresholds"], want_thr, rtol=1e-12)
    assert got["samples_seen"] == samples
    c = got["counts"]
    assert c["surrogate_evals"] == c["spikes"] == counts["surrogate_evals"] == counts["spikes_out"]
    # the same synapses are written, but for round-off: the old engine sums (T - t) / T per
    # spike, so where the twin's o_k is exactly its target (e_k = 0: no write) it may write ~1e-16
    assert c["weight_writes"] <= counts["weight_writes"]
    for g, w, w0 in zip(got["W"], want_W, W):
        assert np.array_equal(g != w0, np.abs(w - w0) > 1e-12)


@pytest.mark.parametrize("kind", ["MPD-ED", "STD-ED"])
def test_float_event_twin_is_the_layered_engine_at_any_theta(kind):
    """phi is in threshold units in both (sg((vpre - thr) / theta), 1 / max(slope / theta, s_min)),
    so theta != 1 agrees too."""
    sizes, theta = [5, 7, 4], 0.6
    rng = np.random.default_rng(7)
    W = [rng.normal(0.3 * theta, 2.0 * theta / np.sqrt(a), size=(b, a)) for a, b in pairwise(sizes)]
    xs = [(rng.random((6, 5)) < 0.6).astype(np.int64) for _ in range(2)]
    ys = [1, 3]
    rule = {"eta": 0.3, "kappa": 0.05, "s_min": 0.2}
    dv = 0.0 if kind == "STD-ED" else 0.25
    want_W, want_losses, want_thr, _ = layered_event(sizes, W, xs, ys, kind, theta=theta, dv=dv, **rule)
    got = plastic.learn_event(xs, ys, W, fixed=False, kind=kind, vth=theta, dv=dv, **rule)
    assert got["counts"]["weight_writes"] > 0
    for g, w in zip(got["W"], want_W):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got["losses"], want_losses, rtol=1e-9)
    np.testing.assert_allclose(got["thresholds"], want_thr, rtol=1e-12)


@pytest.mark.parametrize("kind", ["MPD-ED", "STD-ED"])
@pytest.mark.parametrize("fixed", [False, True])
def test_event_counts_in_closed_form(kind, fixed):
    """Inputs always on; hidden neurons 0, 1 and readout 0 spike at every step, hidden 2 and
    readout 1 never. Per sample of T steps (N = 5 neurons, C = 2):
    threshold updates T N; spikes = surrogate evaluations 3 T; tag updates 2 T (two inputs
    into each of two spiking hidden neurons) + T (two spiking hidden into readout 0; hidden
    2's trace is 0) = 6 T; error ops: 2 readout + 2 hidden with c != 0 + 1 payload (readout
    0; readout 1 has c = 0) + 3 feedback synapses = 8; weight reads 3; writes: the 4 input
    synapses of hidden 0, 1 and the 2 synapses hidden 0, 1 -> readout 0 (2 of them mirrored);
    the synapses of silent neurons (into or out of) keep their weights."""
    T, S = 4, 2
    W0 = np.array([[0.8, 0.8], [0.7, 0.9], [-0.5, -0.5]])
    W1 = np.array([[0.6, 0.6, 0.3], [-0.4, -0.4, 0.9]])
    dv = 0.0 if kind == "STD-ED" else 0.5
    if fixed:   # theta = 4096, one mantissa unit = 1/64 of theta
        W0, W1, vth, dv = (2 * np.rint(W0 * 32)).astype(np.int64), (2 * np.rint(W1 * 32)).astype(np.int64), 64, \
            int(dv * 4096)
    else:
        vth = 1.0
    xs, ys = [np.ones((T, 2), np.int64)] * S, [0, 1]
    got = plastic.learn_event(xs, ys, [W0, W1], fixed=fixed, kind=kind, eta=0.02, vth=vth, dv=dv, seed=5)
    c = got["counts"]
    assert list(c["spikes_per_depth"]) == [2 * T * S, 2 * T * S, T * S]
    assert c["threshold_updates"] == T * 5 * S
    assert c["spikes"] == c["surrogate_evals"] == 3 * T * S
    assert c["tag_updates"] == 6 * T * S
    assert c["error_ops"] == 5 * S and c["feedback_syn_ops"] == 3 * S and c["payloads"] == S
    assert c["weight_writes"] == 6 * S and c["mirror_writes"] == 2 * S
    new0, new1 = got["W"]
    assert np.array_equal(new0[2], W0[2]) and np.array_equal(new1[1], W1[1]) and new1[0, 2] == W1[0, 2]
    if not fixed:   # float: every write changes the weight
        assert np.all(new0[:2] != W0[:2]) and np.all(new1[0, :2] != W1[0, :2])
    thr = got["thresholds"]
    theta = 4096 if fixed else 1.0
    assert np.all(thr[[0, 1, 3]] > theta) and np.all(thr[[2, 4]] < theta)
    # thresholds persist: continuing from them is learning both samples in one call
    first = plastic.learn_event(xs[:1], ys[:1], [W0, W1], fixed=fixed, kind=kind, eta=0.02, vth=vth, dv=dv, seed=5)
    second = plastic.learn_event(xs[1:], ys[1:], first["W"], fixed=fixed, kind=kind, eta=0.02, vth=vth, dv=dv,
                                 seed=5, samples_seen=first["samples_seen"], thresholds=first["thresholds"])
    assert all(np.array_equal(a, b) for a, b in zip(second["W"], got["W"]))
    assert np.array_equal(second["thresholds"], got["thresholds"])
    assert first["losses"] + second["losses"] == got["losses"]


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
@pytest.mark.parametrize("samples_seen", [0, 3])
def test_fixed_std_ed_by_hand(seed, samples_seen):
    """input -> hidden -> readout, one neuron each, T = 2, input on at both steps.
    vth = 64: theta = 4096; dv = 0: lam = 1, F_t = 0, I_tr = 1; sh = 12 - 6 = 6; unit = 2**6 / theta
    = 1/64; s_min = 0.5: phi_max = 2, F_phi = floor(log2(255 / 2)) = 6, LUT_E[k] = rint(64 /
    max(k / 64, 0.5)); F_E = 12; psi = 1/2: c_p = 1/128, c_d = 1/64, c_w = eta psi / (unit 2**18)
    = eta / 8192 = 1/16384 (eta = 0.5). kappa theta = 16, rate = 1/4: a spike raises thr by 12.

    Readout (w = 128, u = 8192 per input spike): t = 0: vpre 8192 > 4096, v = 4096, phi
    LUT_E[8192 >> 6 = 128] = 32, thr 4108; t = 1: vpre 12288 > 4108, v = 8180, phi LUT_E[(12288
    - 4096) >> 6 = 128] = 32, thr 4120. G = 64, c = 2 + 1 = 3; hidden traces 1, 2: tag = 32 + 64
    = 96. Hidden (w = 100, u = 6400): t = 0: 6400 > 4096, v = 2304, phi LUT_E[100] = rint(40.96)
    = 41; t = 1: 8704 > 4108, phi LUT_E[(8704 - 2304) >> 6 = 100] = 41; input traces 1, 2: tag =
    41 + 82 = 123; thr 4120.
    Epoch: o = 0.5 * 3 / 2 = 0.75, gamma = 1, C = 1: e = 2 (o - 1) = -0.5, loss 0.0625;
    D_out = -0.5 * 0.5 * 4096 = -1024; E = c_p D G = -512; Gin = 128 * -512; D_hid = Gin / 64 =
    -1024. Writes at n = n0 + T + 2L = n0 + 6: readout synapse -c_w D tag = 1024 * 96 / 16384 =
    6 (exactly 3 LSBs); hidden synapse 1024 * 123 / 16384 = 7.6875 = 2 * 3.84375: 3 or 4 LSBs,
    drawn at (seed, WEIGHT, synapse 0, n)."""
    from neurochip.chip.plastic import WEIGHT
    from neurochip.model.fixed import uniform_at
    out = plastic.learn_event([np.ones((2, 1), np.int64)], [0], [np.array([[100]]), np.array([[128]])], fixed=True,
                              kind="STD-ED", eta=0.5, gamma=1.0, s_min=0.5, readout_scale=0.5, kappa=1 / 256,
                              rate=0.25, vth=64, dv=0, seed=seed, samples_seen=samples_seen)
    n = samples_seen * (2 + 2 * 2 + 1) + 6
    up = uniform_at(seed, WEIGHT, 0, n) < 0.84375
    assert out["W"][0][0, 0] == 100 + 2 * (3 + up)
    assert out["W"][1][0, 0] == 128 + 6
    assert out["losses"] == [0.0625]
    assert list(out["thresholds"]) == [4120, 4120] and out["thresholds"].dtype == np.int64
    c = out["counts"]
    assert (c["spikes"], c["surrogate_evals"], c["threshold_updates"], c["tag_updates"]) == (4, 4, 4, 4)
    assert (c["error_ops"], c["feedback_syn_ops"], c["payloads"], c["weight_writes"], c["mirror_writes"]) == (3, 1, 1, 2, 1)


def test_fixed_event_constants():
    """The constants of the hand-checked case, and MPD_ED's: F_phi = floor(log2(255 / (alpha / 4))),
    LUT_E the OTTT surrogate LUT at F_phi fraction bits, threshold bounds ceil / floor."""
    k = plastic.event_constants(True, "STD-ED", T=2, eta=0.5, alpha=4.0, s_min=0.5, thr_lo=0.05, thr_hi=4.0,
                                vth=64, dv=0)
    assert (k.theta, k.impulse, k.lut_shift, k.f_phi, k.error_scale, k.error_max) == (4096, 1, 6, 6, 4096, 32767)
    assert (k.c_p, k.c_d, k.c_w, k.unit) == (1 / 128, 1 / 64, 1 / 16384, 1 / 64)
    assert (k.lut[0], k.lut[32], k.lut[100], k.lut[128], len(k.lut)) == (128, 128, 41, 32, 513)
    assert (k.thr_min, k.thr_max) == (205, 16384)
    m = plastic.event_constants(True, "MPD-ED", T=9, eta=0.5, alpha=4.0, s_min=0.5, thr_lo=0.05, thr_hi=4.0,
                                vth=100, dv=700)
    o = plastic.constants(True, eta=0.5, alpha=4.0, vth=100, dv=700)
    # alpha = 4: phi_max = sg(0) = 1, F_phi = 7 = OTTT's F_s, so LUT_E is the OTTT LUT itself
    assert m.f_phi == 7 and m.lut[256] == 128 and np.array_equal(m.lut, o.lut)
    assert m.c_p == 1 / 128 and m.error_scale == 2.0**12 and m.impulse == o.impulse and m.c_d == dyadic(o.unit)
    assert m.c_w == dyadic(0.5 / (o.unit * 2.0 ** (12 + 7 + math.log2(o.impulse))))
    assert (m.thr_min, m.thr_max) == (320, 25600)


@pytest.mark.parametrize("kind", ["MPD-ED", "STD-ED"])
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_fixed_event_twin_stays_on_grid_with_recurrence(kind, reset):
    sizes = [5, 7, 6, 3]
    xs, ys, W, R, _ = fixed_problem(np.random.default_rng(4), sizes)
    kw = {"fixed": True, "kind": kind, "eta": 0.5, "vth": 100, "dv": 0 if kind == "STD-ED" else 700,
          "reset": reset, "kappa": 0.01, "seed": 11, "samples_seen": 2}
    a = plastic.learn_event(xs, ys, W, R, **kw)
    b = plastic.learn_event(xs, ys, W, R, **kw)
    for got, again, w0 in zip(a["W"] + list(a["R"].values()), b["W"] + list(b["R"].values()),
                              W + list(R.values())):
        assert got.dtype == np.int64 and np.array_equal(got, again)
        assert np.all(got % 2 == 0) and got.min() >= -256 and got.max() <= 254
    assert any(not np.array_equal(a["R"][d], R[d]) for d in R)
    assert a["losses"] == b["losses"] and a["samples_seen"] == 5
    thr = a["thresholds"]
    assert thr.dtype == np.int64 and thr.shape == (16,) and np.array_equal(thr, b["thresholds"])
    assert thr.min() >= math.ceil(0.05 * 6400) and thr.max() <= 4 * 6400 and np.any(thr != 6400)
    c = a["counts"]
    assert c["threshold_updates"] == 3 * 6 * 16 and c["surrogate_evals"] == c["spikes"] > 0
    assert 0 < c["mirror_writes"] < c["weight_writes"] and c["feedback_syn_ops"] > 0
    assert c["error_ops"] >= 3 * 3 + c["payloads"]
