"""A neurochip network as a NIR graph: the inverse of `neurochip.mapping.nir.importer`.

Every population becomes one neuron node, every projection one Linear node (Affine when a
bias channel feeds the population), a Delay node where the projection has a delay, and
spike sources become Input nodes. With the `Imported` record of an earlier import, the
normalisation of thresholds is undone and the timing delays added for "framework" timing
are taken out again, so a graph in this canonical form comes back as it went in; a plain
network is written in its own units (v_reset 0, r = 1 / (dt/tau) so weights are unchanged).
Every population is written through its model's `float_view()`, the float CUBA LIF that
computes the same; for fixed-point models that view is in units of the kernel threshold
(decays / 4096, weights and thresholds in units of vth << 6).
"""
from __future__ import annotations

import numpy as np

from neurochip.mapping.nir.importer import BIAS, Imported
from neurochip.mapping.quantize import dense_weights
from neurochip.model.errors import NetworkError
from neurochip.model.fixed import ACT_SHIFT, NEVER_VTH_FLOAT
from neurochip.model.network import Network


def _tau(a, dt, how):
    a = np.asarray(a, dtype=np.float64)
    return dt / a if how == "euler" else -dt / np.log1p(-a)


def _weights(proj, pop):
    w = dense_weights(proj)
    if pop.fixed_point:  # (w << weight_exp) << 6 in the float view's units: kernel vth = view vth
        w = w * 2.0 ** (proj.weight_exp + ACT_SHIFT) * pop.float_view()[2] / (float(pop.kernel_arrays()["vth"]) or 1.0)
    return w


def to_nir(net: Network, dt: float, imported: Imported | None = None, outputs: dict | None = None):
    """The NIR graph of `net` (see the module docstring)."""
    import nir

    how = imported.discretization if imported else "euler"
    units = imported.units if imported else {}
    timing = imported.timing_delay if imported else {}
    outputs = outputs if outputs is not None else (imported.outputs if imported else {})
    nodes, edges = {}, []
    for name, pop in net.populations.items():
        if not pop.on_chip and name != BIAS:
            nodes[name] = nir.Input(np.array((imported and imported.shapes.get(name)) or [pop.n]))
    gains = {}
    for name in net.neurons():
        nodes[name], gains[name] = _neuron_node(nir, net.populations[name], dt, how, units.get(name))
    for name in net.neurons():
        pop = net.populations[name]
        incoming = [p for p in net.projections if p.post == name]
        biases = [_weights(p, pop)[:, 0] for p in incoming if p.pre == BIAS]
        if type(nodes[name]).__name__ in ("IF", "I", "Threshold"):  # no v_leak: the bias rides on the input
            biases.append(pop.float_view()[3])
        bias = sum(biases) if any(np.any(b) for b in biases) else None
        inputs = [p for p in incoming if p.pre != BIAS]
        if bias is not None and not inputs:
            raise NetworkError(f"population {name!r} has a bias channel but no other input to carry it")
        for i, proj in enumerate(inputs):
            w = _weights(proj, pop)
            lin = f"{proj.name}:w".replace("/", "_")  # '/' would nest HDF5 groups
            if bias is not None and i == 0:
                nodes[lin] = nir.Affine(weight=w / gains[name][:, None], bias=bias / gains[name])
            else:
                nodes[lin] = nir.Linear(weight=w / gains[name][:, None])
            edges.append((proj.pre, lin))
            d = np.asarray(proj.delay) - timing.get(proj.name, 0)
            if np.any(d):
                if d.ndim and np.unique(d[np.nonzero(w)]).size > 1:
                    raise NetworkError(f"projection {proj.name!r} has per-synapse delays; NIR's Delay node is "
                                       "per channel, so it cannot be written")
                dly = lin[:-2] + ":d"
                nodes[dly] = nir.Delay(delay=np.full(pop.n, int(d.max()) * dt))
                edges += [(lin, dly), (dly, name)]
            else:
                edges.append((lin, name))
    for out, pop in outputs.items():
        nodes[out] = nir.Output(np.array(imported.shapes[pop] if imported else [net.populations[pop].n]))
        edges.append((pop, out))
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def _neuron_node(nir, pop, dt, how, u):
    """(NIR node, per-neuron input gain) for one population; u is its import record or None."""
    n = pop.n
    du, dv, vth, bias = pop.float_view()
    scale = u["scale"] if u else np.ones(n)  # a plain network in its own units
    v_reset = u["v_reset"] if u else np.zeros(n)
    kind = u["kind"] if u else ("IF" if dv == 0 and du == 1 else "LIF" if du == 1 else "CubaLIF")
    if vth >= NEVER_VTH_FLOAT / 2 and kind in ("LIF", "CubaLIF", "IF"):
        kind = {"LIF": "LI", "CubaLIF": "CubaLI", "IF": "I"}[kind]
    v_th = v_reset + vth / scale
    if kind == "Threshold":
        return nir.Threshold(threshold=v_th), scale
    r = u["r"] if u else np.full(n, 1.0 / dv if dv else 1.0)
    w_in = u["w_in"] if u else np.ones(n)
    node = getattr(nir, kind)  # the NIR class of the same name
    spiking = dict(v_threshold=v_th, v_reset=v_reset) if kind in ("LIF", "CubaLIF", "IF") else {}
    if kind in ("IF", "I"):
        return node(r=r, **spiking), r * scale
    membrane = dict(r=r, v_leak=bias / (dv * scale) + v_reset, **spiking)
    tau_mem = np.full(n, _tau(dv, dt, how))
    if kind in ("CubaLIF", "CubaLI"):
        tau_syn = np.full(n, _tau(du, dt, how))
        return node(tau_syn=tau_syn, tau_mem=tau_mem, w_in=w_in, **membrane), dv * r * scale * du * w_in
    return node(tau=tau_mem, **membrane), dv * r * scale
