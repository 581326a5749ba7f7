"""Analog (direct-encoding) input: graded spikes on loihi2, the host-side first layer on loihi1,
float input currents, `neurochip run --input` with real values. Against the slow twin
(tests/reference/graded.py), Lava's graded Dense, and snnTorch / Norse runs of the fixture
networks with the pixels as an input current (tests/fixtures/snntorch/direct_fixture.npz)."""
import importlib.util
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neurochip as nc
from neurochip.chip.simulator import PayloadClipWarning
from neurochip.cli import main
from neurochip.mapping.graded import grade
from neurochip.mapping.nir.importer import NIRImportError, from_nir
from neurochip.mapping.quantize import quantize
from neurochip.model.fixed import WEIGHT_EXP_RANGE
from tests.reference import graded as ref

FIXTURES = Path(__file__).parent / "fixtures" / "snntorch"
# each network's framework conventions: snnTorch (dt 1e-4, late reset), Norse (dt 1 ms)
CONVENTIONS = {"ff": ["--reset", "zero", "--reset-delay"], "rec": ["--reset", "subtract", "--reset-delay"],
               "norse": ["--reset", "zero", "--dt", "1e-3"]}
IMPORT = {"ff": dict(dt=1e-4, reset="zero", reset_delay=True), "rec": dict(dt=1e-4, reset="subtract", reset_delay=True),
          "norse": dict(dt=1e-3, reset="zero", reset_delay=False)}


