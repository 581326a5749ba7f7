"""A reader of lava-dl NetX HDF5 files, to check `neurochip.mapping.lava.netx.export_netx_hdf5`
(tests/test_netx_export.py): the network the file describes, run by neurochip."""
import h5py
import numpy as np

from neurochip.mapping.lava.netx import NETX_BIAS_EXP
from neurochip.model.errors import NetworkError
from neurochip.model.network import Network
from neurochip.model.neurons import LoihiLIF, SpikeSource


def read_netx_hdf5(path) -> Network:
    """The network a NetX file describes (dense and dense_rec layers of CUBA neurons)."""
    net = Network()
    with h5py.File(path, "r") as f:
        keys = sorted(f["layer"], key=int)
        prev = None
        for k in keys:
            g = f["layer"][k]
            kind = g["type"][()].decode() if isinstance(g["type"][()], bytes) else str(g["type"][()])
            if kind not in ("dense", "dense_rec"):
                raise NetworkError(f"{path}: layer {k} has type {kind!r}; only dense and dense_rec are read")
            w = np.asarray(g["weight"])
            if prev is None:
                net.add(SpikeSource(w.shape[1], name="input"))
                prev = "input"
            nc = g["neuron"]
            bias = np.asarray(g["bias"]) if "bias" in g else 0
            name = f"layer{k}"
            net.add(LoihiLIF(int(g["shape"][0]), du=int(nc["iDecay"][()]) - 1, dv=int(nc["vDecay"][()]),
                             vth=int(nc["vThMant"][()]), bias_mant=bias, bias_exp=NETX_BIAS_EXP if np.any(bias) else 0,
                             name=name))
            net.connect(prev, name, _fit(w), weight_exp=_exp(w))
            if kind == "dense_rec":
                wr = np.asarray(g["weight_rec"])
                net.connect(name, name, _fit(wr), weight_exp=_exp(wr))
            prev = name
    return net


def _exp(w) -> int:
    """Smallest weight_exp that makes w an 8-bit mantissa (w is an integer matrix)."""
    m = int(np.abs(w).max()) if w.size else 0
    e = 0
    while m > 255 * 2**e:
        e += 1
    return e


def _fit(w) -> np.ndarray:
    return (np.asarray(w, np.int64) >> _exp(w)).astype(np.int64)
