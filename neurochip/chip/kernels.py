"""Numba kernels of one time step and of a whole run. Pure functions over arrays.

A step t, as on Loihi: (1) neuron update of every compartment, reading the dendritic
accumulator slot of step t, each population by its model's kernel (`KERNELS`; populations
are contiguous in neuron ids, so the program lists runs of neurons and their kernel); (2)
spike routing: each spike (and each host input spike) sends one packet per out-axon,
counted with its mesh hops; (3) synaptic delivery: each
arriving axon walks its synapse list into the slot of step t + 1 + delay; (4) the
negative-weight_exp scratch rows are shifted and flushed; (5) per-core latency of the
step from its event counts, then the barrier. Analog host input (graded payloads) is
delivered after (2)-(4) by `deliver_graded`, into the same slots. Slow twins live in
tests/reference/.
"""
import numpy as np
from numba import types
from numba.extending import overload

from neurochip.model.events import (AXONS_IN, DENDRITE_ACCUMS, HOPS_EW, HOPS_NS, N_EVENTS, PACKETS, SPIKES_OUT,
                                    SYN_OPS, UPDATES_ACTIVE, UPDATES_INACTIVE)
from neurochip.model.fixed import ACT_SHIFT, clip_v, decay_trunc0, wrap24, wrap_int32
from neurochip.model.numba_config import OPTIONS, njit

# Neuron-update kernels update compartments lo..hi-1 (default: all) and write one flag byte
# per compartment: INPUT (non-zero dendritic input), ACTIVE (counted as an active update),
# SPIKED. The LIF kernels (sub[i] > 0: subtractive reset v -= sub[i], else v = 0) are
# branch-free so that the loop vectorises.
INPUT, ACTIVE, SPIKED = 1, 2, 4
LIF, B1 = 0, 1
KERNELS = {"lif": LIF, "b1": B1}   # NeuronModel.kernel -> kernel kind of a run


@njit
def v_fixed(vo, x, dv_fac, bias):
    """Loihi's v before the spike test: clip(trunc0(v (4096 - dv) / 4096) + u + bias)."""
    return clip_v(wrap_int32(decay_trunc0(vo, dv_fac) + x + bias))


@njit
def v_float(vo, x, dv_fac, bias):
    """The float LIF's v before the spike test, in Lava's order."""
    return vo * dv_fac + x + bias


def v_before_reset(vo, x, dv_fac, bias):
    """v_fixed or v_float, chosen by the state's dtype at compile time."""
    return v_fixed(vo, x, dv_fac, bias) if isinstance(vo, (int, np.integer)) else v_float(vo, x, dv_fac, bias)


@overload(v_before_reset, jit_options=OPTIONS)
def _v_before_reset_typed(vo, x, dv_fac, bias):
    if isinstance(vo, types.Integer):
        return lambda vo, x, dv_fac, bias: v_fixed(vo, x, dv_fac, bias)
    return lambda vo, x, dv_fac, bias: v_float(vo, x, dv_fac, bias)


@njit
def lif_fixed_update(slot, dend, u, v, du_fac, dv_fac, bias, vth, sub, flags, lo=0, hi=-1):
    """Loihi fixed-point LIF (see neurons.LoihiLIF)."""
    # unsigned indices: no negative-index wraparound test, so the loop vectorises
    for i in range(np.uint64(lo), np.uint64(u.shape[0] if hi < 0 else hi)):
        a = dend[slot, i]
        dend[slot, i] = 0
        uo = u[i]
        vo = v[i]
        busy = (a != 0) | (uo != 0) | (vo != 0) | (bias[i] != 0)
        x = wrap24(wrap_int32(decay_trunc0(uo, du_fac[i]) + (a << ACT_SHIFT)))
        y = v_fixed(vo, x, dv_fac[i], bias[i])
        s = y > vth[i]
        u[i] = x
        v[i] = (y - sub[i] if sub[i] > 0 else 0) if s else y
        flags[i] = np.uint8((a != 0) * INPUT + busy * ACTIVE + s * SPIKED)


