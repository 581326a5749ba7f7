"""neurochip against Lava itself (lava-nc 0.10, Loihi2SimCfg): identical rasters at every
step and identical u, v. Lava starts one OS process per Process; `LavaNetwork.run` stops
them in `finally`, and every test has a timeout."""
import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import neurochip as nc
from tests.shared import golden
from tests.strategies import networks

try:
    import lava  # noqa: F401
except ImportError:
    if os.environ.get("CI"):
        raise
    pytest.skip("lava-nc is not installed (pip install -e '.[lava]'); under CI these tests must run",
                allow_module_level=True)

from neurochip.mapping.lava_export import to_lava  # noqa: E402

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
