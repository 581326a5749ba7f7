"""Learning (neurochip.rules) on the chip's plastic cores: OTTT, the event-driven rules and
the BPTT-SG baseline, against the float64 references of tests/reference/learning.py, against
each other, and on digits."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import neurochip as nc
from neurochip.chip.plastic import PlasticityError
from neurochip.rules.learner import W_MAX, W_MIN, Format, Learner
from neurochip.rules.rule import BPTT, OTTT, EventDriven, RuleError
from neurochip.studies.datasets import digits
from tests.reference import learning as ref

ALPHA = 4.0


@st.composite
def problems(draw):
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    sizes = [draw(st.integers(1, 5)) for _ in range(draw(st.integers(3, 5)))]
    T = draw(st.integers(1, 8))
    x, y, Ws = ref.random_problem(rng, sizes, T)
    lam = draw(st.sampled_from([0.5, 0.8, 0.9, 1.0]))
    theta = draw(st.floats(0.3, 1.2))
    gamma = draw(st.floats(0.0, 1.0))
    return sizes, x, y, Ws, lam, theta, gamma


def make(sizes, rule, **kw):
    return Learner(sizes, rule, **kw)


def changes(rule, sizes, x, y, Ws, lam, theta):
    learner = make(sizes, rule, lam=lam, theta=theta, weights=Ws)
    learner.learn_sample(x, y)
    return [w1 - w0 for w1, w0 in zip(learner.weights, Ws)]


def assert_same(got, want, Ws, rel=1e-12):
    """Weight changes equal to `rel` of the largest change, plus the float64 rounding of
    taking the difference of two weights (a few ulp of the largest weight)."""
    tol = rel * max(np.abs(w).max() for w in want) + 4 * np.finfo(np.float64).eps * max(np.abs(w).max() for w in Ws)
    for g, w in zip(got, want):
        assert np.abs(g - w).max() <= tol


@settings(max_examples=60, deadline=None)
@given(problems())
def test_ottt_float64_equals_offline_reference(problem):
    """OTTT_A on the chip is offline OTTT (OTTT_O there writes hidden layers late, as a
    pipeline must: tests/test_plastic.py checks it against its twin)."""
    sizes, x, y, Ws, lam, theta, gamma = problem
    eta = 0.1
    want_a = [-eta * g for g in ref.ottt_grad(x, y, Ws, lam, theta, ALPHA, gamma)]
    assert_same(changes(OTTT(mode="A", eta=eta, gamma=gamma), sizes, x, y, Ws, lam, theta), want_a, Ws)


@settings(max_examples=60, deadline=None)
@given(problems(), st.sampled_from(["detached", "full"]))
def test_bptt_equals_forward_mode_gradients(problem, reset_grad):
    sizes, x, y, Ws, lam, theta, gamma = problem
    eta = 0.1
    want = [-eta * g for g in ref.rtrl_grad(x, y, Ws, lam, theta, ALPHA, gamma, reset_grad)]
    assert_same(changes(BPTT(reset_grad, eta=eta, gamma=gamma), sizes, x, y, Ws, lam, theta), want, Ws)


@settings(max_examples=40, deadline=None)
@given(problems())
def test_ottt_with_one_step_is_bptt(problem):
    sizes, x, y, Ws, lam, theta, gamma = problem
    x = x[:1]
    ottt = changes(OTTT(gamma=gamma), sizes, x, y, Ws, lam, theta)
    for reset_grad in ("detached", "full"):
        assert_same(ottt, changes(BPTT(reset_grad, gamma=gamma), sizes, x, y, Ws, lam, theta), Ws)


def test_reference_gradients_are_not_trivially_zero():
    rng = np.random.default_rng(3)
    x, y, Ws = ref.random_problem(rng, [6, 8, 8, 4], 6)
    grads = ref.bptt_grad(x, y, Ws, 0.9, 0.7, ALPHA, 0.1, "full")
    assert all(np.abs(g).max() > 1e-6 for g in grads)
    assert not np.allclose(grads[0], ref.bptt_grad(x, y, Ws, 0.9, 0.7, ALPHA, 0.1, "detached")[0])


@pytest.mark.parametrize("fixed", [True, False])
def test_learned_network_runs_on_the_chip_as_it_learned(fixed):
    """The learner's readout (its own cores) equals a fresh simulator of `to_network`, and
    `from_network` takes that network back with the same weights."""
    x_tr, y_tr, x_te, _ = digits(12)
    learner = Learner([64, 24, 16, 10], OTTT(), fixed=fixed, seed=1)
    learner.learn_samples(x_tr[:20], y_tr[:20])
    net = learner.to_network()
    sim = nc.Simulator(net)
    scale = learner.sim.plastic.theta if fixed else 1.0
    o = learner.readout(x_te[:5])
    for sample, want in zip(x_te[:5], o):
        sim.reset()
        res = sim.run(12 + 3, inputs={"in": np.vstack([sample, np.zeros((3, 64), bool)])}, record=["v"])
        assert np.array_equal(res.v["out"][3:] / scale, want)
        assert np.abs(want).max() > 0
    back = Learner.from_network(net, OTTT())
    for a, b in zip(back.weights, learner.weights):
        assert np.array_equal(a, b)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 1000), st.sampled_from(["ottt_a", "ottt_o", "bptt", "mpd", "std"]))
def test_fixed_point_weights_stay_on_the_chip_grid(seed, which):
    rule = {"ottt_a": OTTT(eta=0.5), "ottt_o": OTTT(mode="O", eta=0.5), "bptt": BPTT(eta=0.5),
            "mpd": EventDriven("MPD-ED", eta=0.5), "std": EventDriven("STD-ED", eta=0.5)}[which]
    rng = np.random.default_rng(seed)
    learner = make([8, 6, 3], rule, fixed=True, seed=seed, fmt=Format(vth=16))
    for _ in range(5):
        learner.learn_sample(rng.random((6, 8)) < 0.5, int(rng.integers(3)))
    for w in learner.int_weights:
        assert w.min() >= W_MIN and w.max() <= W_MAX and np.all(w % 2 == 0)


def test_stochastic_rounding_is_seeded_and_unbiased():
    x_tr, y_tr, _, _ = digits(8)
    base = Learner([64, 16, 10], OTTT(eta=0.002), fixed=True, seed=0)

    def run(seed):
        learner = Learner([64, 16, 10], OTTT(eta=0.002), fixed=True, seed=seed, weights=base.weights)
        learner.learn_samples(x_tr[:10], y_tr[:10])
        return np.concatenate([w.ravel() for w in learner.weights])

    assert np.array_equal(run(5), run(5))
    assert not np.array_equal(run(5), run(6))
    # the mean over seeds of the rounded change follows the float change (eta far below one LSB)
    w0 = np.concatenate([w.ravel() for w in base.weights])
    seeds = 200
    mean = np.mean([run(s) for s in range(seeds)], axis=0) - w0
    flt = Learner([64, 16, 10], OTTT(eta=0.002), lam=base.sim.plastic.lam, weights=base.weights)
    flt.learn_samples(x_tr[:10], y_tr[:10])
    want = np.concatenate([w.ravel() for w in flt.weights]) - w0
    big = np.abs(want) > 4 * base.unit * 2 / np.sqrt(seeds)
    assert big.sum() > 20
    assert np.corrcoef(mean[big], want[big])[0, 1] > 0.9


@pytest.mark.parametrize("rule", [OTTT(), OTTT(mode="O"), BPTT("full"), EventDriven("MPD-ED"),
                                  EventDriven("STD-ED")], ids=lambda r: r.label)
def test_checkpoint_mid_epoch_resumes_bit_identically(rule, tmp_path):
    x_tr, y_tr, _, _ = digits(8)
    x, y = x_tr[:60], y_tr[:60]
    straight = make([64, 20, 10], rule, fixed=True, seed=2)
    straight.fit(x, y, epochs=2)
    ckpt = tmp_path / "run.npz"
    first = make([64, 20, 10], rule, fixed=True, seed=2)
    first.fit(x, y, epochs=2, checkpoint=ckpt, checkpoint_every=7, stop_after=85)  # mid epoch 2
    resumed = type(first).load(ckpt)
    assert resumed.progress == (1, 21)
    resumed.fit(x, y, epochs=2)
    for a, b in zip(straight.weights, resumed.weights):
        assert np.array_equal(a, b)
    assert straight.history == resumed.history
    assert straight.counts() == resumed.counts()


def test_a_checkpoint_of_another_run_is_refused_and_left_alone(tmp_path):
    x_tr, y_tr, _, _ = digits(8)
    ckpt = tmp_path / "run.npz"
    Learner([64, 20, 10], OTTT(), fixed=True, seed=2).fit(x_tr[:10], y_tr[:10], 1, checkpoint=ckpt)
    before = ckpt.read_bytes()
    other = Learner([64, 20, 10], OTTT(mode="O"), fixed=True, seed=2)
    assert not other.owns(ckpt)
    with pytest.raises(RuleError, match="another run .*rule_args"):
        other.restore(ckpt)
    with pytest.raises(RuleError, match="another run .*seed"):
        Learner([64, 20, 10], OTTT(), fixed=True, seed=3).restore(ckpt)
    assert ckpt.read_bytes() == before


def test_state_is_flat_in_T_on_the_chip_and_linear_for_bptt():
    sizes = [64, 100, 10]
    Ts = [4, 8, 16, 32, 64, 128, 256]
    state = {r.label: [make(sizes, r).state_bytes(T) for T in Ts]
             for r in (OTTT(), OTTT(mode="O"), EventDriven("STD-ED"), EventDriven("MPD-ED"), BPTT())}
    for label, b in state.items():
        if label.startswith("BPTT"):   # per step, on the one core: a spike bit per input axon (64 + 100),
            # an 8-bit surrogate per hidden compartment, a 16-bit error per readout compartment
            bits = 64 + 100 + 8 * 100 + 16 * 10
            assert [v - b[0] for v in b] == [-(-T * bits // 8) - -(-Ts[0] * bits // 8) for T in Ts]
        else:
            assert len(set(b)) == 1, label
    assert state["OTTT_O"][0] < state["OTTT_A"][0]  # OTTT_A adds one tag per synapse


def test_bad_input_says_why(tmp_path):
    with pytest.raises(RuleError, match="readout"):
        Learner([64, 10], OTTT())
    learner = Learner([4, 3, 2], OTTT(), fixed=True)
    with pytest.raises(RuleError, match="spike inputs"):
        learner.learn_sample(np.full((3, 4), 0.5), 0)
    with pytest.raises(RuleError, match=r"T, 4\)"):
        learner.learn_sample(np.zeros((3, 5)), 0)
    with pytest.raises(RuleError, match="label 7"):
        learner.learn_sample(np.zeros((3, 4)), 7)
    with pytest.raises(RuleError, match="NaN"):
        Learner([4, 3, 2], OTTT()).learn_sample(np.full((3, 4), np.nan), 0)
    with pytest.raises(RuleError, match="NaN"):
        Learner([4, 3, 2], BPTT()).learn_sample(np.full((3, 4), np.nan), 0)
    with pytest.raises(RuleError, match="run OTTT, STD-ED, MPD-ED and the BPTT-SG baseline"):
        Learner([4, 3, 2], "sgd")
    with pytest.raises(RuleError, match="eta"):
        OTTT(eta=-1)
    with pytest.raises(RuleError, match="reset_grad"):
        BPTT("sometimes")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(RuleError, match="not a neurochip learning checkpoint"):
        Learner.load(bad)

    def chain(readout_vth=np.finfo(np.float64).max, du=1.0):
        net = nc.Network()
        net.add(nc.SpikeSource(4, name="in"))
        net.add(nc.FloatLIF(3, du=du, dv=0.1, vth=1.0, reset="zero", name="h"))
        net.add(nc.FloatLIF(2, du=1.0, dv=1.0, vth=readout_vth, reset="subtract", name="out"))
        net.connect("in", "h", np.ones((3, 4)))
        net.connect("h", "out", np.ones((2, 3)))
        return net

    Learner.from_network(chain(), OTTT())  # the well-formed chain is accepted
    with pytest.raises(PlasticityError, match="memoryless"):
        Learner.from_network(chain(readout_vth=1.0), OTTT())
    with pytest.raises(PlasticityError, match="keeps a synaptic current"):
        Learner.from_network(chain(du=0.5), OTTT())
    with pytest.raises(PlasticityError, match="BPTT-SG on the chip serves feedforward chains"):
        Learner([4, 3, 2], BPTT(), recurrent=(1,))


@pytest.mark.parametrize("rule, fixed, target", [
    (OTTT(), True, 0.95),
    (OTTT(mode="O", eta=0.02), True, 0.95),
    (BPTT(), False, 0.96),
    (EventDriven("MPD-ED"), True, 0.90),
    (EventDriven("STD-ED", eta=0.005), True, 0.90),
    (OTTT(feedback="random"), True, 0.90),
], ids=["OTTT_A fixed", "OTTT_O fixed", "BPTT-SG float", "MPD-ED fixed", "STD-ED fixed", "OTTT random feedback"])
def test_digits_learned_from_random_weights(rule, fixed, target):
    """The accuracy targets (the full curves: benchmarks/learning.py)."""
    x_tr, y_tr, x_te, y_te = digits(16)
    learner = make([64, 128, 10], rule, fixed=fixed, seed=0)
    assert learner.accuracy(x_te, y_te) < 0.5  # random weights
    learner.fit(x_tr, y_tr, epochs=20 if rule.label == "STD-ED" else 8)
    assert learner.accuracy(x_te, y_te) >= target
