"""Neurons that send graded spikes (`GradedVec`, `GradedReluVec`: Lava 0.10's lava.proc.graded in
fixed point): against the slow twin (tests/reference/graded.py) bit for bit, their events in
closed form and against the twin's count, payloads the chip cannot carry refused, chips
without graded spikes refused, and the Lava export (GradedVec / GradedReluVec processes, graded
Dense) equal to neurochip with ==."""
import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neurochip as nc
from neurochip.model.errors import FitError, NetworkError
from neurochip.model.fixed import WEIGHT_EXP_RANGE
from neurochip.model.neurons import GradedReluVec, GradedVec
from tests.reference import graded as ref

KINDS = {"vec": GradedVec, "relu": GradedReluVec}
FIXTURE = Path(__file__).parent / "fixtures" / "snntorch" / "direct_fixture.npz"


@st.composite
def graded_neuron_networks(draw, lif_tail=True, spikes_in=True, big=True):
    """(net, inputs, steps, per_core): a GradedSource (and maybe a SpikeSource) into 1-2 layers of
    graded-spike neurons, then (lif_tail) a LIF layer. big: weights and exponents up to the
    limits (payloads then often overflow the chip's 24 bits)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    T, n_in = draw(st.integers(4, 20)), draw(st.integers(1, 8))
    net = nc.Network()
    net.add(nc.GradedSource(n_in, name="x", scale=2.0 ** -draw(st.integers(0, 8))))
    inputs = {"x": rng.uniform(-3, 3, (T, n_in)) * (rng.random((T, n_in)) < 0.6)}
    if spikes_in and draw(st.booleans()):
        net.add(nc.SpikeSource(3, name="s"))
        inputs["s"] = rng.random((T, 3)) < 0.4
    layers = [f"g{k}" for k in range(draw(st.integers(1, 2)))]
    for name in layers:
        net.add(KINDS[draw(st.sampled_from(sorted(KINDS)))](draw(st.integers(1, 6)), vth=draw(st.integers(0, 200)),
                                                             name=name))
    if lif_tail:
        net.add(nc.LoihiLIF(draw(st.integers(1, 5)), du=draw(st.integers(-1, 4095)), dv=draw(st.integers(0, 4096)),
                            vth=draw(st.integers(0, 3000)), name="lif"))
        layers.append("lif")
    w_max, exps = (256, WEIGHT_EXP_RANGE) if big else (16, (-3, 1))
    for pre, post in zip(["x", *layers], layers):
        shape = (net.populations[post].n, net.populations[pre].n)
        w = rng.integers(-w_max, w_max, shape) * (rng.random(shape) < 0.8)
        net.connect(pre, post, w, weight_exp=draw(st.integers(*exps)), delay=draw(st.integers(0, 2)))
    if "s" in inputs:
        net.connect("s", layers[0], rng.integers(-w_max, w_max, (net.populations[layers[0]].n, 3)))
    return net, inputs, T, draw(st.integers(1, 4))


def simulator(net, per_core=None, chip=None):
    chip = chip or nc.loihi2()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.WeightClipWarning)
        return nc.Simulator(net, chip, nc.Placement.sequential(net, chip, per_core=per_core))


def payload_overflows(net, v: dict, bits: int = 24) -> bool:
    """Whether the twin's graded neurons sent a payload outside the chip's `bits`."""
    return any(np.any((v[k] > 2 ** (bits - 1) - 1) | (v[k] < -(2 ** (bits - 1))))
               for k, p in net.populations.items() if isinstance(p, (GradedVec, GradedReluVec)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graded_neuron_networks())
def test_graded_neurons_equal_their_twin_or_refuse_what_the_chip_cannot_carry(case):
    net, inputs, T, per_core = case
    sim = simulator(net, per_core)
    spikes, u, v = ref.simulate(net, T, inputs, sim.program.payload_bits)
    if payload_overflows(net, v):
        with pytest.raises(FitError, match=r"population 'g\d': neuron \d+ sends a graded payload of -?\d+ at step "
                                           r"\d+, outside the 24-bit payload of loihi2 \(\[-8388608, 8388607\]\)"):
            sim.run(T, inputs)
        return
    res = sim.run(T, inputs, record=["spikes", "u", "v"])
    for name in net.neurons():
        assert np.array_equal(res.spikes[name], spikes[name]), name
        assert np.array_equal(res.u[name], u[name]) and np.array_equal(res.v[name], v[name]), name
        assert np.array_equal(res.spike_counts[name], spikes[name].sum(0)), name


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graded_neuron_networks(lif_tail=False, spikes_in=False, big=False))
def test_graded_spikes_are_counted_as_the_twin_counts_them(case):
    """Only graded senders: every spike, packet, hop, axon and synaptic op is the twin's."""
    net, inputs, T, per_core = case
    sim = simulator(net, per_core)
    res = sim.run(T, inputs, record=["v"])
    sent = ref.source_values(net, T, inputs, sim.program.payload_bits)
    sent.update({k: res.v[k] for k in net.neurons()})
    want = ref.count_graded(net, sim.program, sim.chip, sent, host_side=False)
    totals = res.totals()
    for kind, n in want.items():
        assert totals[kind] == n, kind


