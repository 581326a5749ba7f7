"""Plastic projections given as sparse matrices (an unrolled convolution is one): their stored
entries are the synapses, the only ones that learn and carry errors back. Every rule (OTTT,
STD-ED / MPD-ED, BPTT-SG) on the chip against its twin with the same masks, bit-exact in fixed
point; a convolution learning on the chip. Loihi's learning engine updates each synapse on its own, so a learned convolution
keeps its connectivity but not its weight sharing."""
import numpy as np
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurochip.chip.placement import Placement
from neurochip.chip.plastic import MIRROR, OTTT_A, OTTT_O, RANDOM, Plasticity
from neurochip.chip.simulator import Simulator, learn, weights
from neurochip.chip.spec import loihi1
from neurochip.mapping.nir.unroll import conv
from neurochip.model.events import ALL_EVENTS
from neurochip.rules.learner import Learner
from neurochip.rules.rule import OTTT
from neurochip.studies.datasets import digits
from tests.reference import plastic as twin
from tests import test_plastic, test_plastic_bptt
from tests.test_plastic import ALPHA, assert_weights, build, problems


def as_sparse(w, mask):
    """w's entries under mask as a CSR matrix whose stored entries are exactly the mask (zeros too)."""
    r, c = np.nonzero(mask)
    return sp.csr_matrix((w[r, c], (r, c)), shape=w.shape)


@st.composite
def masked_problems(draw, base=problems):
    """`base`'s problems with each forward matrix sparse (a random mask) and zero off it."""
    p = draw(base())
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    masks = {m: rng.random(w.shape) < draw(st.floats(0.3, 0.9)) for m, w in enumerate(p["W"])}
    W = [np.where(masks[m], w, 0) for m, w in enumerate(p["W"])]
    return dict(p, W=W, masks=masks)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(masked_problems())
def test_sparse_projections_learn_as_the_masked_twin(p):
    sparse = [as_sparse(w, p["masks"][m]) for m, w in enumerate(p["W"])]
    net, names = build(p["sizes"], sparse, p["R"], fixed=p["fixed"], vth=p["vth"], dv=p["dv"])
    chip = loihi1()
    fb = {f"{names[m]}->{names[m + 1]}": b for m, b in p["B"].items()}
    plasticity = Plasticity(OTTT_A if p["rule"] == "A" else OTTT_O, eta=p["eta"], gamma=p["gamma"], alpha=ALPHA,
                            feedback=MIRROR if p["feedback"] == "mirror" else RANDOM, random_feedback=fb,
                            seed=p["seed"])
    sim = Simulator(net, chip, Placement.sequential(net, chip, per_core=p["per_core"]), plasticity=plasticity)
    res = learn(sim, p["xs"], p["ys"])
    got = weights(sim)
    W = [got[f"{names[m]}->{names[m + 1]}"] for m in range(len(p["W"]))]
    assert all(sp.issparse(w) and w.nnz == p["masks"][m].sum() for m, w in enumerate(W))
    want = twin.learn(list(p["xs"]), list(p["ys"]), p["W"], p["R"], p["B"], fixed=p["fixed"], rule=p["rule"],
                      feedback=p["feedback"], eta=p["eta"], gamma=p["gamma"], alpha=ALPHA, vth=p["vth"], dv=p["dv"],
                      seed=p["seed"], masks=p["masks"])
    assert_weights([w.toarray() for w in W], want["W"], p["fixed"])
    np.testing.assert_allclose(res.losses, want["losses"], rtol=1e-12)
    learned, c = dict(zip(ALL_EVENTS, res.learn_counters.sum(0))), want["counts"]
    assert learned["weight_writes"] == c["weight_writes"] + c["mirror_writes"]
    for k in ("surrogate_evals", "error_ops", "feedback_syn_ops", "tag_updates"):
        assert learned[k] == c[k], k


def sparse_problem(p):
    """p with its forward matrices as sparse matrices storing exactly their masks."""
    return dict(p, W=[as_sparse(w, p["masks"][m]) for m, w in enumerate(p["W"])])


