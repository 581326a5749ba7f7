"""Numba kernels of one time step and of a whole run. Pure functions over arrays.

A step t, as on Loihi: (1) neuron update of every compartment, reading the dendritic
accumulator slot of step t; (2) spike routing: each spike (and each host input spike)
sends one packet per out-axon, counted with its mesh hops; (3) synaptic delivery: each
arriving axon walks its synapse list into the slot of step t + 1 + delay; (4) the
negative-weight_exp scratch rows are shifted and flushed; (5) per-core latency of the
step from its event counts, then the barrier. Slow twins live in tests/reference/.
"""
import numpy as np

from .events import (AXONS_IN, DENDRITE_ACCUMS, HOPS_EW, HOPS_NS, N_EVENTS, PACKETS, SPIKES_OUT,
                     SYN_OPS, UPDATES_ACTIVE, UPDATES_INACTIVE)
from .neurons import ACT_SHIFT, DECAY_BITS, U_MAX, V_LIMIT
from .numba_config import njit

_WRAP24 = 2 * U_MAX
_TWO32 = 1 << 32
_TWO31 = 1 << 31


@njit
def wrap_int32(x):
    """Two's-complement wrap of an int64 to int32 range (what numpy int32 arithmetic does)."""
    return ((x + _TWO31) & (_TWO32 - 1)) - _TWO31


@njit
def decay_trunc0(x, factor):
    """trunc0(x * factor / 2**12): the product in int64, truncated toward zero."""
    p = x * factor
    if p < 0:
        return -((-p) >> DECAY_BITS)
    return p >> DECAY_BITS


@njit
def lif_fixed(u, v, a, du_fac, dv_fac, bias, vth):
    """One Loihi fixed-point LIF update; returns (u, v, spiked). See neurons.LoihiLIF."""
    u = wrap_int32(decay_trunc0(u, du_fac) + (a << ACT_SHIFT))
    if u > U_MAX:
        u -= _WRAP24
    elif u <= -U_MAX:
        u += _WRAP24
    v = wrap_int32(decay_trunc0(v, dv_fac) + u + bias)
    if v > V_LIMIT:
        v = V_LIMIT
    elif v < -V_LIMIT:
        v = -V_LIMIT
    if v > vth:
        return u, 0, True
    return u, v, False


@njit
def lif_float(u, v, a, du_fac, dv_fac, bias, vth):
    """One float LIF update, in Lava's order of operations; returns (u, v, spiked)."""
    u = u * du_fac + a
    v = v * dv_fac + u + bias
    if v > vth:
        return u, 0.0, True
    return u, v, False


@njit
def update_neurons(neuron_fn, slot, dend, u, v, nrn_row, du_fac, dv_fac, bias, vth, spikes, cnt):
    """Update every compartment from its accumulator slot; returns the number of spikes
    written to `spikes` (neuron ids, ascending)."""
    n_spk = 0
    for i in range(u.shape[0]):
        a = dend[slot, i]
        dend[slot, i] = 0
        r = nrn_row[i]
        if a != 0:
            cnt[r, DENDRITE_ACCUMS] += 1
        if a != 0 or u[i] != 0 or v[i] != 0 or bias[i] != 0:
            cnt[r, UPDATES_ACTIVE] += 1
        else:
            cnt[r, UPDATES_INACTIVE] += 1
        ui, vi, s = neuron_fn(u[i], v[i], a, du_fac[i], dv_fac[i], bias[i], vth[i])
        u[i] = ui
        v[i] = vi
        if s:
            spikes[n_spk] = i
            n_spk += 1
    return n_spk


@njit
def route_and_deliver(senders, n_send, tnext, dend, scratch, sc_dirty, n_dirty,
                      out_ptr, out_axon, out_ew, out_ns, sender_row, axon_row,
                      syn_ptr, syn_tgt, syn_w, syn_dly, sc_ptr, sc_row, sc_w, sc_dly, cnt):
    """Send each sender's packets and walk the synapses of every arriving axon.

    Direct synapses add into dend[(tnext + delay) % R]; scratch synapses into
    scratch[delay, row], remembered in sc_dirty for the flush. Returns n_dirty.
    """
    R = dend.shape[0]
    for k in range(n_send):
        s = senders[k]
        r = sender_row[s]
        cnt[r, SPIKES_OUT] += 1
        for e in range(out_ptr[s], out_ptr[s + 1]):
            ax = out_axon[e]
            cnt[r, PACKETS] += 1
            cnt[r, HOPS_EW] += out_ew[e]
            cnt[r, HOPS_NS] += out_ns[e]
            d = axon_row[ax]
            cnt[d, AXONS_IN] += 1
            cnt[d, SYN_OPS] += (syn_ptr[ax + 1] - syn_ptr[ax]) + (sc_ptr[ax + 1] - sc_ptr[ax])
            for j in range(syn_ptr[ax], syn_ptr[ax + 1]):
                dend[(tnext + syn_dly[j]) % R, syn_tgt[j]] += syn_w[j]
            for j in range(sc_ptr[ax], sc_ptr[ax + 1]):
                dl = sc_dly[j]
                row = sc_row[j]
                if scratch[dl, row] == 0:
                    sc_dirty[n_dirty, 0] = dl
                    sc_dirty[n_dirty, 1] = row
                    n_dirty += 1
                scratch[dl, row] += sc_w[j]
    return n_dirty