def test_graded_neuron_events_in_closed_form():
    """4 GradedVec on core 0 (tile (0, 0)) fed one-to-one by spikes (weight 10 > vth 5: each input
    spike is a payload 10 a step later), all-to-all to 3 LIF on a core of tile (dx, dy): K
    payloads make K spikes, K packets, K (dx, dy) hops, K axons and 3 K synaptic ops."""
    chip = nc.loihi2()
    net = nc.Network()
    net.add(nc.SpikeSource(4, name="s"))
    net.add(GradedVec(4, vth=5, name="g"))
    net.add(nc.LoihiLIF(3, du=4095, dv=0, vth=100000, name="lif"))
    net.connect("s", "g", 10 * np.eye(4, dtype=int))
    net.connect("g", "lif", np.full((3, 4), 2))
    far = chip.n_cores - 1
    dx, dy = chip.core_xy(far)
    sim = nc.Simulator(net, chip, nc.Placement({"g": np.zeros(4, int), "lif": np.full(3, far)}))
    x = np.random.default_rng(7).random((30, 4)) < 0.5
    res = sim.run(30, {"s": x}, record=["v", "u"])
    K = int(x[:-1].sum())   # the last step's spikes reach g after the run
    assert np.array_equal(res.v["g"][1:], 10 * x[:-1]) and not res.u["g"].any()
    g, lif, host = (res.counters[res.rows.index(r)] for r in ("core 0", f"core {far}", "host"))
    c = dict(zip(nc.EVENTS, g))
    assert (c["spikes_out"], c["packets"], c["hops_ew"], c["hops_ns"]) == (K, K, K * dx, K * dy)
    assert (c["neuron_updates_active"], c["dendrite_accums"], c["neuron_updates_inactive"]) == (K, K, 4 * 30 - K)
    c = dict(zip(nc.EVENTS, lif))
    assert (c["axons_in"], c["syn_ops"], c["spikes_out"]) == (K, 3 * K, 0)
    assert dict(zip(nc.EVENTS, host))["spikes_out"] == x.sum()
    assert np.array_equal(res.spike_counts["g"], x[:-1].sum(0))
    # the payloads sum into the LIF: u = a << 6 with a = 2 * 10 * (spikes into g two steps before)
    assert np.array_equal(res.u["lif"][2:], np.repeat(((20 * x[:-2].sum(1)) << 6)[:, None], 3, 1))


def payload_net(w_g2: int):
    """x (2 channels) -> g (3 GradedVec) and, 4 << 7 = 512 times x0, -> h (GradedVec), r (GradedReluVec)."""
    net = nc.Network()
    net.add(nc.GradedSource(2, name="x"))
    net.add(GradedVec(3, vth=0, name="g"))
    net.add(GradedVec(1, vth=0, name="h"))
    net.add(GradedReluVec(1, vth=0, name="r"))
    net.connect("x", "g", np.array([[1, 0], [1, 1], [w_g2, 0]]))
    net.connect("x", "h", np.array([[4, 0]]), weight_exp=7)
    net.connect("x", "r", np.array([[4, 0]]), weight_exp=7)
    return net


def test_payload_limits_int32_abs_and_chips_without_graded_spikes():
    top = 2**23 - 1   # the largest 24-bit payload
    net = payload_net(0)
    x = np.array([[top, 0], [-top - 1, 0], [2**22, 0], [-2**22, 0], [0, 0]])
    res = simulator(net).run(5, {"x": x}, record=["v"])
    assert np.array_equal(res.v["g"][1:, :2], np.repeat(x[:-1, :1], 2, 1))   # the 24-bit extremes pass
    # 512 x: wraps in int32 (2**32 - 512 -> -512, -2**32 -> 0, 2**31 -> -2**31, -2**31), and
    # numpy's int32 |-2**31| is negative: Lava's GradedVec sends 0 for it, not an overflow
    assert np.array_equal(res.v["h"][1:, 0], [-512, 0, 0, 0])
    assert np.array_equal(res.v["r"][1:, 0], [0, 0, 0, 0])
    assert np.array_equal(ref.simulate(net, 5, {"x": x})[2]["h"][1:, 0], [-512, 0, 0, 0])
    with pytest.raises(FitError, match=r"population 'g': neuron 1 sends a graded payload of 16777214 at step 1, "
                                       r"outside the 24-bit payload of loihi2 \(\[-8388608, 8388607\]\)"):
        simulator(net).run(2, {"x": np.array([[top, top], [0, 0]])})
    with pytest.raises(FitError, match=r"population 'g': neuron 2 sends a graded payload of -33554432 at step 3"):
        simulator(payload_net(4)).run(4, {"x": np.array([[0, 0], [0, 0], [-top - 1, 0], [0, 0]])})
    with pytest.raises(FitError, match=r"population 'g': GradedVec sends graded spikes, which loihi1 does not have"):
        simulator(net, chip=nc.loihi1())
    with pytest.raises(NetworkError, match=r"population 'g': vth must lie in \[0, 8388607\], got \[-1\]"):
        GradedVec(2, vth=-1, name="g")