@njit
def lif_float_update(slot, dend, u, v, du_fac, dv_fac, bias, vth, sub, flags, lo=0, hi=-1):
    """Float LIF (see neurons.FloatLIF), in Lava's order of operations."""
    for i in range(np.uint64(lo), np.uint64(u.shape[0] if hi < 0 else hi)):
        a = dend[slot, i]
        dend[slot, i] = 0
        busy = (a != 0) | (u[i] != 0) | (v[i] != 0) | (bias[i] != 0)
        x = u[i] * du_fac[i] + a
        y = v_float(v[i], x, dv_fac[i], bias[i])
        s = y > vth[i]
        u[i] = x
        v[i] = (y - sub[i] if sub[i] > 0 else 0.0) if s else y
        flags[i] = np.uint8((a != 0) * INPUT + busy * ACTIVE + s * SPIKED)


def lif_update(slot, dend, u, v, du_fac, dv_fac, bias, vth, sub, flags, lo, hi):
    """Fixed or float LIF update, chosen by the state's dtype at compile time."""
    fn = lif_fixed_update if np.issubdtype(u.dtype, np.integer) else lif_float_update
    fn(slot, dend, u, v, du_fac, dv_fac, bias, vth, sub, flags, lo, hi)


@overload(lif_update, jit_options=OPTIONS)
def _lif_update_typed(slot, dend, u, v, du_fac, dv_fac, bias, vth, sub, flags, lo, hi):
    # Type dispatch inside compiled code (first-class function arguments break the cache).
    # The implementations call the kernels rather than being their py_func: a py_func compiled
    # here would be cached under the kernel's own name, and the kernel called directly later
    # in the process would load that entry and crash.
    if isinstance(u.dtype, types.Integer):
        def fixed(slot, dend, u, v, du_fac, dv_fac, bias, vth, sub, flags, lo, hi):
            lif_fixed_update(slot, dend, u, v, du_fac, dv_fac, bias, vth, sub, flags, lo, hi)
        return fixed

    def floating(slot, dend, u, v, du_fac, dv_fac, bias, vth, sub, flags, lo, hi):
        lif_float_update(slot, dend, u, v, du_fac, dv_fac, bias, vth, sub, flags, lo, hi)
    return floating


@njit
def b1_update(t, slot, dend, u, v, ramp_start, ramp_steps, ramp_slope, vth, flags, lo, hi):
    """B1 time-to-first-spike neurons (see neurons.B1) at step t. An update is active with
    input, while it integrates a non-zero state, and in its window until it fires."""
    for i in range(lo, hi):
        a = dend[slot, i]
        dend[slot, i] = 0
        k = t - ramp_start[i]
        busy = (a != 0) | ((k <= 0) & ((u[i] != 0) | (v[i] != 0)))
        if k <= 0:  # integrate: the input current is the slope
            u[i] += a
        y = v[i] + (u[i] if k <= 0 else a)  # after the start the slope is fixed; a late input only lifts v
        live = (0 <= k < ramp_steps[i]) & (y > -np.inf)  # -inf: fired already
        s = live & (y + k * ramp_slope[i] >= vth[i])  # the ramp evaluated, not accumulated
        v[i] = -np.inf if s else y
        flags[i] = np.uint8((a != 0) * INPUT + (busy | live) * ACTIVE + s * SPIKED)


_SPIKED_IN_WORD = 0x0404040404040404  # the SPIKED bit of 8 flag bytes read as one uint64


@njit
def collect_spikes(flags, words, run_ptr, run_row, spikes, cnt):
    """Count updates per core from the flags and list the spiking neurons (ascending);
    returns the number of spikes.

    Neurons k in [run_ptr[j], run_ptr[j+1]) sit on core row run_row[j] (runs of one core).
    `words` is `flags` viewed as uint64 (flags padded to a multiple of 8 with zeros), so
    that 8 silent neurons are skipped with one test.
    """
    for j in range(run_row.shape[0]):
        n_in = 0
        n_active = 0
        for i in range(run_ptr[j], run_ptr[j + 1]):
            f = np.int64(flags[i])
            n_in += f & INPUT
            n_active += (f & ACTIVE) >> 1
        r = run_row[j]
        cnt[r, DENDRITE_ACCUMS] += n_in
        cnt[r, UPDATES_ACTIVE] += n_active
        cnt[r, UPDATES_INACTIVE] += (run_ptr[j + 1] - run_ptr[j]) - n_active
    n_spk = 0
    for w in range(words.shape[0]):
        if words[w] & _SPIKED_IN_WORD:
            for i in range(8 * w, 8 * w + 8):
                if flags[i] & SPIKED:
                    spikes[n_spk] = i
                    n_spk += 1
    return n_spk


