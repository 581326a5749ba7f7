"""Plastic cores (neurochip.chip.plastic) against their slow twin (tests/reference/plastic.py):
bit-exact in fixed point, to rounding in float, however the network is placed."""
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurochip.chip.placement import Placement
from neurochip.chip.plastic import MIRROR, MPD_ED, OTTT_A, OTTT_O, RANDOM, STD_ED, Plasticity, PlasticityError
from neurochip.chip.simulator import Simulator, learn, weights
from neurochip.chip.spec import loihi1
from neurochip.model.errors import FitError
from neurochip.model.fixed import DECAY_ONE, NEVER_VTH, NEVER_VTH_FLOAT
from neurochip.model.network import Network
from neurochip.model.neurons import FloatLIF, LoihiLIF, SpikeSource
from tests.reference import learning as ref
from tests.reference import plastic as twin

ALPHA = 4.0


def build(sizes, W, R, *, fixed, vth, dv, weight_exp=0, spiking_readout=False, reset="subtract"):
    """The network the twin simulates, projections in the twin's synapse-id order."""
    net = Network()
    net.add(SpikeSource(sizes[0], name="in"))
    names = ["in"] + [f"h{d}" for d in range(1, len(sizes) - 1)] + ["out"]
    for d in range(1, len(sizes)):
        last = d == len(sizes) - 1 and not spiking_readout
        if fixed:
            pop = LoihiLIF(sizes[d], du=DECAY_ONE - 1, dv=DECAY_ONE if last else dv, vth=NEVER_VTH if last else vth,
                           reset="subtract" if last else reset, v_sub=vth, name=names[d])
        else:
            pop = FloatLIF(sizes[d], du=1.0, dv=1.0 if last else dv, vth=NEVER_VTH_FLOAT if last else vth,
                           reset="subtract" if last else reset, v_sub=vth, name=names[d])
        net.add(pop)
        kw = {"weight_exp": weight_exp} if fixed else {}
        net.connect(names[d - 1], names[d], W[d - 1], **kw)
        if d in R:
            net.connect(names[d], names[d], R[d], **kw)
    return net, names


@st.composite
def problems(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    sizes = [draw(st.integers(2, 6)) for _ in range(draw(st.integers(3, 5)))]
    fixed = draw(st.booleans())
    rec = [d for d in range(1, len(sizes) - 1) if draw(st.booleans())]
    T, samples = draw(st.integers(1, 6)), draw(st.integers(1, 3))
    xs = (rng.random((samples, T, sizes[0])) < draw(st.floats(0.2, 0.8))).astype(np.int64)
    ys = rng.integers(sizes[-1], size=samples)
    if fixed:
        W = [2 * rng.integers(-80, 110, size=(b, a)) for a, b in pairwise(sizes)]
        R = {d: 2 * rng.integers(-40, 40, size=(sizes[d], sizes[d])) for d in rec}
        vth, dv = int(draw(st.sampled_from([64, 100, 128]))), int(draw(st.sampled_from([0, 512, 1200])))
    else:
        W = [rng.normal(0, 1.5 / np.sqrt(a), size=(b, a)) for a, b in pairwise(sizes)]
        R = {d: rng.normal(0, 0.5 / np.sqrt(sizes[d]), size=(sizes[d], sizes[d])) for d in rec}
        vth, dv = draw(st.floats(0.4, 1.2)), draw(st.sampled_from([0.0, 0.125, 0.5]))
    B = {m: rng.normal(0, 1 / np.sqrt(sizes[m + 1]), size=(sizes[m], sizes[m + 1])) for m in range(1, len(sizes) - 1)}
    return dict(sizes=sizes, fixed=fixed, xs=xs, ys=ys, W=W, R=R, B=B, vth=vth, dv=dv,
                rule=draw(st.sampled_from(["O", "A"])), feedback=draw(st.sampled_from(["mirror", "random"])),
                eta=draw(st.sampled_from([0.05, 0.5])), gamma=draw(st.floats(0, 1)), seed=draw(st.integers(0, 99)),
                per_core=draw(st.integers(1, 8)))


def on_chip(p, per_core, cores=None, chip=None):
    net, names = build(p["sizes"], p["W"], p["R"], fixed=p["fixed"], vth=p["vth"], dv=p["dv"])
    chip = chip or loihi1()
    placement = Placement.sequential(net, chip, per_core=per_core)
    if cores is not None:  # scatter over the mesh
        placement = Placement({k: cores[np.asarray(c)] for k, c in placement.cores.items()})
    fb = {f"{names[m]}->{names[m + 1]}": b for m, b in p["B"].items()}
    plasticity = Plasticity(OTTT_A if p["rule"] == "A" else OTTT_O, eta=p["eta"], gamma=p["gamma"], alpha=ALPHA,
                            feedback=MIRROR if p["feedback"] == "mirror" else RANDOM, random_feedback=fb,
                            seed=p["seed"])
    sim = Simulator(net, chip, placement, plasticity=plasticity)
    res = learn(sim, p["xs"], p["ys"])
    got = weights(sim)
    W = [got[f"{names[m]}->{names[m + 1]}"] for m in range(len(p["W"]))]
    R = {d: got[f"{names[d]}->{names[d]}"] for d in p["R"]}
    return W, R, res


def by_twin(p):
    return twin.learn(list(p["xs"]), list(p["ys"]), p["W"], p["R"], p["B"], fixed=p["fixed"], rule=p["rule"],
                      feedback=p["feedback"], eta=p["eta"], gamma=p["gamma"], alpha=ALPHA, vth=p["vth"], dv=p["dv"],
                      seed=p["seed"])


def assert_weights(got, want, fixed):
    for g, w in zip(got, want):
        if fixed:
            assert np.array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12 * max(1.0, np.abs(w).max()))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_chip_learns_as_its_twin(p):
    W, R, res = on_chip(p, p["per_core"])
    want = by_twin(p)
    assert_weights(W + [R[d] for d in sorted(R)], want["W"] + [want["R"][d] for d in sorted(want["R"])], p["fixed"])
    np.testing.assert_allclose(res.losses, want["losses"], rtol=1e-12)
    learned = dict(zip(__import__("neurochip").model.events.ALL_EVENTS, res.learn_counters.sum(0)))
    c = want["counts"]
    assert learned["weight_writes"] == c["weight_writes"] + c["mirror_writes"]
    assert learned["surrogate_evals"] == c["surrogate_evals"]
    assert learned["error_ops"] == c["error_ops"]
    assert learned["feedback_syn_ops"] == c["feedback_syn_ops"]
    assert learned["tag_updates"] == c["tag_updates"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(), st.integers(0, 2**31))