def test_run_samples_with_graded_neurons_equals_runs_one_at_a_time():
    rng = np.random.default_rng(5)
    net = nc.Network()
    net.add(nc.GradedSource(5, name="x"))
    net.add(GradedReluVec(4, vth=3, name="g"))
    net.add(nc.LoihiLIF(3, du=200, dv=300, vth=50, name="lif"))
    net.connect("x", "g", rng.integers(-40, 40, (4, 5)))
    net.connect("g", "lif", rng.integers(-40, 40, (3, 4)), weight_exp=-2, delay=1)
    samples = [{"x": rng.uniform(-20, 20, (12, 5))} for _ in range(4)]
    sim = simulator(net, per_core=2)
    many = sim.run_samples(samples, record=["spikes"], workers=2)
    for k, s in enumerate(samples):
        sim.reset()
        one = sim.run(12, s)
        for name in net.neurons():
            assert np.array_equal(many.spikes[name][k], one.spikes[name]), name
        assert np.array_equal(many.sample_counters[k], one.counters)
    assert many.totals()["spikes_out"] > 0


@pytest.mark.lava
@pytest.mark.timeout(300)
@pytest.mark.skipif(importlib.util.find_spec("lava") is None, reason="lava-nc is not installed")
def test_lava_export_of_graded_neurons_is_bit_exact():
    """GradedVec / GradedReluVec processes with graded Dense: payloads (v), LIF u, v and spikes =="""
    from neurochip.mapping.lava.network import to_lava

    for seed in range(3):
        rng = np.random.default_rng(seed)
        net = nc.Network()
        net.add(nc.GradedSource(4, name="x", scale=0.25))
        net.add(nc.SpikeSource(3, name="s"))
        net.add(GradedVec(5, vth=int(rng.integers(0, 30)), name="g"))
        net.add(GradedReluVec(4, vth=int(rng.integers(0, 30)), name="r"))
        net.add(nc.LoihiLIF(3, du=int(rng.integers(0, 4096)), dv=int(rng.integers(0, 4096)),
                            vth=int(rng.integers(10, 200)), name="lif"))
        net.connect("x", "g", rng.integers(-20, 20, (5, 4)), weight_exp=int(rng.integers(-2, 2)))
        net.connect("s", "g", rng.integers(-20, 20, (5, 3)))
        net.connect("g", "r", rng.integers(-20, 20, (4, 5)), weight_exp=-1, delay=int(seed == 1))
        net.connect("r", "lif", rng.integers(-20, 20, (3, 4)), weight_exp=int(rng.integers(0, 3)))
        net.connect("g", "lif", rng.integers(-20, 20, (3, 5)))
        T = 15
        inputs = {"x": rng.uniform(-5, 5, (T, 4)) * (rng.random((T, 4)) < 0.7), "s": rng.random((T, 3)) < 0.4}
        res = simulator(net, per_core=2).run(T, inputs, record=["spikes", "u", "v"])
        lava = to_lava(net, inputs, T).run()
        assert res.v["r"].any() and res.spikes["lif"].any() or seed, "the network is silent: no test"
        for name in net.neurons():
            for var in ("spikes", "u", "v"):
                assert np.array_equal(getattr(res, var)[name], lava[var][name]), (seed, name, var)


def test_cli_exports_a_network_fed_with_a_current_to_lava(tmp_path, capsys):
    """`neurochip export lava --input` with real values: the source's payloads and graded Dense."""
    from neurochip.cli import main
    from neurochip.mapping.lava.graph import load

    x = np.repeat(np.load(FIXTURE)["x_test"][:2, None, :], 6, axis=1)   # pixels / 16, a current
    np.save(tmp_path / "pixels.npy", x)
    for chip in ("loihi1", "loihi2"):
        out = tmp_path / chip / "net"
        assert main(["--quiet", "export", "lava", str(FIXTURE.with_name("ff.nir")), "--reset", "zero",
                     "--timing", "lava", "--chip", chip, "--input", str(tmp_path / "pixels.npy"),
                     "--out", str(out)]) == 0
        assert "graded" in capsys.readouterr().out
        graph = load(out.with_suffix(".npz"))
        (src,) = graph["sources"]
        q = graph["sources"][src]
        assert q.shape == (64, 6) and len(np.unique(q)) > 2 and q.max() > 1   # payloads, not spikes
        first = [p for p in graph["projections"] if p["pre"] == src]
        assert first and all(p["graded_bits"] == 24 for p in first)