@njit
def _add_row(dst, w):
    """dst += w: a contiguous run of targets (vectorises)."""
    for q in range(dst.shape[0]):
        dst[q] += w[q]


@njit
def route_and_deliver(senders, n_send, tnext, dend, scratch, sc_mark, sc_dirty, n_dirty,
                      out_ptr, out_axon, out_ew, out_ns, sender_row, axon_row,
                      syn_ptr, syn_tgt, syn_w, syn_dly, ax_dly, ax_t0, sc_ptr, sc_row, sc_w, sc_dly, cnt):
    """Send each sender's packets and walk the synapses of every arriving axon.

    Direct synapses add into dend[(tnext + delay) % R]; scratch synapses into
    scratch[delay, row], remembered in sc_dirty for the flush. Returns n_dirty.
    """
    R = dend.shape[0]
    base = tnext % R
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
            dl = ax_dly[ax]
            if dl >= 0:  # one delay for the axon's synapses: one slot, a 1-D scatter (twice as fast)
                slot = base + dl
                row = dend[slot - R if slot >= R else slot]
                t0 = ax_t0[ax]
                if t0 >= 0:  # consecutive targets: a vector add
                    lo = syn_ptr[ax]
                    _add_row(row[t0:t0 + syn_ptr[ax + 1] - lo], syn_w[lo:syn_ptr[ax + 1]])
                else:
                    for j in range(syn_ptr[ax], syn_ptr[ax + 1]):
                        row[syn_tgt[j]] += syn_w[j]
            else:
                for j in range(syn_ptr[ax], syn_ptr[ax + 1]):
                    slot = base + syn_dly[j]  # no % per synapse: delays are < R
                    slot = slot - R if slot >= R else slot
                    dend[slot, syn_tgt[j]] += syn_w[j]
            for j in range(sc_ptr[ax], sc_ptr[ax + 1]):
                dl = sc_dly[j]
                row = sc_row[j]
                if not sc_mark[dl, row]:  # not by value: sums can cancel back to 0
                    sc_mark[dl, row] = True
                    sc_dirty[n_dirty, 0] = dl
                    sc_dirty[n_dirty, 1] = row
                    n_dirty += 1
                scratch[dl, row] += sc_w[j]
    return n_dirty


@njit
def flush_scratch(tnext, dend, scratch, sc_mark, sc_dirty, n_dirty, sc_comp, sc_shift):
    """Shift each touched scratch sum right (floor) and add it to its compartment's slot."""
    R = dend.shape[0]
    for k in range(n_dirty):
        dl = sc_dirty[k, 0]
        row = sc_dirty[k, 1]
        dend[(tnext + dl) % R, sc_comp[row]] += scratch[dl, row] >> sc_shift[row]
        scratch[dl, row] = 0
        sc_mark[dl, row] = False
    return 0