@st.composite
def graded_networks(draw, fixed):
    """(net, x, steps, per_core): a GradedSource (and maybe a spike source) into 1-2 LIF layers."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    T, n_in = draw(st.integers(5, 30)), draw(st.integers(1, 12))
    net = nc.Network()
    net.add(nc.GradedSource(n_in, name="x", scale=2.0 ** -draw(st.integers(0, 10)) if fixed else 1.0))
    sizes = [draw(st.integers(1, 10)) for _ in range(draw(st.integers(1, 2)))]
    for k, n in enumerate(sizes):
        if fixed:
            net.add(nc.LoihiLIF(n, du=draw(st.integers(-1, 4095)), dv=draw(st.integers(0, 4096)),
                                vth=draw(st.integers(0, 3000)), name=f"l{k}"))
        else:
            net.add(nc.FloatLIF(n, du=draw(st.floats(0, 1)), dv=draw(st.floats(0, 1)), vth=draw(st.floats(0.1, 5)),
                                name=f"l{k}"))
    pre = "x"
    for k, n in enumerate(sizes):
        shape = (n, net.populations[pre].n)
        mask = rng.random(shape) < draw(st.floats(0.3, 1.0))
        if fixed:
            w = rng.integers(-256, 256, shape) * mask
            kw = dict(weight_exp=draw(st.integers(*WEIGHT_EXP_RANGE)), delay=draw(st.integers(0, 2)))
        else:
            w, kw = rng.normal(0, 1, shape) * mask, dict(delay=draw(st.integers(0, 2)))
        net.connect(pre, f"l{k}", w, **kw)
        pre = f"l{k}"
    x = rng.uniform(-3, 3, (T, n_in)) * (rng.random((T, n_in)) < draw(st.floats(0.2, 1.0)))
    return net, x, T, draw(st.integers(1, 4))


def run_both(net, x, T, chip, per_core, record=("spikes", "u", "v")):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.WeightClipWarning)
        sim = nc.Simulator(net, chip, nc.Placement.sequential(net, chip, per_core=per_core))
        return sim, sim.run(T, {"x": x}, record=list(record)), ref.simulate(net, T, {"x": x}, sim.program.payload_bits)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graded_networks(fixed=True), st.sampled_from(["loihi1", "loihi2"]))
def test_fixed_point_graded_input_equals_twin_bit_for_bit(case, chip_name):
    net, x, T, per_core = case
    chip = nc.ChipSpec.preset(chip_name)
    sim, res, (spikes, u, v) = run_both(net, x, T, chip, per_core)
    for name in net.neurons():
        assert np.array_equal(res.spikes[name], spikes[name]), name
        assert np.array_equal(res.u[name], u[name]) and np.array_equal(res.v[name], v[name]), name
    # the graded input's events: spikes, packets, hops, axons and synaptic ops (last layer: no fan-out)
    sent = ref.source_values(net, T, {"x": x}, sim.program.payload_bits)
    want = ref.count_graded(net, sim.program, chip, {"x": sent["x"]}, host_side=chip_name == "loihi1")
    totals = res.totals()
    layer_spikes = sum(int(s.sum()) for s in res.spikes.values())
    if len(net.neurons()) == 1:
        assert totals["spikes_out"] == want["spikes_out"] + layer_spikes
        for kind in ("syn_ops", "packets", "hops_ew", "hops_ns", "axons_in"):
            assert totals[kind] == want[kind], kind


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graded_networks(fixed=False))
def test_float_graded_input_equals_twin(case):
    net, x, T, per_core = case
    _, res, (spikes, u, v) = run_both(net, x, T, nc.loihi2(), per_core)
    for name in net.neurons():
        assert np.array_equal(res.spikes[name], spikes[name]), name
        np.testing.assert_allclose(res.v[name], v[name], rtol=1e-12, atol=1e-12)


def test_graded_and_host_side_compute_the_same_and_count_apart():
    rng = np.random.default_rng(3)
    net = nc.Network()
    net.add(nc.GradedSource(8, name="x", scale=2**-8))
    net.add(nc.LoihiLIF(40, du=100, dv=300, vth=400, name="a"))
    net.connect("x", "a", rng.integers(-255, 256, (40, 8)) * (rng.random((40, 8)) < 0.5), weight_exp=-2)
    x = rng.uniform(0, 1, (20, 8))
    runs = {}
    for chip in (nc.loihi1(), nc.loihi2()):
        placement = nc.Placement.sequential(net, chip, per_core=3)   # 14 cores over 4 tiles: hops
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", nc.WeightClipWarning)
            runs[chip.name] = nc.Simulator(net, chip, placement).run(20, {"x": x}, record=["spikes", "v"])
    one, two = runs["loihi1"], runs["loihi2"]
    assert np.array_equal(one.v["a"], two.v["a"]) and one.spikes["a"].any()
    host = -1  # the host row
    assert one.counters[host, nc.EVENTS.index("syn_ops")] == two.total("syn_ops") > 0  # loihi1: the host's MACs
    assert two.counters[host, nc.EVENTS.index("syn_ops")] == 0
    assert one.total("axons_in") == 0 < two.total("axons_in")
    assert one.total("hops_ew") + one.total("hops_ns") > 0 and two.total("hops_ew") + two.total("hops_ns") > 0


def test_spike_sources_refuse_analog_values_and_graded_sources_refuse_nan():
    net = nc.Network()
    net.add(nc.SpikeSource(3, name="s"))
    net.add(nc.GradedSource(3, name="x"))
    net.add(nc.FloatLIF(2, du=1.0, dv=0.1, vth=1.0, name="a"))
    net.connect("s", "a", np.ones((2, 3)))
    net.connect("x", "a", np.ones((2, 3)))
    sim = nc.Simulator(net)
    x = np.zeros((4, 3))
    with pytest.raises(nc.NetworkError, match=r"inputs\['s'\] must hold spikes.*0.5 at step, channel \(2, 1\)"):
        sim.run(4, {"s": np.where(np.arange(12).reshape(4, 3) == 7, 0.5, 0.0), "x": x})
    bad = x.copy()
    bad[1, 2] = np.nan
    with pytest.raises(nc.NetworkError, match=r"inputs\['x'\] contains NaN or inf.*\(1, 2\)"):
        sim.run(4, {"x": bad})
    with pytest.raises(nc.NetworkError, match="real numbers"):
        sim.run(4, {"x": x.astype(complex)})


def test_payloads_that_do_not_fit_are_clipped_with_a_warning():
    net = nc.Network()
    net.add(nc.GradedSource(2, name="x", scale=1.0))
    net.add(nc.LoihiLIF(1, du=4095, dv=0, vth=100, name="a"))
    net.connect("x", "a", np.array([[1, 1]]))
    x = np.array([[2.0**23 + 5, 3.0]])
    with pytest.warns(PayloadClipWarning, match=r"1 value\(s\).*24-bit payload"):
        res = nc.Simulator(net, nc.loihi2()).run(2, {"x": np.vstack([x, 0 * x])}, record=["u"])
    assert np.array_equal(res.u["a"], ref.simulate(net, 2, {"x": np.vstack([x, 0 * x])})[1]["a"])
    assert np.array_equal(ref.payloads(net.populations["x"], x, 24), [[2**23 - 1, 3]])


def test_grade_scales_payloads_to_the_finest_exponent_and_refuses_what_cannot_fit():
    imp = from_nir(FIXTURES / "ff.nir", dt=1e-4, reset="zero", timing="framework", reset_delay=True,
                   input_kind="current")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q, _ = quantize(imp.net)
    net, (report,) = grade(q, nc.loihi2(), x_max=1.0)
    first = [p for p in net.projections if p.pre == "input"][0]
    before = [p for p in q.projections if p.pre == "input"][0]
    assert first.weight_exp == WEIGHT_EXP_RANGE[0] and np.array_equal(first.weights, before.weights)
    assert net.populations["input"].scale == 2.0 ** -(before.weight_exp - WEIGHT_EXP_RANGE[0]) == report.scale
    assert report.x_max >= 1.0 and not report.on_host and grade(q, nc.loihi1())[1][0].on_host
    with pytest.raises(nc.NetworkError, match="weight_exp above 7"):
        grade(q, nc.loihi2(), x_max=2.0**40)
    with pytest.raises(NIRImportError, match="input_kind"):
        from_nir(FIXTURES / "ff.nir", dt=1e-4, reset="zero", input_kind="analog")


def test_chip_spec_graded_payload_bits(tmp_path):
    assert nc.loihi2().core.graded_payload_bits == 24 and nc.loihi1().core.graded_payload_bits == 0
    src = (Path(nc.__file__).parent / "chip" / "chips" / "loihi2.toml").read_text()
    for bad in ("1", "33", "-4", "2.5", "true"):
        f = tmp_path / "chip.toml"
        f.write_text(src.replace("graded_payload_bits = 24", f"graded_payload_bits = {bad}"))
        with pytest.raises(nc.SpecError, match=r"\[core\] graded_payload_bits"):
            nc.ChipSpec.from_toml(f)


@pytest.mark.timeout(600)
@pytest.mark.skipif(importlib.util.find_spec("lava") is None, reason="lava-nc is not installed")
@pytest.mark.parametrize("fixed", [True, False])
def test_graded_spikes_are_bit_exact_with_lava_dense(fixed):
    from neurochip.mapping.lava.network import to_lava

    rng = np.random.default_rng(11)
    net = nc.Network()
    net.add(nc.GradedSource(6, name="x", scale=2**-7 if fixed else 1.0))
    if fixed:
        net.add(nc.LoihiLIF(5, du=200, dv=300, vth=300, name="a"))
        net.add(nc.LoihiLIF(3, du=4095, dv=100, vth=200, name="b"))
        net.connect("x", "a", rng.integers(-256, 256, (5, 6)), weight_exp=-5)
        net.connect("x", "b", rng.integers(0, 200, (3, 6)), weight_exp=1)
        net.connect("a", "b", rng.integers(-100, 200, (3, 5)))
    else:
        net.add(nc.FloatLIF(5, du=0.2, dv=0.1, vth=1.0, name="a"))
        net.add(nc.FloatLIF(3, du=1.0, dv=0.3, vth=0.8, name="b"))
        net.connect("x", "a", rng.normal(0, 1, (5, 6)))
        net.connect("x", "b", rng.normal(0.5, 1, (3, 6)))
        net.connect("a", "b", rng.normal(0, 1, (3, 5)))
    x = rng.uniform(-1.5, 2, (40, 6)) * (rng.random((40, 6)) < 0.7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.WeightClipWarning)
        res = nc.Simulator(net, nc.loihi2()).run(40, {"x": x}, record=["spikes", "u", "v"])
        lava = to_lava(net, {"x": x}, 40).run()
    for name in ("a", "b"):
        assert np.array_equal(res.spikes[name], lava["spikes"][name]), name
        if fixed:
            assert np.array_equal(res.u[name], lava["u"][name]) and np.array_equal(res.v[name], lava["v"][name])
        else:
            np.testing.assert_allclose(res.v[name], lava["v"][name], rtol=1e-12, atol=1e-12)
    assert res.spikes["b"].any()


@pytest.fixture(scope="module")
def direct(tmp_path_factory):
    d = dict(np.load(FIXTURES / "direct_fixture.npz"))
    path = tmp_path_factory.mktemp("direct") / "pixels.npy"
    np.save(path, np.repeat(d["x_test"][:, None, :], int(d["T"]), axis=1))   # pixels / 16 at every step
    return d, path


def cli_counts(kind, path, tmp_path, *options):
    out = tmp_path / f"{kind}_{'_'.join(options) or 'fixed'}.npy"
    rc = main(["--quiet", "run", str(FIXTURES / f"{kind}.nir"), *CONVENTIONS[kind], "--input", str(path),
               "--samples", "450", "--counts-out", str(out), *options])
    assert rc == 0
    return np.load(out)


@pytest.mark.parametrize("kind", ["ff", "rec", "norse"])
def test_cli_float_counts_equal_the_frameworks_on_every_sample(kind, direct, tmp_path, capsys):
    d, path = direct
    counts = cli_counts(kind, path, tmp_path, "--float")
    assert "input: current (--input-kind auto" in capsys.readouterr().out
    assert np.array_equal(counts, d[f"{kind}_counts"])
    assert counts.sum() > len(counts)


@pytest.mark.parametrize("kind", ["ff", "rec", "norse"])
@pytest.mark.parametrize("chip", ["loihi2", "loihi1"])
def test_fixed_point_accuracy_within_one_point(kind, chip, direct, tmp_path, capsys):
    d, path = direct
    counts = cli_counts(kind, path, tmp_path, "--chip", chip)
    said = capsys.readouterr().out
    assert ("graded spikes on loihi2" in said) if chip == "loihi2" else ("loihi1 has no graded spikes" in said)
    acc = (counts.argmax(1) == d["y_test"]).mean()
    assert abs(acc - d[f"{kind}_accuracy"]) <= 0.01, (acc, d[f"{kind}_accuracy"])
    assert d[f"{kind}_accuracy"] > 0.9


def test_cli_refuses_bad_analog_input(tmp_path, capsys):
    nir = str(FIXTURES / "ff.nir")
    x = np.full((2, 5, 64), 0.25)
    cases = {"nan": (np.where(np.arange(x.size).reshape(x.shape) == 70, np.nan, x), [], r"NaN or inf.*\(0, 1, 6\)"),
             "cplx": (x.astype(complex), [], "complex values"),
             "half": (x, ["--input-kind", "spikes"], r"found 640 other values \(0\.25; the first, 0\.25, at sample, "
                                                      r"step, input \(0, 0, 0\)\).*--input-kind current"),
             "wide": (np.full((2, 5, 63), 0.5), [], r"\(samples, steps, 64\)")}
    for name, (arr, opts, message) in cases.items():
        f = tmp_path / f"{name}.npy"
        np.save(f, arr)
        assert main(["--quiet", "run", nir, "--float", "--input", str(f), *opts]) == 2, name
        err = capsys.readouterr().err
        assert str(f) in err and re.search(message, err), (name, err)
    assert main(["--quiet", "run", nir, "--float", "--digits", "--input-kind", "current"]) == 2
    assert "--input-kind current needs --input" in capsys.readouterr().err
    spikes = tmp_path / "spikes.npy"
    np.save(spikes, np.random.default_rng(0).random((2, 5, 64)) < 0.3)
    assert main(["--quiet", "run", nir, "--float", "--input", str(spikes)]) == 0
    assert "input: spikes (--input-kind auto: the file holds only 0 and 1)" in capsys.readouterr().out