@njit
def flush_scratch(tnext, dend, scratch, sc_dirty, n_dirty, sc_comp, sc_shift):
    """Shift each touched scratch sum right (floor) and add it to its compartment's slot."""
    R = dend.shape[0]
    for k in range(n_dirty):
        dl = sc_dirty[k, 0]
        row = sc_dirty[k, 1]
        dend[(tnext + dl) % R, sc_comp[row]] += scratch[dl, row] >> sc_shift[row]
        scratch[dl, row] = 0
    return 0


@njit
def step_latency(cnt_step, cnt_total, latency_ns, barrier_ns, core_busy, core_time):
    """Fold a step's counts into the totals; per-core time = sum(count x latency); the
    step takes the slowest core plus the barrier (NaN if any latency is unknown)."""
    n_cores = cnt_step.shape[0] - 1  # the last row is the host
    worst = 0.0
    for r in range(cnt_step.shape[0]):
        tc = 0.0
        for k in range(N_EVENTS):
            c = cnt_step[r, k]
            cnt_total[r, k] += c
            if c != 0 or np.isnan(latency_ns[k]):
                tc += c * latency_ns[k]
            cnt_step[r, k] = 0
        if r < n_cores:
            core_busy[r] += tc
            core_time[r] = tc
            if np.isnan(tc) or np.isnan(worst):
                worst = np.nan
            elif tc > worst:
                worst = tc
    return worst + barrier_ns


@njit
def run(neuron_fn, steps, t0, u, v, dend, scratch, sc_dirty,
        nrn_row, du_fac, dv_fac, bias, vth,
        in_ptr, in_idx, n_neurons,
        out_ptr, out_axon, out_ew, out_ns, sender_row, axon_row,
        syn_ptr, syn_tgt, syn_w, syn_dly, sc_ptr, sc_row, sc_w, sc_dly, sc_comp, sc_shift,
        latency_ns, barrier_ns,
        cnt_total, core_busy, step_lat, rec_col, rec_spk, rec_u, rec_v, rec_core_time, spike_count):
    """Run `steps` steps from absolute step t0; state arrays are updated in place.

    neuron_fn is `lif_fixed` or `lif_float` (Numba specialises the loop for each).

    Inputs: the host channels spiking at step t are in_idx[in_ptr[t]:in_ptr[t+1]].
    Recording: neuron i goes to column rec_col[i] (-1: not recorded) of rec_spk/rec_u/rec_v,
    each of which has 0 rows when not requested; rec_core_time likewise.
    """
    N = n_neurons
    senders = np.empty(N + in_idx.shape[0] + 1, dtype=np.int64)
    cnt_step = np.zeros_like(cnt_total)
    core_time = np.zeros(cnt_total.shape[0] - 1)
    R = dend.shape[0]
    for t in range(steps):
        tabs = t0 + t
        n_send = update_neurons(neuron_fn, tabs % R, dend, u, v, nrn_row, du_fac, dv_fac, bias, vth,
                                senders, cnt_step)
        for k in range(n_send):
            spike_count[senders[k]] += 1
        if rec_spk.shape[0] > 0:
            for k in range(n_send):
                c = rec_col[senders[k]]
                if c >= 0:
                    rec_spk[t, c] = True
        if rec_u.shape[0] > 0 or rec_v.shape[0] > 0:
            for i in range(N):
                c = rec_col[i]
                if c >= 0:
                    if rec_u.shape[0] > 0:
                        rec_u[t, c] = u[i]
                    if rec_v.shape[0] > 0:
                        rec_v[t, c] = v[i]
        for j in range(in_ptr[t], in_ptr[t + 1]):
            senders[n_send] = N + in_idx[j]
            n_send += 1
        n_dirty = route_and_deliver(senders, n_send, tabs + 1, dend, scratch, sc_dirty, 0,
                                    out_ptr, out_axon, out_ew, out_ns, sender_row, axon_row,
                                    syn_ptr, syn_tgt, syn_w, syn_dly, sc_ptr, sc_row, sc_w, sc_dly,
                                    cnt_step)
        flush_scratch(tabs + 1, dend, scratch, sc_dirty, n_dirty, sc_comp, sc_shift)
        step_lat[t] = step_latency(cnt_step, cnt_total, latency_ns, barrier_ns, core_busy, core_time)
        if rec_core_time.shape[0] > 0:
            rec_core_time[t, :] = core_time
