"""A neurochip network as a lava-dl NetX HDF5 file, and back.

Layout (lava-dl `netx.hdf5.Network`): `layer/<i>/{type, shape, weight, [weight_rec], [bias],
[delay], neuron/{type, iDecay, vDecay, vThMant, refDelay, gradedSpike}}`, one group per neuron
layer of a feed-forward chain fed by one SpikeSource; "dense" layers, or "dense_rec" when the
layer also projects onto itself. Weights are the effective integers (mantissa after Lava's
bit truncation, times 2**weight_exp) since NetX picks its own exponent. NetX builds
`LIF(du = iDecay - 1, dv = vDecay, vth = vThMant, bias_exp = 6)`, so iDecay = du + 1 and the
bias stored is bias_mant * 2**(bias_exp - 6), which must be an integer.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from neurochip.model.errors import NetworkError
from neurochip.model.fixed import effective_weights
from neurochip.model.network import Network
from neurochip.model.neurons import LoihiLIF, SpikeSource

NETX_BIAS_EXP = 6


def _chain(net: Network):
    sources = [k for k, p in net.populations.items() if isinstance(p, SpikeSource)]
    if len(sources) != 1:
        raise NetworkError(f"NetX export: needs exactly one SpikeSource, the network has {sources}")
    chain, ff, rec = [sources[0]], [], {}
    for p in net.projections:
        if p.pre == p.post:
            rec[p.post] = p
    while True:
        nxt = [p for p in net.projections if p.pre == chain[-1] and p.post != p.pre]
        if not nxt:
            break
        if len(nxt) > 1:
            raise NetworkError(f"NetX export: {chain[-1]!r} projects to {[p.post for p in nxt]}; NetX holds a chain")
        chain.append(nxt[0].post)
        ff.append(nxt[0])
    if len(chain) != len(net.populations) or len(ff) + len(rec) != len(net.projections):
        raise NetworkError("NetX export: every population must be on one feed-forward chain (self-recurrence "
                           f"allowed); chain {chain}, populations {list(net.populations)}")
    return chain, ff, rec


def _dense(proj) -> np.ndarray:
    """Effective integer weights: Lava's truncated mantissa times 2**weight_exp (>= 0)."""
    w = proj.weights.toarray() if sp.issparse(proj.weights) else np.asarray(proj.weights)
    return effective_weights(w, proj.num_weight_bits).astype(np.int64) * 2**proj.weight_exp


def export_netx_hdf5(net: Network, path) -> None:
    """Write `net` (fixed point, reset to zero, no delays) in lava-dl's NetX layout."""
    import h5py

    chain, ff, rec = _chain(net)
    biases = {}
    for name, proj in zip(chain[1:], ff):  # check everything before a file exists
        pop = net.populations[name]
        if not isinstance(pop, LoihiLIF) or pop.reset != "zero":
            raise NetworkError(f"NetX export: {name!r} must be a LoihiLIF resetting to zero (NetX's CUBA LIF)")
        for p in (proj, rec.get(name)):
            if p is not None and (np.any(p.delay) or p.weight_exp < 0):
                raise NetworkError(f"NetX export: projection {p.name!r} has delays or a negative weight_exp")
        biases[name] = pop.bias_mant * 2.0 ** (pop.bias_exp - NETX_BIAS_EXP)
        if np.any(biases[name] != np.round(biases[name])):
            raise NetworkError(f"NetX export: {name!r}: bias_mant * 2**(bias_exp - 6) must be an integer "
                               "(NetX fixes bias_exp = 6)")
    with h5py.File(path, "w") as f:
        layers = f.create_group("layer")
        for i, (name, proj) in enumerate(zip(chain[1:], ff)):
            pop, bias = net.populations[name], biases[name]
            g = layers.create_group(str(i))
            g["type"] = np.bytes_("dense_rec" if name in rec else "dense")
            g["shape"] = np.array([pop.n])
            g["weight"] = _dense(proj)
            if name in rec:
                g["weight_rec"] = _dense(rec[name])
            if np.any(bias):
                g["bias"] = np.broadcast_to(bias, (pop.n,)).astype(np.int64)
            n = g.create_group("neuron")
            n["type"] = np.bytes_("CUBA")
            n["iDecay"] = int(pop.du) + 1
            n["vDecay"] = int(pop.dv)
            n["vThMant"] = int(pop.vth)
            n["refDelay"] = 1
            n["gradedSpike"] = False


def read_netx_hdf5(path) -> Network:
    """The network a NetX file describes (dense and dense_rec layers of CUBA neurons)."""
    import h5py

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
