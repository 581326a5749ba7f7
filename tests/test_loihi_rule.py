"""Loihi's learning engine as data (neurochip.rules.loihi_rule): analytic pair checks of the
float emulation (tests/reference/lava_learning.py), and the rule format. Against Lava itself:
tests/test_lava_learning.py."""
import math

import numpy as np
import pytest

from neurochip.rules.loihi_rule import LoihiRule, Product, r_stdp, stdp
from neurochip.rules.rule import RuleError
from tests.reference.lava_learning import simulate


def pair(t_pre, t_post, steps=30, **kw):
    """The learned weight of a silent synapse (w = 0) from input 0 spiking at t_pre onto a
    neuron that a second, strong input makes fire exactly at t_post (0-based steps)."""
    x = np.zeros((steps, 2), bool)
    x[t_pre, 0] = True
    x[t_post - 1, 1] = True  # arrives one step later (the Dense delay) and fires the neuron
    W = np.array([[0.0, 10.0]])
    rule = stdp(learning_rate=1.0, A_plus=2**-2, A_minus=-(2**-3), tau_plus=4.0, tau_minus=6.0,
                x1_impulse=1.0, y1_impulse=1.0, **kw)
    W1, _, spikes = simulate(rule, W, x, du=1.0, dv=0.0, vth=5.0)
    assert np.flatnonzero(spikes[:, 0]).tolist() == [t_post]
    return W1[0, 0]


@pytest.mark.parametrize("t_pre, t_post", [(3, 7), (5, 6), (2, 12)])
def test_pre_before_post_potentiates_by_the_trace(t_pre, t_post):
    # steps are 1-based in the engine; the pre trace seen at the post spike: exp(-(dt)/tau_plus)
    assert math.isclose(pair(t_pre, t_post), 2**-2 * math.exp(-(t_post - t_pre) / 4.0), rel_tol=1e-12)


@pytest.mark.parametrize("t_pre, t_post", [(9, 4), (12, 3)])
def test_post_before_pre_depresses_by_the_trace(t_pre, t_post):
    assert math.isclose(pair(t_pre, t_post), -(2**-3) * math.exp(-(t_pre - t_post) / 6.0), rel_tol=1e-12)


def test_same_step_pairing_counts_both_terms():
    assert math.isclose(pair(6, 6), 2**-2 - 2**-3, rel_tol=1e-12)


def test_silence_learns_nothing():
    W = np.full((3, 4), 0.5)
    W1, tag, s = simulate(stdp(), W, np.zeros((50, 4), bool), du=1.0, dv=0.1, vth=1.0)
    assert np.array_equal(W1, W) and not tag.any() and not s.any()


def test_rule_strings_are_lavas_and_coefficients_are_loihi_numbers():
    assert stdp(learning_rate=2**-4, A_plus=1.0, A_minus=-1.0).string() == \
        "(-1) * 2 ^ -4 * x0 * y1 + (1) * 2 ^ -4 * y0 * x1"
    rs = r_stdp(learning_rate=2**-4, A_plus=1.0, A_minus=-1.0)
    assert rs.third_factor and rs.string() == "(1) * u0 * t * y2"
    assert Product(3 * 2**-5, "x0", ("y1",)).string() == "(3) * 2 ^ -5 * x0 * y1"
    with pytest.raises(RuleError, match="m \\* 2\\*\\*e"):
        Product(0.3, "x0", ("y1",))
    with pytest.raises(RuleError, match="dependency"):
        Product(1.0, "z0")
    with pytest.raises(RuleError, match="t_epoch"):
        LoihiRule(dw=(), t_epoch=0)
