"""Learning exported to Lava's learning engine gives neurochip's weights: float weights after
1000 steps equal to 1e-9 (observed: identical), for STDP (two-factor), reward-modulated STDP
and OTTT on a readout (three-factor, through neurochip's own Lava neuron processes)."""

import numpy as np
import pytest

from neurochip.rules.loihi_rule import LoihiRule, Product, r_stdp, stdp
from neurochip.rules.rule import BPTT, OTTT, RuleError
from tests.conftest import require_lava

require_lava()

from neurochip.mapping.lava.learning import exportable, ottt_readout_rule, run_ottt_readout, run_plastic, run_plastic_3f  # noqa: E402
from tests.reference.lava_learning import simulate  # noqa: E402
from tests.reference.lava_procs import ottt_readout_twin, third_factors  # noqa: E402

pytestmark = pytest.mark.lava
STEPS = 1000


def close(a, b):
    return np.abs(a - b).max() <= 1e-9 * max(1.0, np.abs(b).max())


@pytest.mark.timeout(120)
@pytest.mark.parametrize("t_epoch", [1, 3])
def test_stdp_weights_equal_lava_after_1000_steps(t_epoch):
    rng = np.random.default_rng(t_epoch)
    W0 = rng.uniform(0, 0.5, (4, 10))
    x = rng.random((STEPS, 10)) < 0.1
    rule = stdp(learning_rate=2**-4, A_plus=1.0, A_minus=-1.0, tau_plus=8.0, tau_minus=5.0, x1_impulse=1.0,
                y1_impulse=1.0, t_epoch=t_epoch)
    ours, _, s_ours = simulate(rule, W0, x, du=1.0, dv=0.1, vth=0.8)
    lava_w, _, s_lava = run_plastic(rule, W0, x, du=1.0, dv=0.1, vth=0.8)
    assert np.array_equal(s_ours, s_lava) and s_ours.sum() > 100
    assert close(ours, lava_w)
    assert np.abs(ours - W0).max() > 0.5  # it did learn


@pytest.mark.timeout(120)
def test_rules_reading_w_and_t_see_the_values_of_before_the_phase():
    """dw and dt both read w and t: each must see them as they were before the learning phase."""
    rng = np.random.default_rng(21)
    W0 = rng.uniform(0, 0.5, (4, 10))
    x = rng.random((STEPS, 10)) < 0.1
    rule = LoihiRule(dw=(Product(2**-4, "y0", ("x1",)), Product(-(2**-6), "u0", ("w",)),
                         Product(2**-3, "u0", ("t",))),
                     dt=(Product(-(2**-4), "x0", ("y1",)), Product(2**-5, "u0", ("w",)),
                         Product(-(2**-2), "u0", ("t",))),
                     x1_impulse=1.0, x1_tau=8.0, y1_impulse=1.0, y1_tau=5.0, t_epoch=2)
    ours, tag, s_ours = simulate(rule, W0, x, du=1.0, dv=0.1, vth=0.8)
    lava_w, lava_tag, s_lava = run_plastic(rule, W0, x, du=1.0, dv=0.1, vth=0.8)
    assert np.array_equal(s_ours, s_lava) and s_ours.sum() > 100
    assert close(ours, lava_w) and close(tag, lava_tag) and np.abs(tag).max() > 0.01


@pytest.mark.timeout(120)
@pytest.mark.parametrize("t_epoch", [1, 4])
def test_reward_modulated_stdp_equals_lava(t_epoch):
    rng = np.random.default_rng(10 + t_epoch)
    W0 = rng.uniform(0, 0.5, (4, 10))
    x = rng.random((STEPS, 10)) < 0.1
    y2 = np.repeat(rng.choice([-1.0, 0.0, 1.0], (STEPS, 1)), 4, axis=1) * 2**-3
    y3 = np.zeros((STEPS, 4))
    rule = r_stdp(learning_rate=2**-4, A_plus=1.0, A_minus=-1.0, tau_plus=8.0, x1_impulse=1.0, t_epoch=t_epoch)
    ours, tag, s_ours = simulate(rule, W0, x, du=1.0, dv=0.1, vth=0.8,
                                 third=third_factors(y2, y3, y1_tau=5.0, y1_impulse=1.0))
    lava_w, lava_tag, s_lava = run_plastic_3f(rule, W0, x, y2, y3, du=1.0, dv=0.1, vth=0.8, y1_tau=5.0,
                                              y1_impulse=1.0)
    assert np.array_equal(s_ours, s_lava) and s_ours.sum() > 100
    assert close(ours, lava_w) and close(tag, lava_tag)
    assert np.abs(ours - W0).max() > 0.1


@pytest.mark.timeout(120)
def test_ottt_readout_equals_lava_and_learns():
    rng = np.random.default_rng(2)
    n_pre, C, T = 30, 10, 10
    protos = rng.random((C, n_pre)) < 0.3  # one spike pattern per class
    labels = np.repeat(rng.integers(0, C, STEPS // T), T)
    x = protos[labels] & (rng.random((STEPS, n_pre)) < 0.8)
    W0 = rng.normal(0, 0.1, (C, n_pre))
    eta = 2**-2
    lava_w = run_ottt_readout(W0, x, labels, eta=eta, gamma=0.05, T=T)
    ours, _, _ = simulate(ottt_readout_rule(eta), W0, x, du=1.0, dv=1.0, vth=1e300,
                          third=ottt_readout_twin(labels, eta, 0.05, T))
    assert close(ours, lava_w)
    acc = lambda W: np.mean(np.argmax(protos @ W.T, axis=1) == np.arange(C))  # noqa: E731
    assert acc(ours) > acc(W0) and acc(ours) >= 0.9


def test_rules_lava_cannot_express_say_why():
    exportable(OTTT(), hidden_layers=0)
    exportable(OTTT(feedback="random"), hidden_layers=2)
    with pytest.raises(RuleError, match="transposed weights.*feedback='random'"):
        exportable(OTTT(), hidden_layers=1)
    with pytest.raises(RuleError, match="BPTT"):
        exportable(BPTT())
    with pytest.raises(RuleError, match="third-factor"):
        run_plastic(r_stdp(), np.zeros((2, 3)), np.zeros((5, 3), bool))
