"""neurochip against Lava itself (lava-nc 0.10, Loihi2SimCfg): identical rasters at every
step and identical u, v. Lava starts one OS process per Process; `LavaNetwork.run` stops
them in `finally`, and every test has a timeout."""
import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import neurochip as nc
from tests.conftest import golden, require_lava
from tests.strategies import networks

require_lava()

from neurochip.mapping.lava.network import to_lava  # noqa: E402

pytestmark = pytest.mark.lava
EXAMPLES = 100 if os.environ.get("CI") else 12
SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def both(net, inputs, steps):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.WeightClipWarning)
        res = nc.Simulator(net).run(steps, inputs=inputs, record=["spikes", "u", "v"])
        lava = to_lava(net, inputs, steps).run()
    return res, lava


@pytest.mark.timeout(1800)
@SETTINGS
@given(networks(fixed=True))
def test_fixed_point_is_bit_exact_with_lava(case):
    net, inputs, steps = case
    res, lava = both(net, inputs, steps)
    for name in net.neurons():
        assert np.array_equal(res.spikes[name], lava["spikes"][name]), name
        assert np.array_equal(res.u[name], lava["u"][name]), name
        assert np.array_equal(res.v[name], lava["v"][name]), name
        assert np.array_equal(res.u[name][-1], lava["final_u"][name]), name
        assert np.array_equal(res.v[name][-1], lava["final_v"][name]), name


@pytest.mark.timeout(1200)
@settings(max_examples=max(EXAMPLES // 2, 6), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(networks(fixed=False))
def test_float_matches_lava_floating_pt(case):
    net, inputs, steps = case
    res, lava = both(net, inputs, steps)
    tol = 1e-9
    for name in net.neurons():
        assert np.array_equal(res.spikes[name], lava["spikes"][name]), name
        for var in ("u", "v"):
            ours, theirs = getattr(res, var)[name], lava[var][name]
            np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol * (1 + np.abs(theirs).max()))


@pytest.mark.timeout(120)
def test_nir_paper_golden_through_lava():
    d = np.loadtxt(golden("nir_paper_01_lif") / "lif_lava_cpu_fixed.csv", delimiter=",")
    net = nc.Network()
    net.add(nc.SpikeSource(1, name="in"))
    net.add(nc.LoihiLIF(1, du=4095, dv=163, vth=25, name="lif"))
    net.connect("in", "lif", np.array([[10]]))
    out = to_lava(net, {"in": d[:, :1]}, len(d)).run()
    assert np.array_equal(out["v"]["lif"][:, 0], d[:, 1])
    assert np.array_equal(out["spikes"]["lif"][:, 0], d[:, 2] > 0)


def test_subtractive_reset_is_refused_with_a_reason():
    net = nc.Network()
    net.add(nc.SpikeSource(1, name="in"))
    net.add(nc.LoihiLIF(1, du=0, dv=0, vth=1, reset="subtract", name="lif"))
    with pytest.raises(nc.NetworkError, match="Lava's LIF resets to zero"):
        to_lava(net, {"in": np.zeros((3, 1))}, 3)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("fixed", [True, False])
def test_standalone_lava_script_gives_the_same_rasters(tmp_path, fixed):
    """export_lava_script writes a script that needs only lava-nc; run in its own Python, it
    reproduces neurochip's rasters (recurrence, delays, two sources, a bias)."""
    import subprocess
    import sys

    from neurochip.mapping.lava.network import export_lava_script

    rng = np.random.default_rng(7)
    net = nc.Network()
    net.add(nc.SpikeSource(12, name="a"))
    net.add(nc.SpikeSource(5, name="b"))
    if fixed:
        net.add(nc.LoihiLIF(20, du=300, dv=200, vth=30, bias_mant=rng.integers(0, 3, 20), name="h"))
        net.add(nc.LoihiLIF(6, du=4095, dv=50, vth=40, name="o"))
        w = lambda *s: 2 * rng.integers(-20, 40, s)  # noqa: E731
    else:
        net.add(nc.FloatLIF(20, du=0.1, dv=0.05, vth=1.0, bias=rng.random(20) * 0.02, name="h"))
        net.add(nc.FloatLIF(6, du=1.0, dv=0.02, vth=1.5, name="o"))
        w = lambda *s: rng.normal(0.2, 0.4, s)  # noqa: E731
    net.connect("a", "h", w(20, 12))
    net.connect("b", "h", w(20, 5), delay=rng.integers(0, 4, (20, 5)))
    net.connect("h", "h", w(20, 20) // 2 if fixed else w(20, 20) / 3)
    net.connect("h", "o", w(6, 20))
    steps = 60
    x = {"a": rng.random((steps, 12)) < 0.3, "b": rng.random((steps, 5)) < 0.2}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.WeightClipWarning)
        want = nc.Simulator(net).run(steps, inputs=x, record=["spikes"])
    py, npz = export_lava_script(net, tmp_path / "exported", x, steps)
    done = subprocess.run([sys.executable, str(py)], capture_output=True, text=True, timeout=280, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    got = np.load(tmp_path / "exported_spikes.npz")
    for name in ("h", "o"):
        assert np.array_equal(got[name], want.spikes[name]), name
    assert want.spikes["h"].sum() > 0 and want.spikes["o"].sum() > 0
