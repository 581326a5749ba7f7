"""Slow twin of analog (graded) host input: Lava's graded Dense transcribed step by step, and the
events it counts recounted with plain loops. Written apart from the kernels: it shares no code
with neurochip but the network types (the LIF updates are `lava_like`'s, a reference too).

Lava (lava-nc 0.10, `PyDenseModelBitAcc.run_spk` with num_message_bits > 0):
    a_accum = weights.dot(s_in)           int32 weights, int32 payloads: an int32 dot product
    a_buff  = a_accum << weight_exp  (or >> -weight_exp, floor)
sent one step later; float (`PyDenseModelFloat`): a_buff = weights.dot(s_in).
Graded-spike neurons (lava-nc 0.10, `lava.proc.graded` `PyGradedVecModelFixed.run_spk`):
    v = int32 a_in;  s_out = v * (np.abs(v) > vth)     (GradedReluVec: v * (v > vth))
their s_out feeding graded Dense as a GradedSource's payloads do.
"""
import numpy as np

from neurochip.model.neurons import FloatLIF, GradedReluVec, GradedSource, GradedVec, LoihiLIF, SpikeSource
from tests.reference.lava_like import _dense_weights, _lif_fixed, _lif_float


def wrap32(x):
    return ((np.asarray(x, dtype=np.int64) + 2**31) % 2**32) - 2**31


def payloads(pop, x, bits):
    """The fixed-point payload of each value: rint(x / scale), clipped to `bits` signed bits."""
    q = np.array([[round_half_even(v / pop.scale) for v in row] for row in np.asarray(x, dtype=float)])
    return np.clip(q, -(2 ** (bits - 1)), 2 ** (bits - 1) - 1).astype(np.int64)


def round_half_even(v):
    f = np.floor(v)
    if v - f != 0.5:
        return f + (v - f > 0.5)
    return f if f % 2 == 0 else f + 1


def source_values(net, steps, inputs, bits):
    """{source: (steps, n)} what each source sends: bools, payloads (fixed) or values (float)."""
    fixed = net.fixed_point
    out = {}
    for k, p in net.populations.items():
        if isinstance(p, GradedSource):
            x = np.asarray(inputs.get(k, np.zeros((steps, p.n))), dtype=float)
            out[k] = payloads(p, x, bits) if fixed else x
        elif isinstance(p, SpikeSource):
            out[k] = np.asarray(inputs.get(k, np.zeros((steps, p.n)))).astype(bool)
    return out


def graded_vec(pop, a_in):
    """One step of Lava's fixed-point GradedVec / GradedReluVec on input a_in: its s_out."""
    v = wrap32(a_in).astype(np.int32)
    passes = v > pop.vth if isinstance(pop, GradedReluVec) else np.abs(v) > pop.vth   # int32 abs, as Lava's
    return v.astype(np.int64) * passes


