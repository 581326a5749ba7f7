"""Numba kernels of one time step and of a whole run. Pure functions over arrays.

A step t, as on Loihi: (1) neuron update of every compartment, reading the dendritic
accumulator slot of step t, each population by its model's kernel (`KERNELS`; populations
are contiguous in neuron ids, so the program lists runs of neurons and their kernel); (2)
spike routing: each spike (and each host input spike) sends one packet per out-axon,
counted with its mesh hops and chip links; (3) synaptic delivery: each
arriving axon walks its synapse list into the slot of step t + 1 + delay; (4) the
negative-weight_exp scratch rows are shifted and flushed; (5) per-core latency of the
step from its event counts, then the barrier. Analog host input (graded payloads) is
delivered after (2)-(4) by `deliver_graded`, into the same slots, and so are the payloads
of graded-spike neurons (`graded_update`, `graded_senders`). Slow twins live in
tests/reference/.
"""
import numpy as np
from numba import types
from numba.extending import overload

from neurochip.model.events import (AXONS_IN, CHIP_HOPS, DENDRITE_ACCUMS, HOPS_EW, HOPS_NS, N_EVENTS, PACKETS,
                                    SPIKES_OUT, SYN_OPS, UPDATES_ACTIVE, UPDATES_INACTIVE)
from neurochip.model.fixed import ACT_SHIFT, DECAY_ONE, clip_v, decay_trunc0, wrap24, wrap_int32
from neurochip.model.numba_config import OPTIONS, njit

# Neuron-update kernels update compartments lo..hi-1 (default: all) and write one flag byte
# per compartment: INPUT (non-zero dendritic input), ACTIVE (counted as an active update),
# SPIKED. The LIF kernels (sub[i] > 0: subtractive reset v -= sub[i], else v = 0) are
# branch-free so that the loop vectorises.
INPUT, ACTIVE, SPIKED = 1, 2, 4
LIF, B1, GRADED, GRADED_RELU = 0, 1, 2, 3
KERNELS = {"lif": LIF, "b1": B1, "graded": GRADED, "graded_relu": GRADED_RELU}   # NeuronModel.kernel -> kind


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


def int32_input(a):
    """A fixed-point input as Lava's int32 ports hold it (wrapped); a float one as it is."""
    return wrap_int32(a) if isinstance(a, (int, np.integer)) else a


@overload(int32_input, jit_options=OPTIONS)
def _int32_input_typed(a):
    if isinstance(a, types.Integer):
        return lambda a: wrap_int32(a)
    return lambda a: a


@njit
def graded_update(slot, dend, v, vth, relu, flags, lo, hi):
    """Graded-spike neurons (see neurons.GradedVec, GradedReluVec): v[i] = the payload s[t] they
    send. Not flagged SPIKED: their payloads go out through `deliver_graded` (see `run`). An
    update is active with input (they keep no state)."""
    for i in range(lo, hi):
        a = int32_input(dend[slot, i])   # graded neurons are fixed point; float compiles, never runs
        dend[slot, i] = 0
        # numpy's int32 abs: |-2**31| stays -2**31, which no threshold >= 0 passes
        m = a if relu else (-a if a < 0 and a != I32_MIN else a)
        v[i] = a if m > vth[i] else 0
        flags[i] = np.uint8((a != 0) * (INPUT + ACTIVE))


@njit
def graded_senders(t, kernel_runs, v, payload_max, snd, pay):
    """List the graded-spike neurons with a payload at step t (ids in snd, payloads in pay);
    returns how many. A payload outside [-payload_max - 1, payload_max] (the chip's
    graded_payload_bits) raises OverflowError(t, neuron, payload): the chip cannot carry it
    (Lava's int32 would)."""
    n = 0
    for j in range(kernel_runs.shape[0]):
        if kernel_runs[j, 2] == GRADED or kernel_runs[j, 2] == GRADED_RELU:
            for i in range(kernel_runs[j, 0], kernel_runs[j, 1]):
                p = v[i]
                if p != 0:
                    if p > payload_max or p < -payload_max - 1:
                        raise OverflowError(t, i, p)
                    snd[n] = i
                    pay[n] = p
                    n += 1
    return n