@njit
def deliver_graded(g_lo, g_hi, g_idx, g_val, n_neurons, host_side, tnext, dend, scratch, sc_mark, sc_dirty,
                   written, out_ptr, out_axon, out_ew, out_ns, axon_row, syn_ptr, syn_tgt, syn_w, syn_dly,
                   sc_ptr, sc_row, sc_w, sc_dly, sc_comp, sc_shift, nrn_ew, nrn_ns, cnt):
    """Analog host input: channel g_idx[j] sends payload p = g_val[j] (j in [g_lo, g_hi)); each
    of its synapses adds w p into the slot of step tnext + delay. Scratch sums (weight_exp < 0)
    wrap to int32 before the shift, as Lava's graded Dense (`weights.dot(s_in)` on int32) does:

        a = wrap32(sum_j w_ij p_j) >> -weight_exp        (fixed point; float: a = sum_j w_ij p_j)

    Counting: with graded spikes (host_side = 0) as a spike: one spike and a packet per out-axon
    (with hops) from the host row, the axon and its synapses at the destination. Without
    (host_side = 1) the host does the multiply-accumulates (syn_ops on the host row) and writes
    each compartment's sum: one packet a compartment written, with the hops to its core.
    `written` (n_neurons,) marks the compartments written at this step (stamped tnext + 1).
    """
    R = dend.shape[0]
    host = cnt.shape[0] - 1
    n_dirty = 0
    for k in range(g_lo, g_hi):
        s = n_neurons + g_idx[k]
        p = g_val[k]
        if not host_side:
            cnt[host, SPIKES_OUT] += 1
        for e in range(out_ptr[s], out_ptr[s + 1]):
            ax = out_axon[e]
            n_syn = (syn_ptr[ax + 1] - syn_ptr[ax]) + (sc_ptr[ax + 1] - sc_ptr[ax])
            if host_side:
                cnt[host, SYN_OPS] += n_syn
            else:
                cnt[host, PACKETS] += 1
                cnt[host, HOPS_EW] += out_ew[e]
                cnt[host, HOPS_NS] += out_ns[e]
                d = axon_row[ax]
                cnt[d, AXONS_IN] += 1
                cnt[d, SYN_OPS] += n_syn
            for j in range(syn_ptr[ax], syn_ptr[ax + 1]):
                i = syn_tgt[j]
                slot = (tnext + syn_dly[j]) % R
                dend[slot, i] += syn_w[j] * p
                if host_side and written[i] != tnext + 1:
                    written[i] = tnext + 1
                    cnt[host, PACKETS] += 1
                    cnt[host, HOPS_EW] += nrn_ew[i]
                    cnt[host, HOPS_NS] += nrn_ns[i]
            for j in range(sc_ptr[ax], sc_ptr[ax + 1]):
                dl = sc_dly[j]
                row = sc_row[j]
                if not sc_mark[dl, row]:
                    sc_mark[dl, row] = True
                    sc_dirty[n_dirty, 0] = dl
                    sc_dirty[n_dirty, 1] = row
                    n_dirty += 1
                scratch[dl, row] += sc_w[j] * p
                i = sc_comp[row]
                if host_side and written[i] != tnext + 1:
                    written[i] = tnext + 1
                    cnt[host, PACKETS] += 1
                    cnt[host, HOPS_EW] += nrn_ew[i]
                    cnt[host, HOPS_NS] += nrn_ns[i]
    for k in range(n_dirty):
        dl = sc_dirty[k, 0]
        row = sc_dirty[k, 1]
        dend[(tnext + dl) % R, sc_comp[row]] += wrap_int32(scratch[dl, row]) >> sc_shift[row]
        scratch[dl, row] = 0
        sc_mark[dl, row] = False


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
def forward_step(tabs, in_lo, in_hi, in_idx, u, v, dend, scratch, sc_mark, sc_dirty, flags, words, senders,
                 run_ptr, run_row, kernel_runs, du_fac, dv_fac, bias, vth, sub, ramp_start, ramp_steps, ramp_slope,
                 out_ptr, out_axon, out_ew, out_ns, sender_row, axon_row,
                 syn_ptr, syn_tgt, syn_w, syn_dly, ax_dly, ax_t0, sc_ptr, sc_row, sc_w, sc_dly, sc_comp, sc_shift, cnt_step):
    """Step `tabs` (absolute) of inference: neuron update, routing and delivery. The host
    channels in_idx[in_lo:in_hi] spike. Returns (spiking neurons, senders): senders[:n_spk]
    are the neurons that spiked (ascending), senders[n_spk:n_send] the host channels."""
    N = u.shape[0]
    R = dend.shape[0]
    for j in range(kernel_runs.shape[0]):
        lo, hi = kernel_runs[j, 0], kernel_runs[j, 1]
        if kernel_runs[j, 2] == B1:
            b1_update(tabs, tabs % R, dend, u, v, ramp_start, ramp_steps, ramp_slope, vth, flags, lo, hi)
        else:
            lif_update(tabs % R, dend, u, v, du_fac, dv_fac, bias, vth, sub, flags, lo, hi)
    n_spk = collect_spikes(flags, words, run_ptr, run_row, senders, cnt_step)
    n_send = n_spk
    for j in range(in_lo, in_hi):
        senders[n_send] = N + in_idx[j]
        n_send += 1
    n_dirty = route_and_deliver(senders, n_send, tabs + 1, dend, scratch, sc_mark, sc_dirty, 0,
                                out_ptr, out_axon, out_ew, out_ns, sender_row, axon_row,
                                syn_ptr, syn_tgt, syn_w, syn_dly, ax_dly, ax_t0, sc_ptr, sc_row, sc_w, sc_dly, cnt_step)
    flush_scratch(tabs + 1, dend, scratch, sc_mark, sc_dirty, n_dirty, sc_comp, sc_shift)
    return n_spk, n_send


