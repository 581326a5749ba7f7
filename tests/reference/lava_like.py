"""Slow, obviously correct reference: Lava's process semantics transcribed step by step.

Each projection is a Lava (Delay)Dense with its own activation buffer; each LIF follows
Lava's `AbstractPyLifModelFixed.subthr_dynamics` with numpy int32 arrays, or the float
model. Counters are recounted from the spike raster and the placement, with plain loops.
Written apart from the kernels: it shares no code with neurochip but the network types.
"""
import numpy as np

from neurochip.model.fixed import effective_weights, sign_mode
from neurochip.model.neurons import FloatLIF, LoihiLIF, SpikeSource


def _dense_weights(proj, fixed):
    w = proj.weights.toarray() if hasattr(proj.weights, "toarray") else np.asarray(proj.weights)
    if not fixed:
        return w.astype(np.float64)
    return effective_weights(w.astype(np.int64), proj.num_weight_bits, sign_mode(w)).astype(np.int32)


def _lif_fixed(pop, u, v, a_in):
    """Lava PyLifModelBitAcc.run_spk on int32 arrays."""
    bias_mant = np.asarray(pop.bias_mant).astype(np.int32)
    bias_exp = np.asarray(pop.bias_exp)
    eff_bias = np.where(bias_exp >= 0, np.left_shift(bias_mant, np.maximum(bias_exp, 0)),
                        np.right_shift(bias_mant, np.maximum(-bias_exp, 0))).astype(np.int32)
    decayed = np.int64(u) * (4096 - (int(pop.du) + 1))
    decayed = np.int32(np.sign(decayed) * np.right_shift(np.abs(decayed), 12))
    decayed = decayed + np.left_shift(a_in.astype(np.int32), 6)          # int32 arithmetic
    wrapped = np.where(decayed > 2**23, decayed - 2**24, decayed)
    wrapped = np.where(wrapped <= -(2**23), decayed + 2**24, wrapped).astype(np.int32)
    u = wrapped
    dv = np.int64(v) * (4096 - int(pop.dv))
    dv = np.int32(np.sign(dv) * np.right_shift(np.abs(dv), 12))
    v = np.clip(dv + u + eff_bias, -(2**23) + 1, 2**23 - 1).astype(np.int32)
    s = v > (int(pop.vth) << 6)
    v[s] = v[s] - (int(pop.v_sub) << 6) if pop.reset == "subtract" else 0
    return u, v, s


def _lif_float(pop, u, v, a_in):
    u = u * (1 - pop.du)
    u = u + a_in
    v = v * (1 - pop.dv) + u + pop.bias
    s = v > pop.vth
    v = v.copy()
    v[s] = v[s] - pop.v_sub if pop.reset == "subtract" else 0
    return u, v, s


def simulate(net, steps, inputs=None):
    """Returns spikes[pop] (steps, n), u[pop], v[pop] traces, for every population."""
    fixed = net.fixed_point
    inputs = inputs or {}
    pops = net.populations
    state = {k: (np.asarray(p.u0).astype(np.int32 if fixed else np.float64).copy(),
                 np.asarray(p.v0).astype(np.int32 if fixed else np.float64).copy())
             for k, p in pops.items() if not isinstance(p, SpikeSource)}
    conns = []
    for proj in net.projections:
        d = np.broadcast_to(proj.delay, proj.shape)
        maxd = int(d.max())
        conns.append(dict(proj=proj, w=_dense_weights(proj, fixed), d=d, maxd=maxd,
                          buf=np.zeros((proj.shape[0], maxd + 1), dtype=np.int64 if fixed else np.float64)))
    out = {k: np.zeros((steps, p.n), dtype=bool) for k, p in pops.items()}
    tr_u = {k: np.zeros((steps, pops[k].n), dtype=np.float64) for k in state}
    tr_v = {k: np.zeros((steps, pops[k].n), dtype=np.float64) for k in state}
    prev = {k: np.zeros(p.n, dtype=bool) for k, p in pops.items()}
    for t in range(steps):
        # each connection sends its buffered activation (from spikes of step t-1)
        a_in = {k: np.zeros(pops[k].n, dtype=np.int64 if fixed else np.float64) for k in state}
        for c in conns:
            a_in[c["proj"].post] += c["buf"][:, 0]
            c["buf"] = np.roll(c["buf"], -1, axis=1)
            c["buf"][:, -1] = 0
        for k, p in pops.items():
            if isinstance(p, SpikeSource):
                s = np.asarray(inputs.get(k, np.zeros((steps, p.n))))[t].astype(bool)
            else:
                u, v = state[k]
                fn = _lif_fixed if isinstance(p, LoihiLIF) else _lif_float
                assert isinstance(p, (LoihiLIF, FloatLIF))
                u, v, s = fn(p, u, v, a_in[k])
                state[k] = (u, v)
                tr_u[k][t], tr_v[k][t] = u, v
            out[k][t] = s
            prev[k] = s
        # each connection receives this step's spikes; delay k lands k steps later
        for c in conns:
            s = prev[c["proj"].pre]
            for k in range(c["maxd"] + 1):
                act = np.where(c["d"] == k, c["w"], 0) @ s.astype(c["w"].dtype)
                if fixed:
                    act = act.astype(np.int64)
                    e = c["proj"].weight_exp
                    act = np.left_shift(act, e) if e > 0 else np.right_shift(act, -e)
                c["buf"][:, k] += act
    return out, tr_u, tr_v


def count_events(net, program, chip, spikes, inputs=None):
    """Recount routing and delivery events from spike rasters, with plain loops.

    Returns ({kind: total} for syn_ops, spikes_out, packets, hops_ew, hops_ns, axons_in,
    {chip core: syn_ops}). A packet goes to each distinct core a spike has synapses on;
    host inputs enter at tile (0, 0).
    """
    fixed = net.fixed_point
    core = {}
    for name, sl in program.pop_slices.items():
        for i in range(sl.stop - sl.start):
            core[(name, i)] = int(program.core_ids[program.nrn_row[sl.start + i]])
    fan = {}  # (pop, i) -> one target core per synapse
    for proj in net.projections:
        w = _dense_weights(proj, fixed)
        for i in range(proj.shape[1]):
            for j in range(proj.shape[0]):
                if w[j, i] != 0:
                    fan.setdefault((proj.pre, i), []).append(core[(proj.post, j)])
    totals = dict(syn_ops=0, spikes_out=0, packets=0, hops_ew=0, hops_ns=0, axons_in=0)
    per_core = {}
    rasters = dict(spikes)
    rasters.update(inputs or {})
    for name, raster in rasters.items():
        raster = np.asarray(raster, dtype=bool)
        for t in range(raster.shape[0]):
            for i in np.flatnonzero(raster[t]):
                x0, y0 = chip.core_xy(core[(name, i)]) if (name, i) in core else (0, 0)
                targets = fan.get((name, i), [])
                totals["spikes_out"] += 1
                totals["syn_ops"] += len(targets)
                for c in set(targets):
                    x1, y1 = chip.core_xy(c)
                    totals["packets"] += 1
                    totals["axons_in"] += 1
                    totals["hops_ew"] += abs(x1 - x0)
                    totals["hops_ns"] += abs(y1 - y0)
                for c in targets:
                    per_core[c] = per_core.get(c, 0) + 1
    return totals, per_core