def test_weights_do_not_depend_on_placement(p, seed):
    """Split invariance: one core each, or scattered over the mesh; only routing counts change."""
    n = sum(p["sizes"][1:])
    scatter = np.random.default_rng(seed).permutation(loihi1().n_cores)
    W1, R1, one = on_chip(p, per_core=n)
    W2, R2, many = on_chip(p, per_core=1, cores=scatter)
    assert_weights(W2 + list(R2.values()), W1 + list(R1.values()), True)
    np.testing.assert_array_equal(one.losses, many.losses)
    for k in ("weight_writes", "surrogate_evals", "error_ops", "feedback_syn_ops"):
        i = __import__("neurochip").model.events.ALL_EVENTS.index(k)
        assert one.learn_counters[:, i].sum() == many.learn_counters[:, i].sum()


def test_float_ottt_a_is_offline_ottt_where_it_differs_from_bptt():
    """Two hidden layers: OTTT_A on the chip is offline OTTT to 1e-12, and not BPTT-SG."""
    rng = np.random.default_rng(5)
    sizes, lam, theta, gamma, eta = [6, 8, 7, 4], 0.75, 0.6, 0.1, 0.3
    x, y, Ws = ref.random_problem(rng, sizes, T=8)
    p = dict(sizes=sizes, fixed=False, xs=x[None], ys=[y], W=Ws, R={}, B={}, vth=theta, dv=1 - lam, rule="A",
             feedback="mirror", eta=eta, gamma=gamma, seed=0)
    W, _, _ = on_chip(p, per_core=4)
    ottt = [-eta * g for g in ref.ottt_grad(x, y, Ws, lam, theta, ALPHA, gamma)]
    bptt = [-eta * g for g in ref.bptt_grad(x, y, Ws, lam, theta, ALPHA, gamma, "detached")]
    scale = max(np.abs(g).max() for g in ottt)
    for got, w0, want in zip(W, Ws, ottt):
        np.testing.assert_allclose(got - w0, want, rtol=0, atol=1e-12 * scale + 8 * np.finfo(float).eps)
    assert max(np.abs(a - b).max() for a, b in zip(ottt, bptt)) > 1e-3 * scale