_SPIKED_IN_WORD = 0x0404040404040404  # the SPIKED bit of 8 flag bytes read as one uint64
_BYTE_ONES = np.uint64(0x0101010101010101)
_TOP_BYTE = np.uint64(56)


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
        i = run_ptr[j]
        hi = run_ptr[j + 1]
        while i < hi and i & 7:
            f = np.int64(flags[i])
            n_in += f & INPUT
            n_active += (f & ACTIVE) >> 1
            i += 1
        while i + 8 <= hi:   # 8 flags at once: the bytes' bits summed by one multiply (SWAR)
            w = words[i >> 3]
            n_in += np.int64(((w & _BYTE_ONES) * _BYTE_ONES) >> _TOP_BYTE)
            n_active += np.int64((((w >> np.uint64(1)) & _BYTE_ONES) * _BYTE_ONES) >> _TOP_BYTE)
            i += 8
        while i < hi:
            f = np.int64(flags[i])
            n_in += f & INPUT
            n_active += (f & ACTIVE) >> 1
            i += 1
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
                      out_ptr, out_axon, out_ew, out_ns, out_chip, sender_row, axon_row,
                      syn_ptr, syn_tgt, syn_w, syn_dly, ax_dly, ax_t0, sc_ptr, sc_row, sc_w, sc_dly, cnt):
    """Send each sender's packets (with their mesh hops and chip links) and walk the synapses
    of every arriving axon.

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
            cnt[r, CHIP_HOPS] += out_chip[e]
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
                   written, out_ptr, out_axon, out_ew, out_ns, out_chip, axon_row, syn_ptr, syn_tgt, syn_w, syn_dly,
                   sc_ptr, sc_row, sc_w, sc_dly, sc_comp, sc_shift, nrn_ew, nrn_ns, nrn_chip, sender_row, cnt):
    """Graded spikes: sender n_neurons + g_idx[j] sends payload p = g_val[j] (j in [g_lo, g_hi);
    n_neurons = N for the host's analog channels, 0 for graded-spike neurons); each of its
    synapses adds w p into the slot of step tnext + delay. Scratch sums (weight_exp < 0)
    wrap to int32 before the shift, as Lava's graded Dense (`weights.dot(s_in)` on int32) does:

        a = wrap32(sum_j w_ij p_j) >> -weight_exp        (fixed point; float: a = sum_j w_ij p_j)

    Counting: with graded spikes (host_side = 0) as a spike: one spike and a packet per out-axon
    (with hops) from the sender's row, the axon and its synapses at the destination. Without
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
        r = sender_row[s]
        if not host_side:
            cnt[r, SPIKES_OUT] += 1
        for e in range(out_ptr[s], out_ptr[s + 1]):
            ax = out_axon[e]
            n_syn = (syn_ptr[ax + 1] - syn_ptr[ax]) + (sc_ptr[ax + 1] - sc_ptr[ax])
            if host_side:
                cnt[host, SYN_OPS] += n_syn
            else:
                cnt[r, PACKETS] += 1
                cnt[r, HOPS_EW] += out_ew[e]
                cnt[r, HOPS_NS] += out_ns[e]
                cnt[r, CHIP_HOPS] += out_chip[e]
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
                    cnt[host, CHIP_HOPS] += nrn_chip[i]
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
                    cnt[host, CHIP_HOPS] += nrn_chip[i]
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
                 out_ptr, out_axon, out_ew, out_ns, out_chip, sender_row, axon_row,
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
        elif kernel_runs[j, 2] >= GRADED:
            graded_update(tabs % R, dend, v, vth, kernel_runs[j, 2] == GRADED_RELU, flags, lo, hi)
        else:
            lif_update(tabs % R, dend, u, v, du_fac, dv_fac, bias, vth, sub, flags, lo, hi)
    n_spk = collect_spikes(flags, words, run_ptr, run_row, senders, cnt_step)
    n_send = n_spk
    for j in range(in_lo, in_hi):
        senders[n_send] = N + in_idx[j]
        n_send += 1
    n_dirty = route_and_deliver(senders, n_send, tabs + 1, dend, scratch, sc_mark, sc_dirty, 0,
                                out_ptr, out_axon, out_ew, out_ns, out_chip, sender_row, axon_row,
                                syn_ptr, syn_tgt, syn_w, syn_dly, ax_dly, ax_t0, sc_ptr, sc_row, sc_w, sc_dly, cnt_step)
    flush_scratch(tabs + 1, dend, scratch, sc_mark, sc_dirty, n_dirty, sc_comp, sc_shift)
    return n_spk, n_send


@njit
def run(steps, t0, u, v, dend, scratch, sc_dirty,
        run_ptr, run_row, kernel_runs, du_fac, dv_fac, bias, vth, sub, ramp_start, ramp_steps, ramp_slope,
        in_ptr, in_idx, n_neurons, g_ptr, g_idx, g_val, host_side, payload_max, nrn_ew, nrn_ns, nrn_chip,
        out_ptr, out_axon, out_ew, out_ns, out_chip, sender_row, axon_row,
        syn_ptr, syn_tgt, syn_w, syn_dly, ax_dly, ax_t0, sc_ptr, sc_row, sc_w, sc_dly, sc_comp, sc_shift,
        latency_ns, barrier_ns,
        cnt_total, core_busy, step_lat, rec_col, rec_spk, rec_u, rec_v, rec_core_time, rec_counts, spike_count):
    """Run `steps` steps from absolute step t0; state arrays are updated in place.

    kernel_runs[j] = (lo, hi, kind): neurons lo..hi-1 are updated by kernel `kind` (LIF: the
    fixed-point LIF for integer u/v, the float LIF for float u/v; B1; GRADED, GRADED_RELU).

    Inputs: the host channels spiking at step t are in_idx[in_ptr[t]:in_ptr[t+1]]; analog
    channels send payloads g_val[g_ptr[t]:g_ptr[t+1]] from channels g_idx[...] (`deliver_graded`;
    host_side: the chip has no graded spikes). Graded-spike neurons send their payloads v[i]
    (at most +-payload_max, `graded_senders`) after the binary spikes, by `deliver_graded`.
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
    has_graded = False
    for j in range(kernel_runs.shape[0]):
        has_graded |= kernel_runs[j, 2] >= GRADED
    g_snd = np.empty(N if has_graded else 0, dtype=np.int64)
    g_pay = np.empty(N if has_graded else 0, dtype=v.dtype)
    for t in range(steps):
        n_spk, n_send = forward_step(t0 + t, in_ptr[t], in_ptr[t + 1], in_idx, u, v, dend, scratch, sc_mark, sc_dirty,
                                     flags, words, senders, run_ptr, run_row, kernel_runs, du_fac, dv_fac, bias, vth,
                                     sub, ramp_start, ramp_steps, ramp_slope, out_ptr, out_axon, out_ew, out_ns, out_chip,
                                     sender_row, axon_row, syn_ptr, syn_tgt, syn_w, syn_dly, ax_dly, ax_t0, sc_ptr, sc_row, sc_w,
                                     sc_dly, sc_comp, sc_shift, cnt_step)
        if g_ptr[t + 1] > g_ptr[t]:
            deliver_graded(g_ptr[t], g_ptr[t + 1], g_idx, g_val, N, host_side, t0 + t + 1, dend, scratch, sc_mark,
                           sc_dirty, written, out_ptr, out_axon, out_ew, out_ns, out_chip, axon_row, syn_ptr, syn_tgt,
                           syn_w, syn_dly, sc_ptr, sc_row, sc_w, sc_dly, sc_comp, sc_shift, nrn_ew, nrn_ns, nrn_chip,
                           sender_row, cnt_step)
        n_g = graded_senders(t0 + t, kernel_runs, v, payload_max, g_snd, g_pay) if has_graded else 0
        if n_g:
            deliver_graded(0, n_g, g_snd, g_pay, 0, 0, t0 + t + 1, dend, scratch, sc_mark, sc_dirty, written,
                           out_ptr, out_axon, out_ew, out_ns, out_chip, axon_row, syn_ptr, syn_tgt, syn_w, syn_dly,
                           sc_ptr, sc_row, sc_w, sc_dly, sc_comp, sc_shift, nrn_ew, nrn_ns, nrn_chip, sender_row,
                           cnt_step)
        for k in range(n_g):
            spike_count[g_snd[k]] += 1
        for k in range(n_spk):
            spike_count[senders[k]] += 1
        if rec_spk.shape[0] > 0:
            for k in range(n_spk):
                c = rec_col[senders[k]]
                if c >= 0:
                    rec_spk[t, c] = True
            for k in range(n_g):
                c = rec_col[g_snd[k]]
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


# ---------------------------------------------------------------------------------------------
# The fast path of `run` for fixed-point networks whose neurons are all LIF (`run_fixed32`).
#
# Loihi's registers are 24 bits wide, so once `fixed32_fits` has checked the state and the
# parameters, u and v are held as int32 and every sum is taken in int32 (wrapping): Lava's
# wrap_int32(x + y) equals the wrapping int32 sum of wrap_int32(x) and wrap_int32(y). The decays
# trunc0(x f / 2**12) (0 <= f <= 2**12) are one float64 product x (f / 2**12), exact since
# |x f| < 2**53, converted with truncation toward zero. The threshold is clamped to int32 (v
# lies in [-(2**23 - 1), 2**23 - 1], so the comparison is unchanged). The dendritic ring is
# int32 when `dend_bound` shows that no slot can leave int32. A core's compartments that share
# their parameters are updated with scalars (less to load); updates, inputs and spikes are
# counted inside the update loop. The synapse memory is walked in packet order, with each
# sender's packets and hops summed once (`route_tables`). The results are the generic kernels'
# bit for bit (tests/test_throughput.py compares every output on random networks).

I32_MIN, I32_MAX = -(1 << 31), (1 << 31) - 1
_SUB_MAX = I32_MAX - (1 << 23)   # v - sub stays in int32 for v >= -(2**23 - 1)


@njit
def fixed32_fits(u, v, du_fac, dv_fac, bias, sub):
    """True when the int32 path computes exactly what the int64 path does for this state."""
    for i in range(u.shape[0]):
        if not (I32_MIN <= u[i] <= I32_MAX and I32_MIN <= v[i] <= I32_MAX):
            return False
        if not (0 <= du_fac[i] <= DECAY_ONE and 0 <= dv_fac[i] <= DECAY_ONE and sub[i] <= _SUB_MAX
                and I32_MIN <= bias[i] <= I32_MAX):
            return False
    return True


def _at(p, i):
    """p[i] for a per-compartment array, p itself for a value shared by the range."""
    return p[i] if isinstance(p, np.ndarray) else p


@overload(_at, jit_options=OPTIONS)
def _at_typed(p, i):
    if isinstance(p, types.Array):
        return lambda p, i: p[i]
    return lambda p, i: p


@njit
def lif_fixed32_update(row, u, v, du, dv, bias, vth, sub, keep, spiked, lo, hi, all_busy):
    """`lif_fixed_update` on int32 state and parameters for compartments lo..hi-1, reading and
    clearing the dendritic slot `row`; du, dv are the decay factors / 2**12 (float64), keep[i]
    is -1 for a subtractive reset (sub[i] > 0), else 0. Writes spiked[i] (0/1); returns
    (inputs, active updates, spikes) of the range. all_busy: every bias of the range is non-zero, so
    every update is active (the test is then left out of the loop). The parameters du, dv,
    bias, vth, sub, keep are arrays, or values shared by the whole range (a specialisation
    that loads less: populations mostly share their parameters)."""
    n_in = np.int32(0)   # int32 sums keep the loop 8 lanes wide (hi - lo < 2**31)
    n_act = np.int32(0)
    n_s = np.int32(0)
    for i in range(np.uint64(lo), np.uint64(hi)):
        a = row[i]
        row[i] = 0
        uo = u[i]
        vo = v[i]
        b = _at(bias, i)
        has_in = a != 0
        # trunc0(uo * f / 2**12) with du[i] = f / 2**12: the product is exact in float64
        # (|uo f| < 2**53) and the conversion truncates toward zero, as trunc0 does
        x = np.int32(np.int32(uo * _at(du, i)) + np.int32(a << ACT_SHIFT))   # np.int32(.): wrap_int32
        x = np.int32(x - (1 << 24) if x > (1 << 23) else x)
        x = np.int32(x + (1 << 24) if x <= -(1 << 23) else x)
        y = np.int32(np.int32(vo * _at(dv, i)) + x + b)
        y = np.int32(min(max(y, -(1 << 23) + 1), (1 << 23) - 1))
        s = y > _at(vth, i)
        u[i] = x
        v[i] = np.int32((y - _at(sub, i)) & _at(keep, i)) if s else y   # keep: -1 subtractive reset, 0 to zero
        spiked[i] = s
        n_s = np.int32(n_s + s)
        n_in = np.int32(n_in + has_in)
        if not all_busy:   # loop-invariant: LLVM unswitches it
            n_act = np.int32(n_act + (has_in | (uo != 0) | (vo != 0) | (b != 0)))
    return n_in, np.int32(hi - lo) if all_busy else n_act, n_s


@njit
def spikes_in(spiked, words, lo, hi, n_s, spikes, n_spk):
    """Append the n_s neurons of lo..hi-1 with spiked[i] != 0 to spikes[n_spk:] (ascending),
    testing 8 at a time (`words`: spiked viewed as uint64); returns the new n_spk."""
    w = lo >> 3
    end = n_spk + n_s
    while n_spk < end:
        if words[w]:
            for i in range(max(8 * w, lo), min(8 * w + 8, hi)):
                if spiked[i]:
                    spikes[n_spk] = i
                    n_spk += 1
        w += 1
    return n_spk


@njit
def route_tables(out_ptr, out_axon, out_ew, out_ns, out_chip, syn_ptr, sc_ptr, axon_row, ax_dly, ax_t0, ept):
    """Per-packet and per-sender sums for `route_fast`, which walks the program's synapse
    arrays themselves (no copy: 0 bytes a synapse). Returns per sender (packets, hops
    east-west, hops north-south, the delay of all its synapses if they can be walked in one
    loop (else -1), their begin and end in the synapse arrays, chip links); fills in, per
    packet e (an out-axon entry) ept[e] = (its synapses: begin, end; destination row, synapse count with
    scratch, the axon's delay (-1: per synapse), first target if consecutive (-1: none),
    scratch synapses begin, end), one cache line in int32 (the caller picks int32 where all fits)."""
    n_senders = out_ptr.shape[0] - 1
    snd = np.zeros((n_senders, 7), np.int64)
    for s in range(n_senders):
        snd[s, 0] = out_ptr[s + 1] - out_ptr[s]
        for e in range(out_ptr[s], out_ptr[s + 1]):
            snd[s, 1] += out_ew[e]
            snd[s, 2] += out_ns[e]
            snd[s, 6] += out_chip[e]
            a = out_axon[e]
            ept[e, 0] = syn_ptr[a]
            ept[e, 1] = syn_ptr[a + 1]
            ept[e, 2] = axon_row[a]
            ept[e, 3] = (syn_ptr[a + 1] - syn_ptr[a]) + (sc_ptr[a + 1] - sc_ptr[a])
            ept[e, 4] = ax_dly[a]
            ept[e, 5] = ax_t0[a]
            ept[e, 6] = sc_ptr[a]
            ept[e, 7] = sc_ptr[a + 1]
        # one walk over all of the sender's synapses when they are contiguous, share one
        # delay, have no scratch synapses and no long run of consecutive targets (a vector
        # add is faster)
        e0, e1 = out_ptr[s], out_ptr[s + 1]
        fused = e1 > e0
        for e in range(e0, e1):
            long_run = ept[e, 5] >= 0 and ept[e, 1] - ept[e, 0] >= 8
            if (ept[e, 4] < 0 or ept[e, 4] != ept[e0, 4] or ept[e, 7] > ept[e, 6] or long_run
                    or (e > e0 and ept[e, 0] != ept[e - 1, 1])):
                fused = False
        snd[s, 3] = ept[e0, 4] if fused else -1
        snd[s, 4] = ept[e0, 0] if fused else 0
        snd[s, 5] = ept[e1 - 1, 1] if fused else 0
    return snd


@njit
def dend_bound(n_neurons, out_ptr, out_axon, in_graded, syn_ptr, syn_tgt, syn_w, sc_ptr, sc_row, sc_w, sc_comp,
               sc_shift):
    """Per compartment, bounds on what one dendritic slot can receive: every synapse delivers
    into a slot at most once (one arrival step), so (sum |w| over spike senders' synapses, the
    sum |w| over graded senders' synapses (to multiply by the largest payload), the graded
    scratch rows' 2**31 >> shift each (their sums wrap to int32 before the shift))."""
    spk = np.zeros(n_neurons, np.int64)
    grd = np.zeros(n_neurons, np.int64)
    const = np.zeros(n_neurons, np.int64)
    graded_row = np.zeros(sc_comp.shape[0], np.bool_)
    for s in range(out_ptr.shape[0] - 1):
        graded = s >= n_neurons and in_graded[s - n_neurons] != 0
        for e in range(out_ptr[s], out_ptr[s + 1]):
            a = out_axon[e]
            for j in range(syn_ptr[a], syn_ptr[a + 1]):
                if graded:
                    grd[syn_tgt[j]] += abs(np.int64(syn_w[j]))   # int64: abs(int16(-2**15)) wraps
                else:
                    spk[syn_tgt[j]] += abs(np.int64(syn_w[j]))
            for j in range(sc_ptr[a], sc_ptr[a + 1]):
                if graded:
                    graded_row[sc_row[j]] = True
                else:   # |x >> k| <= |x|
                    spk[sc_comp[sc_row[j]]] += abs(np.int64(sc_w[j]))
    for r in range(sc_comp.shape[0]):
        if graded_row[r]:
            const[sc_comp[r]] += ((1 << 31) >> max(sc_shift[r], 0)) + 1
    return spk, grd, const


@njit
def route_fast(senders, n_send, tnext, dend, scratch, sc_mark, sc_dirty, n_dirty, out_ptr, sender_row,
               snd, ept, syn_tgt, syn_w, syn_dly, sc_row, sc_w, sc_dly, cnt):
    """`route_and_deliver` with the sums of `route_tables` (per packet, per sender)."""
    R = dend.shape[0]
    base = tnext % R
    for k in range(n_send):
        s = senders[k]
        r = sender_row[s]
        cnt[r, SPIKES_OUT] += 1
        cnt[r, PACKETS] += snd[s, 0]
        cnt[r, HOPS_EW] += snd[s, 1]
        cnt[r, HOPS_NS] += snd[s, 2]
        cnt[r, CHIP_HOPS] += snd[s, 6]
        dl = snd[s, 3]
        if dl >= 0:   # one delay, no scratch: count the packets, then one walk over the synapses
            for e in range(out_ptr[s], out_ptr[s + 1]):
                d = ept[e, 2]
                cnt[d, AXONS_IN] += 1
                cnt[d, SYN_OPS] += ept[e, 3]
            slot = base + dl
            row = dend[slot - R if slot >= R else slot]
            for j in range(snd[s, 4], snd[s, 5]):
                row[syn_tgt[j]] += syn_w[j]
            continue
        for e in range(out_ptr[s], out_ptr[s + 1]):
            lo = ept[e, 0]
            hi = ept[e, 1]
            d = ept[e, 2]
            cnt[d, AXONS_IN] += 1
            cnt[d, SYN_OPS] += ept[e, 3]
            dl = ept[e, 4]
            if dl >= 0:
                slot = base + dl
                row = dend[slot - R if slot >= R else slot]
                t0 = ept[e, 5]
                if t0 >= 0:
                    for q in range(hi - lo):
                        row[t0 + q] += syn_w[lo + q]
                else:
                    for j in range(lo, hi):
                        row[syn_tgt[j]] += syn_w[j]
            else:
                for j in range(lo, hi):
                    slot = base + syn_dly[j]
                    slot = slot - R if slot >= R else slot
                    dend[slot, syn_tgt[j]] += syn_w[j]
            for j in range(ept[e, 6], ept[e, 7]):
                dl = sc_dly[j]
                row_ = sc_row[j]
                if not sc_mark[dl, row_]:
                    sc_mark[dl, row_] = True
                    sc_dirty[n_dirty, 0] = dl
                    sc_dirty[n_dirty, 1] = row_
                    n_dirty += 1
                scratch[dl, row_] += sc_w[j]
    return n_dirty


@njit
def run_fixed32(steps, t0, u, v, dend, scratch, sc_dirty,
                run_ptr, run_row, du_fac, dv_fac, bias, vth, sub,
                in_ptr, in_idx, n_neurons, g_ptr, g_idx, g_val, host_side, nrn_ew, nrn_ns, nrn_chip,
                out_ptr, out_axon, out_ew, out_ns, out_chip, sender_row, axon_row,
                syn_ptr, syn_tgt, syn_w, syn_dly, sc_ptr, sc_row, sc_w, sc_dly, sc_comp, sc_shift,
                snd, ept, latency_ns, barrier_ns,
                cnt_total, core_busy, step_lat, rec_col, rec_spk, rec_u, rec_v, rec_core_time, rec_counts, spike_count):
    """`run` for a fixed-point network of LIF neurons only, on int32 state (see above); the
    caller checks `fixed32_fits` first, and that no dendritic slot can leave int32 (`dend_bound`),
    so that the dendritic ring is held as int32 too. u, v and dend are read at the start and
    written back at the end. Arguments as for `run`, with `snd`, `ept` from `route_tables`."""
    N = n_neurons
    R = dend.shape[0]
    u32 = np.empty(N, np.int32)
    v32 = np.empty(N, np.int32)
    du = np.empty(N, np.float64)
    dv = np.empty(N, np.float64)
    b32 = np.empty(N, np.int32)
    th = np.empty(N, np.int32)
    sb = np.empty(N, np.int32)
    keep = np.empty(N, np.int32)
    d32 = np.empty(dend.shape, np.int32)
    for k in range(R):
        for i in range(N):
            d32[k, i] = dend[k, i]
    for i in range(N):
        u32[i] = u[i]
        v32[i] = v[i]
        du[i] = du_fac[i] / DECAY_ONE   # exact: a power-of-two scale
        dv[i] = dv_fac[i] / DECAY_ONE
        b32[i] = bias[i]
        th[i] = min(max(vth[i], I32_MIN), I32_MAX)
        sb[i] = max(sub[i], 0)
        keep[i] = -1 if sub[i] > 0 else 0   # sub <= 0: reset to zero
    all_busy = np.ones(run_row.shape[0], np.bool_)
    shared = np.ones(run_row.shape[0], np.bool_)   # one set of parameters for the whole run
    for j in range(run_row.shape[0]):
        lo = run_ptr[j]
        for i in range(lo, run_ptr[j + 1]):
            if b32[i] == 0:
                all_busy[j] = False
            if (du[i] != du[lo] or dv[i] != dv[lo] or b32[i] != b32[lo] or th[i] != th[lo] or sb[i] != sb[lo]
                    or keep[i] != keep[lo]):
                shared[j] = False
    senders = np.empty(N + in_idx.shape[0] + 1, dtype=np.int64)
    cnt_step = np.zeros_like(cnt_total)
    sc_mark = np.zeros(scratch.shape, dtype=np.bool_)
    core_time = np.zeros(cnt_total.shape[0] - 1)
    spiked = np.zeros(8 * ((N + 7) // 8), dtype=np.uint8)
    words = spiked.view(np.uint64)
    written = np.zeros(N, dtype=np.int64)
    for t in range(steps):
        tabs = t0 + t
        row = d32[tabs % R]
        n_spk = 0
        for j in range(run_row.shape[0]):
            lo, hi = run_ptr[j], run_ptr[j + 1]
            if shared[j] and hi > lo:
                n_in, n_act, n_s = lif_fixed32_update(row, u32, v32, du[lo], dv[lo], b32[lo], th[lo], sb[lo], keep[lo],
                                                      spiked, lo, hi, all_busy[j])
            else:
                n_in, n_act, n_s = lif_fixed32_update(row, u32, v32, du, dv, b32, th, sb, keep, spiked, lo, hi,
                                                      all_busy[j])
            r = run_row[j]
            cnt_step[r, DENDRITE_ACCUMS] += n_in
            cnt_step[r, UPDATES_ACTIVE] += n_act
            cnt_step[r, UPDATES_INACTIVE] += (hi - lo) - n_act
            if n_s:
                n_spk = spikes_in(spiked, words, lo, hi, n_s, senders, n_spk)
        n_send = n_spk
        for j in range(in_ptr[t], in_ptr[t + 1]):
            senders[n_send] = N + in_idx[j]
            n_send += 1
        n_dirty = route_fast(senders, n_send, tabs + 1, d32, scratch, sc_mark, sc_dirty, 0, out_ptr, sender_row,
                             snd, ept, syn_tgt, syn_w, syn_dly, sc_row, sc_w, sc_dly, cnt_step)
        if n_dirty:
            flush_scratch(tabs + 1, d32, scratch, sc_mark, sc_dirty, n_dirty, sc_comp, sc_shift)
        if g_ptr[t + 1] > g_ptr[t]:
            deliver_graded(g_ptr[t], g_ptr[t + 1], g_idx, g_val, N, host_side, tabs + 1, d32, scratch, sc_mark,
                           sc_dirty, written, out_ptr, out_axon, out_ew, out_ns, out_chip, axon_row, syn_ptr, syn_tgt,
                           syn_w, syn_dly, sc_ptr, sc_row, sc_w, sc_dly, sc_comp, sc_shift, nrn_ew, nrn_ns, nrn_chip,
                           sender_row, cnt_step)
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
                        rec_u[t, c] = u32[i]
                    if rec_v.shape[0] > 0:
                        rec_v[t, c] = v32[i]
        if rec_counts.shape[0] > 0:
            rec_counts[t] = cnt_step
        step_lat[t] = step_latency(cnt_step, cnt_total, latency_ns, barrier_ns, core_busy, core_time)
        if rec_core_time.shape[0] > 0:
            rec_core_time[t, :] = core_time
    for i in range(N):
        u[i] = u32[i]
        v[i] = v32[i]
    for k in range(R):
        for i in range(N):
            dend[k, i] = d32[k, i]


# ---------------------------------------------------------------------------------------------
# Many samples in one call (`Simulator.run_samples`): each sample runs from the initial state
# (u0, v0, an empty dendritic ring and scratch) at step 0, on state arrays of the caller's (one
# set per thread: the kernels release the GIL, so threads running disjoint sample ranges run in
# parallel and give what one thread gives). Sample k's host spikes are in_idx[in_ptr[k, t]:
# in_ptr[k, t + 1]] at step t (offsets into one in_idx; g_ptr, g_idx, g_val likewise); its
# results go to row k of each output.

@njit
def _reset_state(u0, v0, u, v, dend, scratch):
    for i in range(u.shape[0]):
        u[i] = u0[i]
        v[i] = v0[i]
    dend[:] = 0
    scratch[:] = 0


@njit
def batch_fixed32(k_lo, k_hi, steps, u0, v0, u, v, dend, scratch, sc_dirty,
                  run_ptr, run_row, du_fac, dv_fac, bias, vth, sub,
                  in_ptr, in_idx, n_neurons, g_ptr, g_idx, g_val, host_side, nrn_ew, nrn_ns, nrn_chip,
                  out_ptr, out_axon, out_ew, out_ns, out_chip, sender_row, axon_row,
                  syn_ptr, syn_tgt, syn_w, syn_dly, sc_ptr, sc_row, sc_w, sc_dly, sc_comp, sc_shift,
                  snd, ept, latency_ns, barrier_ns,
                  cnt, busy, step_lat, rec_col, rec_spk, rec_u, rec_v, rec_core_time, rec_counts, spike_count):
    """Samples k_lo..k_hi-1 through `run_fixed32` (see above)."""
    for k in range(k_lo, k_hi):
        _reset_state(u0, v0, u, v, dend, scratch)
        run_fixed32(steps, 0, u, v, dend, scratch, sc_dirty, run_ptr, run_row, du_fac, dv_fac, bias, vth, sub,
                    in_ptr[k], in_idx, n_neurons, g_ptr[k], g_idx, g_val, host_side, nrn_ew, nrn_ns, nrn_chip,
                    out_ptr, out_axon, out_ew, out_ns, out_chip, sender_row, axon_row,
                    syn_ptr, syn_tgt, syn_w, syn_dly, sc_ptr, sc_row, sc_w, sc_dly, sc_comp, sc_shift,
                    snd, ept, latency_ns, barrier_ns,
                    cnt[k], busy[k], step_lat[k], rec_col, rec_spk[k], rec_u[k], rec_v[k], rec_core_time[k],
                    rec_counts[k], spike_count[k])


@njit
def batch_generic(k_lo, k_hi, steps, u0, v0, u, v, dend, scratch, sc_dirty,
                  run_ptr, run_row, kernel_runs, du_fac, dv_fac, bias, vth, sub, ramp_start, ramp_steps, ramp_slope,
                  in_ptr, in_idx, n_neurons, g_ptr, g_idx, g_val, host_side, payload_max, nrn_ew, nrn_ns, nrn_chip,
                  out_ptr, out_axon, out_ew, out_ns, out_chip, sender_row, axon_row,
                  syn_ptr, syn_tgt, syn_w, syn_dly, ax_dly, ax_t0, sc_ptr, sc_row, sc_w, sc_dly, sc_comp, sc_shift,
                  latency_ns, barrier_ns,
                  cnt, busy, step_lat, rec_col, rec_spk, rec_u, rec_v, rec_core_time, rec_counts, spike_count):
    """Samples k_lo..k_hi-1 through `run` (see above)."""
    for k in range(k_lo, k_hi):
        _reset_state(u0, v0, u, v, dend, scratch)
        run(steps, 0, u, v, dend, scratch, sc_dirty, run_ptr, run_row, kernel_runs, du_fac, dv_fac, bias, vth, sub,
            ramp_start, ramp_steps, ramp_slope, in_ptr[k], in_idx, n_neurons, g_ptr[k], g_idx, g_val, host_side,
            payload_max, nrn_ew, nrn_ns, nrn_chip, out_ptr, out_axon, out_ew, out_ns, out_chip, sender_row, axon_row,
            syn_ptr, syn_tgt, syn_w, syn_dly, ax_dly, ax_t0, sc_ptr, sc_row, sc_w, sc_dly, sc_comp, sc_shift,
            latency_ns, barrier_ns,
            cnt[k], busy[k], step_lat[k], rec_col, rec_spk[k], rec_u[k], rec_v[k], rec_core_time[k],
            rec_counts[k], spike_count[k])
