"""Bad input gets a clear error naming what and where; clipping is warned about with numbers."""
import numpy as np
import pytest
import scipy.sparse as sp

import neurochip as nc


@pytest.mark.parametrize("kw, message", [
    (dict(du=-2), r"du must lie in \[-1, 4095\]"),
    (dict(du=4096), r"du must lie in \[-1, 4095\]"),
    (dict(dv=4097), r"dv must lie in \[0, 4096\]"),
    (dict(vth=2**17), r"vth must lie in \[0, 131071\]"),
    (dict(bias_mant=[0, 5000]), r"bias_mant must lie in \[-4096, 4095\].*at neurons \[1\]"),
    (dict(bias_exp=8), r"bias_exp must lie in \[-7, 7\]"),
    (dict(du=1.5), "du must be integer"),
    (dict(v0=[0, np.nan]), "v0 contains NaN"),
    (dict(u0=2**24), "u0 must lie"),
    (dict(bias_mant=[1, 2, 3]), r"bias_mant has shape \(3,\), expected a scalar or \(2,\)"),
])
def test_lif_parameters_out_of_range(kw, message):
    args = dict(du=0, dv=0, vth=10, name="hidden")
    args.update(kw)
    with pytest.raises(nc.NetworkError, match="population 'hidden'") as e:
        nc.LoihiLIF(2, **args)
    e.match(message)


def test_float_lif_checks():
    with pytest.raises(nc.NetworkError, match="du must lie in"):
        nc.FloatLIF(2, du=1.5, dv=0.1, vth=1.0)
    with pytest.raises(nc.NetworkError, match="vth contains NaN"):
        nc.FloatLIF(2, du=0.5, dv=0.1, vth=float("nan"))


def small_net():
    net = nc.Network()
    net.add(nc.SpikeSource(3, name="in"))
    net.add(nc.LoihiLIF(2, du=0, dv=0, vth=10, name="out"))
    return net


@pytest.mark.parametrize("w, kw, message", [
    (np.zeros((3, 2)), {}, r"weights have shape \(3, 2\), expected \(n_post, n_pre\) = \(2, 3\)"),
    (np.array([[1, np.nan, 0], [0, 0, 0]]), {}, r"NaN or inf at \(post, pre\) \[\[0, 1\]\]"),
    (np.zeros((2, 3)), dict(weight_exp=9), r"weight_exp must be an integer in \[-8, 7\]"),
    (np.zeros((2, 3)), dict(num_weight_bits=0), r"num_weight_bits must be in \[1, 8\]"),
    (np.zeros((2, 3)), dict(delay=63), r"delays must lie in \[0, 62\]"),
    (np.zeros((2, 3)), dict(delay=np.zeros((3, 3), int)), "delay has shape"),
])
def test_projection_errors_name_the_projection(w, kw, message):
    with pytest.raises(nc.NetworkError, match=message) as e:
        small_net().connect("in", "out", w, **kw)
    assert "in->out" in str(e.value)


def test_unknown_populations_and_bad_targets():
    net = small_net()
    with pytest.raises(nc.NetworkError, match="pre population 'nope' does not exist"):
        net.connect("nope", "out", np.zeros((2, 3)))
    with pytest.raises(nc.NetworkError, match="'in' is a SpikeSource and takes no synapses"):
        net.connect("out", "in", np.zeros((3, 2)))
    with pytest.raises(nc.NetworkError, match="used twice"):
        net.add(nc.LoihiLIF(1, du=0, dv=0, vth=1, name="out"))


def test_mixed_fixed_and_float_is_refused():
    net = small_net()
    net.add(nc.FloatLIF(1, du=0.1, dv=0.1, vth=1.0, name="f"))
    with pytest.raises(nc.NetworkError, match="mixes LoihiLIF"):
        nc.Simulator(net)


def test_clipping_is_warned_with_how_many_and_how_much():
    net = small_net()
    net.connect("in", "out", np.array([[300, 10, 0], [5, 255, 1]]))
    with pytest.warns(nc.WeightClipWarning, match=r"1 of 5 weights changed .*max change 45"):
        nc.Simulator(net)
    net = small_net()
    net.connect("in", "out", np.array([[-3, 10, 0], [5, 255, 1]]), num_weight_bits=7)
    with pytest.warns(nc.WeightClipWarning, match="7-bit mixed"):
        nc.Simulator(net)


def test_float_weights_in_fixed_point_are_refused():
    net = small_net()
    net.connect("in", "out", np.array([[0.5, 1, 0], [0, 0, 0]]))
    with pytest.raises(nc.NetworkError, match="must be integers; quantize first"):
        nc.Simulator(net)


def test_effective_weights_follow_lava():
    w = np.array([-300, -256, -3, -1, 0, 1, 3, 255, 300])
    assert nc.effective_weights(w, 8).tolist() == [-256, -256, -4, -2, 0, 0, 2, 254, 254]
    assert nc.effective_weights(np.array([0, 3, 300]), 6).tolist() == [0, 0, 252]
    assert nc.effective_weights(np.array([0, -3, -300]), 6).tolist() == [0, 0, -252]


def test_inputs_are_checked():
    net = small_net()
    net.connect("in", "out", np.ones((2, 3), int))
    sim = nc.Simulator(net)
    with pytest.raises(nc.NetworkError, match=r"inputs\['in'\] has shape \(4, 3\), expected \(steps, n\) = \(5, 3\)"):
        sim.run(5, inputs={"in": np.zeros((4, 3))})
    with pytest.raises(nc.NetworkError, match="contains NaN"):
        sim.run(2, inputs={"in": np.full((2, 3), np.nan)})
    with pytest.raises(nc.NetworkError, match="must hold spikes"):
        sim.run(2, inputs={"in": np.full((2, 3), 2)})
    with pytest.raises(nc.NetworkError, match="not spike sources"):
        sim.run(2, inputs={"out": np.zeros((2, 2))})
    with pytest.raises(nc.NetworkError, match="record: unknown"):
        sim.run(2, record=["w"])
    assert sim.t == 0, "a refused run changes nothing"


def test_network_that_does_not_fit_names_core_limit_and_fix():
    net = nc.Network()
    net.add(nc.SpikeSource(5000, name="in"))
    net.add(nc.LoihiLIF(10, du=0, dv=0, vth=10, name="wide"))
    net.connect("in", "wide", sp.csr_matrix(np.ones((10, 5000), dtype=np.int64)))
    with pytest.raises(nc.FitError, match=r"core 0 of loihi1 breaks the input_axons limit: 5000 > 4096 "
                                          r"\(populations on it: \['wide'\]\)"):
        nc.Simulator(net)
    big = nc.Network()
    big.add(nc.LoihiLIF(200_000, du=0, dv=0, vth=10, name="huge"))
    with pytest.raises(nc.FitError, match="need 196 cores; loihi1 has 128"):
        nc.Simulator(big)
    with pytest.raises(nc.FitError, match="core indices must lie in"):
        nc.Simulator(small_net(), placement=nc.Placement({"out": np.array([0, 500])}))
