"""A neurochip network as a lava-dl NetX HDF5 file (tests/reference/netx.py reads it back).

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

NETX_BIAS_EXP = 6


def _chain(net: Network):
    sources = net.sources()
    if len(sources) != 1:
        raise NetworkError(f"NetX export: needs exactly one SpikeSource, the network has {sources}")
    chain, ff = [sources[0]], []
    rec = {p.post: p for p in net.projections if p.pre == p.post}
    while nxt := [p for p in net.projections if p.pre == chain[-1] and p.post != p.pre]:
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
    lifs, biases = {}, {}
    for name, proj in zip(chain[1:], ff):  # check everything before a file exists
        pop = net.populations[name]
        try:
            if not pop.fixed_point:
                raise NetworkError(f"{type(pop).__name__} is not fixed point")
            if pop.lava_process != "LIF":
                raise NetworkError(f"{type(pop).__name__} is Lava's {pop.lava_process}, not a LIF")
            lifs[name] = lif = pop.lava_lif()
        except NetworkError as err:
            raise NetworkError(f"NetX export: {name!r} must be a fixed-point LIF resetting to zero (NetX's CUBA "
                               f"LIF): {err}") from None
        for p in (proj, rec.get(name)):
            if p is not None and (np.any(p.delay) or p.weight_exp < 0):
                raise NetworkError(f"NetX export: projection {p.name!r} has delays or a negative weight_exp")
        biases[name] = lif["bias_mant"] * 2.0 ** (lif["bias_exp"] - NETX_BIAS_EXP)
        if np.any(biases[name] != np.round(biases[name])):
            raise NetworkError(f"NetX export: {name!r}: bias_mant * 2**(bias_exp - 6) must be an integer "
                               "(NetX fixes bias_exp = 6)")
    with h5py.File(path, "w") as f:
        layers = f.create_group("layer")
        for i, (name, proj) in enumerate(zip(chain[1:], ff)):
            lif, bias = lifs[name], biases[name]
            g = layers.create_group(str(i))
            g["type"] = np.bytes_("dense_rec" if name in rec else "dense")
            g["shape"] = np.array([net.populations[name].n])
            g["weight"] = _dense(proj)
            if name in rec:
                g["weight_rec"] = _dense(rec[name])
            if np.any(bias):
                g["bias"] = bias.astype(np.int64)
            n = g.create_group("neuron")
            n["type"] = np.bytes_("CUBA")
            n["iDecay"] = lif["du"] + 1
            n["vDecay"] = lif["dv"]
            n["vThMant"] = lif["vth"]
            n["refDelay"] = 1
            n["gradedSpike"] = False

