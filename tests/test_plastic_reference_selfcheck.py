"""The twin of the chip's learning engines (tests/reference/plastic.py) checked on its own:
float OTTT_A is offline OTTT (tests/reference/learning.py), fixed point stays on the grid and
is reproducible."""
from itertools import pairwise

import numpy as np
import pytest

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
