"""Fixed-point learning against Lava: `tests.reference.lava_learning.simulate_fixed` equals lava-nc 0.10's
`LearningDense` in `Loihi2SimCfg(select_tag="fixed_pt")` bit for bit (final integer weights, tags
and every post spike), per rng_seed, after 1000 steps. Bit-exact rather than a distribution match
because Lava's random streams are numpy `default_rng` generators with known seeds (rng_seed ..
rng_seed + 3 for the traces, 2 for the weights) and a fixed number of scalar draws per step; the
emulation replays them. The checks that the comparison can fail: a learning rate of half the size,
or the trace streams of another seed, give weights that differ from Lava's."""

import numpy as np
import pytest

from neurochip.rules.loihi_rule import LoihiRule, Product, r_stdp, stdp
from neurochip.rules.rule import RuleError
from tests.conftest import require_lava
from tests.reference.lava_learning import lava_scaling, simulate_fixed

require_lava()

from neurochip.mapping.lava.learning import run_plastic  # noqa: E402

pytestmark = pytest.mark.lava
STEPS = 1000
LIF = {"du": 3000, "dv": 200, "vth": 150}


def network(seed):
    rng = np.random.default_rng(100 + seed)
    W0 = rng.integers(-40, 80, (4, 10))  # mixed signs: Lava drops the LSB once, at the first step
    x = rng.random((STEPS, 10)) < 0.1
    return W0, x


def stdp_rule(lr=2**-3, t_epoch=1):
    # fractional impulses exercise the impulse rounding; lr * A gives m * 2**e with |m| < 8
    return stdp(learning_rate=lr, A_plus=1.0, A_minus=-1.5, tau_plus=8.0, tau_minus=5.0, x1_impulse=10.3,
                y1_impulse=12.7, t_epoch=t_epoch)


def run_lava_fixed(rule, W, x, *, seed, bias_mant=0, **kw):
    return run_plastic(rule, W, x, tag="fixed_pt", seed=seed, bias=bias_mant, **kw)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("seed,t_epoch", [(0, 1), (1, 1), (2, 1), (3, 3), (4, 3)])
def test_stdp_fixed_point_equals_lava_bit_for_bit(seed, t_epoch):
    W0, x = network(seed)
    rule = stdp_rule(t_epoch=t_epoch)
    lava_w, lava_tag, s_lava = run_lava_fixed(rule, W0, x, seed=seed, **LIF)
    ours, tag, s_ours = simulate_fixed(rule, W0, x, seed=seed, **LIF)
    assert s_lava.sum() > 100 and np.array_equal(s_ours, s_lava)
    assert np.array_equal(ours, lava_w) and np.array_equal(tag, lava_tag)
    dw = lava_w - (W0 >> 1 << 1)
    assert np.abs(dw).max() >= 10 and (dw > 0).any() and (dw < 0).any()  # it learned, both ways
    assert np.abs(lava_w).max() < 250  # not pinned at the 8-bit limits
    # the comparison can fail: half the learning rate, or another seed's trace streams
    half, _, _ = simulate_fixed(stdp_rule(lr=2**-4, t_epoch=t_epoch), W0, x, seed=seed, **LIF)
    assert np.abs(half - lava_w).sum() > 50
    other, _, _ = simulate_fixed(rule, W0, x, seed=seed + 1, **LIF)
    assert not np.array_equal(other, lava_w)


VARIANTS = {
    # excitatory projection with 6-bit weights (truncated once), weight_exp and a scaled bias
    "excitatory": (stdp_rule(t_epoch=3),
                   {"du": 4095, "dv": 300, "vth": 300, "sign_mode": "excitatory", "num_weight_bits": 6,
                    "weight_exp": 1, "bias_mant": 3, "bias_exp": 2}, abs),
    "inhibitory": (stdp_rule(),
                   {"du": 4095, "dv": 300, "vth": 10, "sign_mode": "inhibitory", "bias_mant": 200, "bias_exp": 3},
                   lambda W: -abs(W)),
    # two-trace products (right shift by 3), u0 with w and t factors, a tag rule, tau = 0 on y3
    "multi-factor": (LoihiRule(dw=(Product(-2**-4, "x0", ("y1",)), Product(2**-3, "y0", ("x1", "y2")),
                                   Product(-2**-5, "u0", ("w",))),
                               dt=(Product(3 * 2**-2, "x0", ("y1",)), Product(-1.0, "y0", ("x2",)),
                                   Product(-2**-3, "u0", ("t",))),
                               x1_impulse=20, x1_tau=6, x2_impulse=5.5, x2_tau=3, y1_impulse=15.25, y1_tau=4,
                               y2_impulse=30, y2_tau=12, y3_impulse=2, y3_tau=0, t_epoch=2), LIF, lambda W: W),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", VARIANTS)
def test_fixed_point_variants_equal_lava(name):
    rule, kw, sign = VARIANTS[name]
    W0, x = network(7)
    W0 = sign(W0)
    lava_w, lava_tag, s_lava = run_lava_fixed(rule, W0, x, seed=11, **kw)
    ours, tag, s_ours = simulate_fixed(rule, W0, x, seed=11, **kw)
    assert s_lava.sum() > 50 and np.array_equal(s_ours, s_lava)
    assert np.array_equal(ours, lava_w) and np.array_equal(tag, lava_tag)
    assert np.abs(ours - W0).max() >= 10
    if rule.dt:
        assert np.abs(tag).max() >= 10


def test_fixed_point_limits_say_why():
    assert lava_scaling(-3 * 2**-4) == (-3, -4)
    assert lava_scaling(12) == (6, 1) and lava_scaling(16) == (4, 2)  # Lava halves even mantissas above 7
    with pytest.raises(RuleError, match="-8 <= m < 8"):
        lava_scaling(9 * 2**-5)
    with pytest.raises(RuleError, match="two-factor"):
        simulate_fixed(r_stdp(), np.zeros((2, 3), int), np.zeros((5, 3), bool), du=0, dv=0, vth=1)
    with pytest.raises(RuleError, match="integers"):
        simulate_fixed(stdp(), np.full((2, 3), 0.5), np.zeros((5, 3), bool), du=0, dv=0, vth=1)