def test_error_traffic_is_counted_and_latency_is_read_from_the_chip():
    rng = np.random.default_rng(0)
    sizes = [8, 12, 10, 4]
    W = [2 * rng.integers(-60, 90, size=(b, a)) for a, b in pairwise(sizes)]
    p = dict(sizes=sizes, fixed=True, xs=(rng.random((3, 10, 8)) < 0.5).astype(int), ys=[0, 1, 2], W=W, R={},
             B={}, vth=100, dv=512, rule="O", feedback="mirror", eta=0.5, gamma=0.0, seed=1)
    _, _, res = on_chip(p, per_core=3)
    learned = dict(zip(__import__("neurochip").model.events.ALL_EVENTS, res.learn_counters.sum(0)))
    assert learned["packets"] > 0 and learned["hops_ew"] + learned["hops_ns"] > 0
    assert np.all(res.sample_ns[:, 1] > 0)


def test_a_plastic_network_that_no_longer_fits_names_the_core():
    sizes = [200, 250, 10]  # 52,500 synapses of 19 bits fit a core's 2**20 bits; with 24-bit tags they do not
    W = [np.full((b, a), 2) for a, b in pairwise(sizes)]
    net, _ = build(sizes, W, {}, fixed=True, vth=100, dv=512)
    chip = loihi1()
    Simulator(net, chip, Placement.sequential(net, chip), plasticity=Plasticity(OTTT_O, 0.1, 0.0, ALPHA))
    with pytest.raises(FitError, match=r"core 0 .*synapse_memory_bits limit with the learning state"):
        Simulator(net, chip, Placement.sequential(net, chip), plasticity=Plasticity(OTTT_A, 0.1, 0.0, ALPHA))


def test_networks_learning_cannot_serve_say_why():
    net, _ = build([3, 4, 2], [np.ones((4, 3)), np.ones((2, 4))], {}, fixed=False, vth=1.0, dv=0.5)
    net.populations["h1"].v_sub = 0.5
    with pytest.raises(PlasticityError, match="resets to zero or by its threshold"):
        Simulator(net, loihi1(), plasticity=Plasticity(OTTT_O, 0.1, 0.0, ALPHA))


# -- event-driven rules (STD-ED, MPD-ED) -------------------------------------------------------------------

@st.composite
def event_problems(draw):
    p = draw(problems())
    kind = draw(st.sampled_from(["STD-ED", "MPD-ED"]))
    if kind == "STD-ED":
        p["dv"] = 0 if p["fixed"] else 0.0
    p.update(kind=kind, reset=draw(st.sampled_from(["subtract", "zero"])), kappa=draw(st.sampled_from([0.0, 0.002, 0.05])),
             readout_scale=draw(st.sampled_from([0.5, 1.0])))
    return p


def event_on_chip(p, per_core, cores=None, samples=None):
    net, names = build(p["sizes"], p["W"], p["R"], fixed=p["fixed"], vth=p["vth"], dv=p["dv"], spiking_readout=True,
                       reset=p["reset"])
    chip = loihi1()
    placement = Placement.sequential(net, chip, per_core=per_core)
    if cores is not None:
        placement = Placement({k: cores[np.asarray(c)] for k, c in placement.cores.items()})
    plasticity = Plasticity(STD_ED if p["kind"] == "STD-ED" else MPD_ED, eta=p["eta"], gamma=p["gamma"], alpha=ALPHA,
                            seed=p["seed"], kappa=p["kappa"], readout_scale=p["readout_scale"])
    sim = Simulator(net, chip, placement, plasticity=plasticity)
    results = [learn(sim, p["xs"][a:b], p["ys"][a:b]) for a, b in (samples or [(0, len(p["xs"]))])]
    got = weights(sim)
    W = [got[f"{names[m]}->{names[m + 1]}"] for m in range(len(p["W"]))]
    R = {d: got[f"{names[d]}->{names[d]}"] for d in p["R"]}
    return W, R, results, sim.program.vth.copy()


