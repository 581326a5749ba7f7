"""The lava-dl NetX HDF5 export: arrays read back as written, and the network read back runs
spike for spike like the original."""
import h5py
import numpy as np
import pytest

import neurochip as nc
from neurochip.mapping.lava.netx import export_netx_hdf5
from neurochip.model.errors import NetworkError
from tests.reference.netx import read_netx_hdf5


def stack(rng, recurrent=True):
    net = nc.Network()
    net.add(nc.SpikeSource(20, name="in"))
    net.add(nc.LoihiLIF(30, du=410, dv=300, vth=40, bias_mant=rng.integers(-4, 5, 30), bias_exp=6, name="h"))
    net.add(nc.LoihiLIF(5, du=4095, dv=100, vth=60, name="out"))
    net.connect("in", "h", 2 * rng.integers(-40, 80, (30, 20)), weight_exp=1)
    if recurrent:
        net.connect("h", "h", 2 * rng.integers(-30, 30, (30, 30)))
    net.connect("h", "out", 2 * rng.integers(-20, 60, (5, 30)))
    return net


@pytest.mark.parametrize("recurrent", [False, True])
def test_netx_file_reads_back_and_runs_identically(tmp_path, recurrent):
    rng = np.random.default_rng(3)
    net = stack(rng, recurrent)
    path = tmp_path / "net.net"
    export_netx_hdf5(net, path)
    with h5py.File(path, "r") as f:
        g = f["layer/0"]
        assert g["type"][()] == (b"dense_rec" if recurrent else b"dense")
        assert np.array_equal(g["weight"][()], np.asarray(net.projections[0].weights) * 2)
        assert tuple(g["shape"][()]) == (30,)
        assert g["neuron/iDecay"][()] == 411 and g["neuron/vDecay"][()] == 300 and g["neuron/vThMant"][()] == 40
        assert np.array_equal(g["bias"][()], net.populations["h"].bias_mant)
        assert f["layer/1/type"][()] == b"dense"
    back = read_netx_hdf5(path)
    x = rng.random((80, 20)) < 0.3
    a = nc.Simulator(net).run(80, inputs={"in": x}, record=["spikes", "v"])
    b = nc.Simulator(back).run(80, inputs={"input": x}, record=["spikes", "v"])
    for mine, theirs in (("h", "layer0"), ("out", "layer1")):
        assert np.array_equal(a.spikes[mine], b.spikes[theirs])
        assert np.array_equal(a.v[mine], b.v[theirs])
    assert a.spikes["h"].sum() > 0 and a.spikes["out"].sum() > 0


def test_netx_export_refuses_what_netx_cannot_hold(tmp_path):
    net = nc.Network()
    net.add(nc.SpikeSource(3, name="in"))
    net.add(nc.LoihiLIF(2, du=0, dv=0, vth=10, reset="subtract", name="h"))
    net.connect("in", "h", np.ones((2, 3), int))
    with pytest.raises(NetworkError, match="resetting to zero"):
        export_netx_hdf5(net, tmp_path / "x.net")
    net = nc.Network()
    net.add(nc.SpikeSource(3, name="in"))
    net.add(nc.LoihiLIF(2, du=0, dv=0, vth=10, name="a"))
    net.add(nc.LoihiLIF(2, du=0, dv=0, vth=10, name="b"))
    net.connect("in", "a", np.ones((2, 3), int))
    net.connect("in", "b", np.ones((2, 3), int))
    with pytest.raises(NetworkError, match="chain"):
        export_netx_hdf5(net, tmp_path / "y.net")
