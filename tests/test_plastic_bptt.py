"""BPTT-SG on the plastic cores (the "BPTT-SG" section of neurochip/chip/plastic.py) against
its slow twin (tests/reference/plastic.py `learn_bptt`): bit-exact in fixed point, to
rounding in float, however the network is placed; its counts against closed forms. Float
BPTT-SG against forward-mode gradients is in tests/test_learning.py."""
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurochip.chip.placement import Placement
from neurochip.chip.plastic import BPTT_SG, Plasticity
from neurochip.chip.simulator import Simulator, learn, weights
from neurochip.chip.spec import loihi1
from neurochip.model.events import ALL_EVENTS
from tests.reference import plastic as twin
from tests.test_plastic import ALPHA, assert_weights, build, problems

COUNTED = ("weight_writes", "surrogate_evals", "error_ops", "feedback_syn_ops", "tag_updates")


@st.composite
def bptt_problems(draw):
    p = draw(problems())
    return dict(p, R={}, reset_grad=draw(st.sampled_from(["detached", "full"])))


def on_chip(p, per_core, cores=None):
    net, names = build(p["sizes"], p["W"], {}, fixed=p["fixed"], vth=p["vth"], dv=p["dv"])
    chip = loihi1()
    placement = Placement.sequential(net, chip, per_core=per_core)
    if cores is not None:  # scatter over the mesh
        placement = Placement({k: cores[np.asarray(c)] for k, c in placement.cores.items()})
    plasticity = Plasticity(BPTT_SG, eta=p["eta"], gamma=p["gamma"], alpha=ALPHA, seed=p["seed"],
                            reset_full=p["reset_grad"] == "full")
    sim = Simulator(net, chip, placement, plasticity=plasticity)
    res = learn(sim, p["xs"], p["ys"])
    got = weights(sim)
    return [got[f"{names[m]}->{names[m + 1]}"] for m in range(len(p["W"]))], res, sim


def by_twin(p):
    return twin.learn_bptt(list(p["xs"]), list(p["ys"]), p["W"], fixed=p["fixed"], reset_grad=p["reset_grad"],
                           eta=p["eta"], gamma=p["gamma"], alpha=ALPHA, vth=p["vth"], dv=p["dv"], seed=p["seed"])


def learned(res) -> dict:
    return dict(zip(ALL_EVENTS, res.learn_counters.sum(0).tolist()))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bptt_problems())
def test_chip_learns_as_its_twin(p):
    W, res, _ = on_chip(p, p["per_core"])
    want = by_twin(p)
    assert_weights(W, want["W"], p["fixed"])
    np.testing.assert_allclose(res.losses, want["losses"], rtol=1e-12)
    got, c = learned(res), want["counts"]
    assert got["weight_writes"] == c["weight_writes"] + c["mirror_writes"]
    for k in COUNTED[1:]:
        assert got[k] == c[k], k
    assert got["trace_updates"] == 0    # BPTT keeps no traces: it stores the spikes


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bptt_problems(), st.integers(0, 2**31))
def test_weights_do_not_depend_on_placement(p, seed):
    """One core, or one neuron a core scattered over the mesh: the same weights and counts of
    every event but routing and stored bytes (stored per core, rounded up to bytes)."""
    n = sum(p["sizes"][1:])
    W1, one, _ = on_chip(p, per_core=n)
    W2, many, _ = on_chip(p, per_core=1, cores=np.random.default_rng(seed).permutation(loihi1().n_cores))
    assert_weights(W2, W1, True)
    np.testing.assert_array_equal(one.losses, many.losses)
    a, b = learned(one), learned(many)
    for k in COUNTED:
        assert a[k] == b[k], k


def test_counts_of_a_small_network_in_closed_form():
    """sizes [n0, n1, C] on one core, every input spiking at every step: T n1 surrogates; the
    forward errors C T; stored T (n0 + n1) spike bits, 8-bit surrogates and 16-bit errors,
    read back once; one tag update per synapse and step with a non-zero error; one feedback
    synaptic op per hidden x readout pair and step where the readout error is non-zero; one
    write per synapse with a non-zero tag, and one per mirror of the n1 -> C synapses."""
    n0, n1, C, T, S = 3, 4, 2, 5, 2
    rng = np.random.default_rng(0)
    W = [2 * rng.integers(-60, 60, size=(n1, n0)), 2 * rng.integers(-60, 60, size=(C, n1))]
    xs = np.ones((S, T, n0), np.int64)
    p = dict(sizes=[n0, n1, C], fixed=True, xs=xs, ys=np.array([0, 1]), W=W, vth=64, dv=512, eta=0.5, gamma=0.1,
             seed=3, reset_grad="full")
    got_W, res, sim = on_chip(p, per_core=n1 + C)
    c = learned(res)
    want = by_twin(p)
    assert_weights(got_W, want["W"], True)
    bits = (n0 + n1) + 8 * n1 + 16 * C
    assert c["state_write_bytes"] == c["state_read_bytes"] == S * -(-T * bits // 8)
    assert c["surrogate_evals"] == S * T * n1
    assert c["feedback_syn_ops"] == n1 * want["counts"]["graded_spikes"] and want["counts"]["graded_spikes"] > 0
    assert c["tag_updates"] <= S * T * (n0 * n1 + n1 * C) and c["tag_updates"] >= S * T * C   # readout errors
    assert c["trace_updates"] == 0 and c["weight_writes"] > 0
    assert sim.plastic.steps(T) == 2 * T + 2