def simulate(net, steps, inputs=None, bits=24):
    """spikes[pop] (steps, n), u, v traces of every LIF population, with graded sources, and of
    every graded-spike neuron population (spikes: s_out != 0, v: s_out, u: 0)."""
    fixed = net.fixed_point
    inputs = inputs or {}
    pops = net.populations
    sent = source_values(net, steps, inputs, bits)
    state = {k: (np.asarray(p.u0).astype(np.int32 if fixed else np.float64).copy(),
                 np.asarray(p.v0).astype(np.int32 if fixed else np.float64).copy())
             for k, p in pops.items() if isinstance(p, (LoihiLIF, FloatLIF))}
    vecs = [k for k, p in pops.items() if isinstance(p, (GradedVec, GradedReluVec))]
    conns = []
    for proj in net.projections:
        d = np.broadcast_to(proj.delay, proj.shape)
        conns.append(dict(proj=proj, w=_dense_weights(proj, fixed), d=d, maxd=int(d.max()),
                          graded=isinstance(pops[proj.pre], (GradedSource, GradedVec, GradedReluVec)),
                          buf=np.zeros((proj.shape[0], int(d.max()) + 1), dtype=np.int64 if fixed else np.float64)))
    spikes = {k: np.zeros((steps, pops[k].n), dtype=bool) for k in [*state, *vecs]}
    tr_u = {k: np.zeros((steps, pops[k].n)) for k in [*state, *vecs]}
    tr_v = {k: np.zeros((steps, pops[k].n)) for k in [*state, *vecs]}
    for t in range(steps):
        a_in = {k: np.zeros(pops[k].n, dtype=np.int64 if fixed else np.float64) for k in [*state, *vecs]}
        for c in conns:
            a_in[c["proj"].post] += c["buf"][:, 0]
            c["buf"] = np.roll(c["buf"], -1, axis=1)
            c["buf"][:, -1] = 0
        out = {}
        for k in state:
            fn = _lif_fixed if fixed else _lif_float
            u, v, s = fn(pops[k], *state[k], a_in[k])
            state[k] = (u, v)
            tr_u[k][t], tr_v[k][t], spikes[k][t] = u, v, s
            out[k] = s
        for k in vecs:
            out[k] = tr_v[k][t] = graded_vec(pops[k], a_in[k])
            spikes[k][t] = out[k] != 0
        for c in conns:
            pre = c["proj"].pre
            s = sent[pre][t] if pre in sent else out[pre]
            for k in range(c["maxd"] + 1):
                w = np.where(c["d"] == k, c["w"], 0)
                if not fixed:
                    act = w @ s.astype(np.float64)
                elif c["graded"]:
                    act = wrap32([sum(int(w[i, j]) * int(s[j]) for j in range(len(s))) for i in range(w.shape[0])])
                else:
                    act = w.astype(np.int64) @ s.astype(np.int64)
                if fixed:
                    e = c["proj"].weight_exp
                    act = np.left_shift(act, e) if e > 0 else np.right_shift(act, -e)
                c["buf"][:, k] += act
    return spikes, tr_u, tr_v


def count_graded(net, program, chip, values, host_side):
    """Events of graded senders alone ({graded source or graded-spike neuron population: (steps, n)}
    of what they send), with plain loops: graded spikes (a spike per non-zero value, a packet per
    destination core with its hops from the sender's tile, the host's (0, 0) or its core's, an
    axon there, a synaptic op per synapse) or, host_side, the host's own multiply-accumulates
    (syn_ops on the host) and one packet per compartment written a step."""
    fixed = net.fixed_point
    core = {}
    for name, sl in program.pop_slices.items():
        for i in range(sl.stop - sl.start):
            core[(name, i)] = int(program.core_ids[program.nrn_row[sl.start + i]])
    totals = dict(syn_ops=0, spikes_out=0, packets=0, hops_ew=0, hops_ns=0, axons_in=0)
    for name, x in values.items():
        for t in range(len(x)):
            written = set()
            for i in range(x.shape[1]):
                if x[t, i] == 0:
                    continue
                targets = [(p.post, j) for p in net.projections if p.pre == name
                           for j in range(p.shape[0]) if _dense_weights(p, fixed)[j, i] != 0]
                totals["syn_ops"] += len(targets)
                if host_side:
                    written |= set(targets)
                    continue
                totals["spikes_out"] += 1
                x0, y0 = chip.core_xy(core[(name, i)]) if (name, i) in core else (0, 0)
                for c in {core[tg] for tg in targets}:
                    x1, y1 = chip.core_xy(c)
                    totals["packets"] += 1
                    totals["axons_in"] += 1
                    totals["hops_ew"] += abs(x1 - x0)
                    totals["hops_ns"] += abs(y1 - y0)
            for tg in written:
                x1, y1 = chip.core_xy(core[tg])
                totals["packets"] += 1
                totals["hops_ew"] += abs(x1)
                totals["hops_ns"] += abs(y1)
    return totals