def assert_sparse_like_masks(W, masks):
    assert all(sp.issparse(w) and w.nnz == masks[m].sum() for m, w in enumerate(W))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(masked_problems(test_plastic.event_problems))
def test_sparse_projections_learn_as_the_masked_twin_event_driven(p):
    W, R, (res,), thr = test_plastic.event_on_chip(sparse_problem(p), p["per_core"])
    assert_sparse_like_masks(W, p["masks"])
    want = twin.learn_event(list(p["xs"]), list(p["ys"]), p["W"], p["R"], fixed=p["fixed"], kind=p["kind"],
                            eta=p["eta"], gamma=p["gamma"], alpha=ALPHA, kappa=p["kappa"],
                            readout_scale=p["readout_scale"], vth=p["vth"], dv=p["dv"], reset=p["reset"],
                            seed=p["seed"], masks=p["masks"])
    assert_weights([w.toarray() for w in W] + [R[d] for d in sorted(R)],
                   want["W"] + [want["R"][d] for d in sorted(want["R"])], p["fixed"])
    np.testing.assert_allclose(thr, want["thresholds"], rtol=0 if p["fixed"] else 1e-12)
    np.testing.assert_allclose(res.losses, want["losses"], rtol=1e-12)
    learned, c = dict(zip(ALL_EVENTS, res.learn_counters.sum(0))), want["counts"]
    assert learned["weight_writes"] == c["weight_writes"] + c["mirror_writes"]
    for k in ("surrogate_evals", "error_ops", "feedback_syn_ops", "tag_updates"):
        assert learned[k] == c[k], k


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(masked_problems(test_plastic_bptt.bptt_problems))
def test_sparse_projections_learn_as_the_masked_twin_bptt(p):
    W, res, _ = test_plastic_bptt.on_chip(sparse_problem(p), p["per_core"])
    assert_sparse_like_masks(W, p["masks"])
    want = twin.learn_bptt(list(p["xs"]), list(p["ys"]), p["W"], fixed=p["fixed"], reset_grad=p["reset_grad"],
                           eta=p["eta"], gamma=p["gamma"], alpha=ALPHA, vth=p["vth"], dv=p["dv"], seed=p["seed"],
                           masks=p["masks"])
    assert_weights([w.toarray() for w in W], want["W"], p["fixed"])
    np.testing.assert_allclose(res.losses, want["losses"], rtol=1e-12)
    got, c = test_plastic_bptt.learned(res), want["counts"]
    assert got["weight_writes"] == c["weight_writes"] + c["mirror_writes"]
    for k in test_plastic_bptt.COUNTED[1:]:
        assert got[k] == c[k], k


def test_a_convolution_learns_on_the_chip_and_keeps_its_connectivity():
    """digits 1x8x8 -> Conv2d(4 channels, 3x3) -> 4x6x6 LIF -> 10, OTTT_A in fixed point."""
    rng = np.random.default_rng(0)
    kernel = rng.normal(0, 2.0 / 3, (4, 1, 3, 3))
    C, out_shape = conv(kernel, (1, 8, 8))
    n = int(np.prod(out_shape))
    readout = rng.normal(0, 2.0 / np.sqrt(n), (10, n))
    x_tr, y_tr, x_te, y_te = digits(16)
    learner = Learner([64, n, 10], OTTT(), fixed=True, seed=0, weights=[C, readout])
    before = learner.accuracy(x_te[:200], y_te[:200])
    learner.fit(x_tr[:400], y_tr[:400], epochs=1)
    after = learner.accuracy(x_te[:200], y_te[:200])
    w = learner.weights[0]
    assert sp.issparse(w) and w.nnz == C.nnz and set(zip(*w.nonzero())) <= set(zip(*C.nonzero()))  # none grew
    assert after > before + 0.3 and after > 0.6, (before, after)
    assert learner.counts("learn")["weight_writes"] > 0