@njit
def run(steps, t0, u, v, dend, scratch, sc_dirty,
        run_ptr, run_row, kernel_runs, du_fac, dv_fac, bias, vth, sub, ramp_start, ramp_steps, ramp_slope,
        in_ptr, in_idx, n_neurons, g_ptr, g_idx, g_val, host_side, nrn_ew, nrn_ns,
        out_ptr, out_axon, out_ew, out_ns, sender_row, axon_row,
        syn_ptr, syn_tgt, syn_w, syn_dly, ax_dly, ax_t0, sc_ptr, sc_row, sc_w, sc_dly, sc_comp, sc_shift,
        latency_ns, barrier_ns,
        cnt_total, core_busy, step_lat, rec_col, rec_spk, rec_u, rec_v, rec_core_time, rec_counts, spike_count):
    """Run `steps` steps from absolute step t0; state arrays are updated in place.

    kernel_runs[j] = (lo, hi, kind): neurons lo..hi-1 are updated by kernel `kind` (LIF: the
    fixed-point LIF for integer u/v, the float LIF for float u/v; B1).

    Inputs: the host channels spiking at step t are in_idx[in_ptr[t]:in_ptr[t+1]]; analog
    channels send payloads g_val[g_ptr[t]:g_ptr[t+1]] from channels g_idx[...] (`deliver_graded`;
    host_side: the chip has no graded spikes).
    Recording: neuron i goes to column rec_col[i] (-1: not recorded) of rec_spk/rec_u/rec_v,
    each of which has 0 rows when not requested; rec_core_time and rec_counts (steps, rows,
    kinds: each step's counters) likewise.
    """
    N = n_neurons
    senders = np.empty(N + in_idx.shape[0] + 1, dtype=np.int64)
    cnt_step = np.zeros_like(cnt_total)
    sc_mark = np.zeros(scratch.shape, dtype=np.bool_)
    core_time = np.zeros(cnt_total.shape[0] - 1)
    flags = np.zeros(8 * ((N + 7) // 8), dtype=np.uint8)
    words = flags.view(np.uint64)
    written = np.zeros(N, dtype=np.int64)
    for t in range(steps):
        n_spk, n_send = forward_step(t0 + t, in_ptr[t], in_ptr[t + 1], in_idx, u, v, dend, scratch, sc_mark, sc_dirty,
                                     flags, words, senders, run_ptr, run_row, kernel_runs, du_fac, dv_fac, bias, vth,
                                     sub, ramp_start, ramp_steps, ramp_slope, out_ptr, out_axon, out_ew, out_ns,
                                     sender_row, axon_row, syn_ptr, syn_tgt, syn_w, syn_dly, ax_dly, ax_t0, sc_ptr, sc_row, sc_w,
                                     sc_dly, sc_comp, sc_shift, cnt_step)
        if g_ptr[t + 1] > g_ptr[t]:
            deliver_graded(g_ptr[t], g_ptr[t + 1], g_idx, g_val, N, host_side, t0 + t + 1, dend, scratch, sc_mark,
                           sc_dirty, written, out_ptr, out_axon, out_ew, out_ns, axon_row, syn_ptr, syn_tgt, syn_w,
                           syn_dly, sc_ptr, sc_row, sc_w, sc_dly, sc_comp, sc_shift, nrn_ew, nrn_ns, cnt_step)
        for k in range(n_spk):
            spike_count[senders[k]] += 1
        if rec_spk.shape[0] > 0:
            for k in range(n_spk):
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
        if rec_counts.shape[0] > 0:
            rec_counts[t] = cnt_step
        step_lat[t] = step_latency(cnt_step, cnt_total, latency_ns, barrier_ns, core_busy, core_time)
        if rec_core_time.shape[0] > 0:
            rec_core_time[t, :] = core_time