def event_by_twin(p):
    return twin.learn_event(list(p["xs"]), list(p["ys"]), p["W"], p["R"], fixed=p["fixed"], kind=p["kind"],
                            eta=p["eta"], gamma=p["gamma"], alpha=ALPHA, kappa=p["kappa"],
                            readout_scale=p["readout_scale"], vth=p["vth"], dv=p["dv"], reset=p["reset"],
                            seed=p["seed"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_problems())
def test_event_driven_rules_learn_on_the_chip_as_their_twin(p):
    W, R, (res,), thr = event_on_chip(p, p["per_core"])
    want = event_by_twin(p)
    assert_weights(W + [R[d] for d in sorted(R)], want["W"] + [want["R"][d] for d in sorted(want["R"])], p["fixed"])
    if p["fixed"]:
        np.testing.assert_array_equal(thr, want["thresholds"])
    else:
        np.testing.assert_allclose(thr, want["thresholds"], rtol=1e-12)
    np.testing.assert_allclose(res.losses, want["losses"], rtol=1e-12)
    learned = dict(zip(__import__("neurochip").model.events.ALL_EVENTS, res.learn_counters.sum(0)))
    c = want["counts"]
    assert learned["weight_writes"] == c["weight_writes"] + c["mirror_writes"]
    for k in ("surrogate_evals", "error_ops", "feedback_syn_ops"):
        assert learned[k] == c[k], k
    assert learned["tag_updates"] == c["tag_updates"]
    # traces of the axons and the thresholds: the last are the twin's
    assert learned["trace_updates"] >= c["threshold_updates"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_problems(), st.integers(0, 2**31))
def test_event_driven_weights_do_not_depend_on_placement_or_batching(p, seed):
    """One core each or scattered, all samples at once or one call each: the same weights and
    thresholds; only routing counts change."""
    n = sum(p["sizes"][1:])
    scatter = np.random.default_rng(seed).permutation(loihi1().n_cores)
    W1, R1, one, thr1 = event_on_chip(p, per_core=n)
    W2, R2, many, thr2 = event_on_chip(p, per_core=1, cores=scatter,
                                       samples=[(s, s + 1) for s in range(len(p["xs"]))])
    assert_weights(W2 + list(R2.values()), W1 + list(R1.values()), True)
    np.testing.assert_array_equal(thr1, thr2)
    np.testing.assert_array_equal(one[0].losses, np.concatenate([r.losses for r in many]))
    for k in ("weight_writes", "surrogate_evals", "error_ops", "feedback_syn_ops"):   # traces are per axon: placed
        i = __import__("neurochip").model.events.ALL_EVENTS.index(k)
        assert one[0].learn_counters[:, i].sum() == sum(r.learn_counters[:, i].sum() for r in many)


def test_event_driven_error_traffic_scales_with_spikes():
    """Errors go down only from neurons that spiked: a silent hidden layer sends nothing."""
    rng = np.random.default_rng(3)
    sizes = [8, 12, 10, 4]
    W = [2 * rng.integers(0, 120, size=(b, a)) for a, b in pairwise(sizes)]
    base = dict(sizes=sizes, fixed=True, ys=np.array([0, 1, 2]), W=W, R={}, vth=64, dv=512, kind="MPD-ED",
                reset="subtract", kappa=0.0, readout_scale=0.5, eta=0.5, gamma=0.0, seed=1)
    busy = dict(base, xs=np.ones((3, 10, 8), np.int64))
    quiet = dict(base, xs=np.zeros((3, 10, 8), np.int64))
    ev = __import__("neurochip").model.events.ALL_EVENTS
    packets = [dict(zip(ev, event_on_chip(q, per_core=3)[2][0].learn_counters.sum(0)))["packets"]
               for q in (busy, quiet)]
    assert packets[0] > 0 and packets[1] == 0


def test_event_driven_rules_refuse_what_they_cannot_run():
    net, _ = build([3, 4, 2], [np.ones((4, 3)), np.ones((2, 4))], {}, fixed=False, vth=1.0, dv=0.5,
                   spiking_readout=True)
    with pytest.raises(PlasticityError, match="STD-ED runs integrate-and-fire"):
        Simulator(net, loihi1(), plasticity=Plasticity(STD_ED, 0.1, 0.0, ALPHA))
    with pytest.raises(PlasticityError, match="mirrored feedback"):
        Simulator(net, loihi1(), plasticity=Plasticity(MPD_ED, 0.1, 0.0, ALPHA, feedback=RANDOM))
    memoryless, _ = build([3, 4, 2], [np.ones((4, 3)), np.ones((2, 4))], {}, fixed=False, vth=1.0, dv=0.5)
    with pytest.raises(PlasticityError, match="population 'out'"):
        Simulator(memoryless, loihi1(), plasticity=Plasticity(MPD_ED, 0.1, 0.0, ALPHA))
