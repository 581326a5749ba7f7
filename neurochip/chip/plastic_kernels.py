"""Numba kernels of the plastic cores: samples learned step by step on the compiled chip.

What each step does, and every constant, is in `chip.plastic`'s docstring; the slow twin is
`tests/reference/plastic.py`. Learning state (traces, surrogates, errors, tags) is float64
holding integers in fixed point (exact below 2**53), so one kernel serves both modes.
"""
import math

import numpy as np

from neurochip.chip.kernels import forward_step, step_latency, v_before_reset
from neurochip.chip.plastic import (ERROR, LUT_HALF, OTTT_A, PAYLOAD, SEG_READOUT, SEG_RECURRENT, THRESH, TRACE,
                                     WEIGHT)
from neurochip.model.events import ALL_EVENTS
from neurochip.model.fixed import _GOLDEN, mix64, round_stochastic_at
from neurochip.model.numba_config import njit

(L_TRACE_UPDATES, L_TAG_UPDATES, L_SURROGATE_EVALS, L_ERROR_OPS, L_FEEDBACK_SYN_OPS, L_WEIGHT_WRITES, L_PACKETS,
 L_HOPS_EW, L_HOPS_NS, L_CHIP_HOPS, L_AXONS_IN, L_STATE_WRITE_BYTES, L_STATE_READ_BYTES) = (
    ALL_EVENTS.index(k) for k in ("trace_updates", "tag_updates", "surrogate_evals", "error_ops", "feedback_syn_ops",
                                  "weight_writes", "packets", "hops_ew", "hops_ns", "chip_hops", "axons_in",
                                  "state_write_bytes", "state_read_bytes"))


@njit
def loss_grad(o, y, gamma, out):
    """dL/do of L = (1 - gamma) CE(o, y) + gamma MSE(o, onehot(y)) into `out`; returns L."""
    C = o.shape[0]
    m = o.max()
    z = 0.0
    for k in range(C):
        z += math.exp(o[k] - m)
    loss = 0.0
    for k in range(C):
        t = 1.0 if k == y else 0.0
        p = math.exp(o[k] - m) / z
        out[k] = (1.0 - gamma) * (p - t) + gamma * 2.0 * (o[k] - t) / C
        loss += gamma * (o[k] - t) ** 2 / C
    return loss + (1.0 - gamma) * (math.log(z) + m - o[y])


@njit
def _write(k, dlt, n, fixed, syn_w, fb_w, mirror_of, fb_syn_row, syn_id, seed, lsb, w_min, w_max, scale, row, lcnt):
    """One synaptic update (read-modify-write) of synapse k by dlt mantissa units (stored as
    mantissa x scale), and its mirror."""
    if fixed:
        q = round_stochastic_at(dlt / lsb, seed, WEIGHT, syn_id[k], n)
        m = min(max(syn_w[k] / scale + lsb * q, w_min), w_max)
        syn_w[k] = m * scale
    else:
        m = syn_w[k] + dlt
        syn_w[k] = m
    lcnt[row, L_WEIGHT_WRITES] += 1
    f = mirror_of[k]
    if f >= 0:
        fb_w[f] = m
        lcnt[fb_syn_row[f], L_WEIGHT_WRITES] += 1


@njit
def _surrogate(vpre, vth_i, fixed, lut, lut_step, alpha):
    """The post factor S of a compartment from its potential before the spike test (chip.plastic,
    step 2): fixed, the LUT at the clipped offset from the threshold; float, sg(vpre - vth)."""
    if fixed:
        y = np.floor((vpre - vth_i) * lut_step)
        y = y if y > -LUT_HALF else -LUT_HALF     # clipped as a float: min/maxsd, no branches
        return lut[int(y if y < LUT_HALF else LUT_HALF) + LUT_HALF]
    p = 1.0 / (1.0 + math.exp(-alpha * (vpre - vth_i)))
    return alpha * p * (1.0 - p)


@njit
def _fold_learning(lcnt_step, lcnt, lat, core_learn):
    """Fold a learning phase's counts into the totals; per-core time into core_learn;
    returns the slowest core's learning time."""
    worst = 0.0
    n_cores = lcnt_step.shape[0] - 1
    for r in range(lcnt_step.shape[0]):
        tc = 0.0
        for k in range(lcnt_step.shape[1]):
            c = lcnt_step[r, k]
            if c != 0:
                lcnt[r, k] += c
                tc += c * lat[k]
                lcnt_step[r, k] = 0
        if r < n_cores:
            core_learn[r] = tc
            worst = max(worst, tc)
    return worst


@njit
def _key(seed, stream, index):
    """`fixed.uniform_at`'s state after seed, stream and index: the draws of one index then
    differ by the step only (one mix instead of three per draw)."""
    z = mix64(np.uint64(seed) * _GOLDEN + np.uint64(stream))
    return mix64(z ^ (np.uint64(index) * _GOLDEN))


@njit
def _weight_keys(seed, syn_id, fixed):
    """`_key` of every synapse's WEIGHT draws (fixed point; none in float)."""
    key_w = np.empty(syn_id.shape[0] if fixed else 0, np.uint64)
    for k in range(key_w.shape[0]):
        key_w[k] = _key(seed, WEIGHT, syn_id[k])
    return key_w


@njit
def _step_key(n):
    """The step's term of `fixed.uniform_at`."""
    return np.uint64(n) * _GOLDEN + np.uint64(1)


@njit
def _round_keyed(q, key, step_key):
    """`fixed.round_stochastic_at(q, seed, stream, index, n)` with key = _key(seed, stream,
    index) and step_key = _step_key(n); branch-free."""
    f = np.floor(q)
    u = (mix64(key ^ step_key) >> np.uint64(11)) * (1.0 / 9007199254740992.0)
    return f + 1.0 if u < q - f else f


@njit
def _tag_at(tag, lo, err, t0, m, pre, fixed, c_w, tag_max):
    """OTTT_A's tag updates of m synapses into consecutive targets, without slices (a view costs two
    atomic reference counts); unsigned indices (no negative-index test: it vectorises)."""
    a, b = np.uint64(lo), np.uint64(t0)
    if fixed:
        for q in range(np.uint64(m)):
            t = tag[a + q] + pre * err[b + q]
            t = t if t < tag_max else tag_max      # selects, not min/max calls: the loop vectorises
            tag[a + q] = t if t > -tag_max else -tag_max
    else:
        for q in range(np.uint64(m)):
            tag[a + q] = tag[a + q] - c_w * (pre * err[b + q])


@njit
def _write_run(lo, hi, val, v0, pre, cc, fixed, syn_w, key_w, step_key, lsb, w_min, w_max, scale):
    """`_write` of the synapses k in [lo, hi) with x = val[v0 + k - lo] != 0, by dlt = cc (pre
    x); the mirrors are the caller's (`_mirror_run`). Branch-free: the loop vectorises.
    Returns the number of writes."""
    writes = 0
    a, b = np.uint64(lo), np.uint64(v0)
    if fixed:
        for j in range(np.uint64(hi - lo)):
            x = val[b + j]
            q = cc * (pre * x) / lsb
            f = np.floor(q)
            u = (mix64(key_w[a + j] ^ step_key) >> np.uint64(11)) * (1.0 / 9007199254740992.0)
            r = f + 1.0 if u < q - f else f
            w = syn_w[a + j]
            m = w / scale + lsb * r
            m = w_min if w_min > m else m
            m = w_max if w_max < m else m
            syn_w[a + j] = np.int64(m * scale) if x != 0.0 else w
            writes += np.int64(x != 0.0)
    else:
        for j in range(np.uint64(hi - lo)):
            x = val[b + j]
            w = syn_w[a + j]
            syn_w[a + j] = w + cc * (pre * x) if x != 0.0 else w
            writes += np.int64(x != 0.0)
    return writes


@njit
def _mirror_run(lo, hi, val, v0, syn_w, scale, fb_w, mirror_of, fb_syn_row, lcnt):
    """The mirror writes of `_write_run`'s synapses: fb_w = the new mantissa (or weight)."""
    for j in range(hi - lo):
        k = lo + j
        f = mirror_of[k]
        if f >= 0 and val[v0 + j] != 0.0:
            fb_w[f] = syn_w[k] / scale
            lcnt[fb_syn_row[f], L_WEIGHT_WRITES] += 1


@njit
def _write_tags(tag, syn_ptr, axon_row, fixed, c_w, syn_w, key_w, step_key, lsb, w_min, w_max, w_scale, mirrored,
                mirror_of, fb_w, fb_syn_row, lcnt):
    """End of a sample (OTTT_A, BPTT-SG): every synapse with tag != 0 written by d = -c_w tag
    (float: w += tag), then its mirror; the tags become 0."""
    A = syn_ptr.shape[0] - 1
    for ax in range(A):
        writes = 0
        for k in range(np.uint64(syn_ptr[ax]), np.uint64(syn_ptr[ax + 1])):
            writes += np.int64(tag[k] != 0.0)
        lcnt[axon_row[ax], L_WEIGHT_WRITES] += writes
    lo, hi = syn_ptr[0], syn_ptr[A]
    _write_run(lo, hi, tag, lo, 1.0, -c_w if fixed else 1.0, fixed, syn_w, key_w, step_key, lsb, w_min, w_max, w_scale)
    for j in range(mirrored.shape[0]):
        k = mirrored[j]
        if tag[k] != 0.0:
            f = mirror_of[k]
            fb_w[f] = syn_w[k] / w_scale
            lcnt[fb_syn_row[f], L_WEIGHT_WRITES] += 1
    for k in range(np.uint64(lo), np.uint64(hi)):
        tag[k] = 0.0


@njit
def _runs(depth, row, n_depths):
    """Maximal runs of consecutive indices i with one depth[i] and one row[i], grouped by
    depth (ascending within a depth): ((runs, 3) of lo, hi, row; ptr: depth d's runs are
    ptr[d]:ptr[d + 1])."""
    n = depth.shape[0]
    lo = np.empty(n, np.int64)
    k = 0
    for i in range(n):
        if i == 0 or depth[i] != depth[i - 1] or row[i] != row[i - 1]:
            lo[k] = i
            k += 1
    runs = np.empty((k, 3), np.int64)
    ptr = np.zeros(n_depths + 1, np.int64)
    for j in range(k):
        ptr[depth[lo[j]] + 1] += 1
    for d in range(n_depths):
        ptr[d + 1] += ptr[d]
    fill = ptr[:-1].copy()
    for j in range(k):
        d = depth[lo[j]]
        runs[fill[d], 0] = lo[j]
        runs[fill[d], 1] = lo[j + 1] if j + 1 < k else n
        runs[fill[d], 2] = row[lo[j]]
        fill[d] += 1
    return runs, ptr


@njit
def _step_buffers(N, in_idx, scratch, cnt_infer, cnt_learn):
    """The scratch arrays of a chip step with a learning phase: senders, this step's
    counters (forward, learning), scratch marks, per-core times, spike flags (and their
    words)."""
    rows = cnt_infer.shape[0]
    flags = np.zeros(8 * ((N + 7) // 8), np.uint8)
    return (np.empty(N + in_idx.shape[0] + 1, np.int64), np.zeros((rows, cnt_infer.shape[1]), np.int64),
            np.zeros((rows, cnt_learn.shape[1]), np.int64), np.zeros(scratch.shape, np.bool_),
            np.zeros(rows - 1), np.zeros(rows - 1), np.zeros(rows - 1), flags, flags.view(np.uint64))


@njit
def _time_step(cnt_step, cnt_infer, latency_ns, barrier_ns, lcnt_step, cnt_learn, lat_all, core_busy, core_time,
               core_learn, sample_ns):
    """Fold a step's counts into the totals and add its time to the sample's (forward steps
    incl. barriers, learning phases: slowest core, whole steps: slowest core's forward +
    learning, plus the barrier)."""
    fwd = step_latency(cnt_step, cnt_infer, latency_ns, barrier_ns, core_busy, core_time)
    learn = _fold_learning(lcnt_step, cnt_learn, lat_all, core_learn)
    whole = 0.0
    for r in range(core_time.shape[0]):
        whole = max(whole, core_time[r] + core_learn[r])
    sample_ns[0] += fwd
    sample_ns[1] += learn
    sample_ns[2] += whole + barrier_ns


@njit
def _send_down(i, x, fb_out_ptr, fb_ew, fb_ns, fb_chip, fb_row, fb_syn_ptr, fb_tgt, fb_t0, fb_w, nrn_row, G_next, lcnt):
    """Neuron i sends the error x as a graded spike on its feedback axons; every feedback
    synapse adds b x to its target's sum."""
    r = nrn_row[i]
    for fa in range(fb_out_ptr[i], fb_out_ptr[i + 1]):
        lcnt[r, L_PACKETS] += 1
        lcnt[r, L_HOPS_EW] += fb_ew[fa]
        lcnt[r, L_HOPS_NS] += fb_ns[fa]
        lcnt[r, L_CHIP_HOPS] += fb_chip[fa]
        rd = fb_row[fa]
        lcnt[rd, L_AXONS_IN] += 1
        lo, hi, t0 = fb_syn_ptr[fa], fb_syn_ptr[fa + 1], fb_t0[fa]
        if t0 >= 0:   # consecutive targets: no gather, no slices (a view costs two atomic reference counts)
            a, b = np.uint64(t0), np.uint64(lo)
            for q in range(np.uint64(hi - lo)):
                G_next[a + q] += fb_w[b + q] * x
        else:
            for q in range(lo, hi):
                G_next[fb_tgt[q]] += fb_w[q] * x
        lcnt[rd, L_FEEDBACK_SYN_OPS] += hi - lo


@njit
def learn_samples(T, labels, in_ptr, in_idx, u, v, dend, scratch, sc_dirty, u0, v0, nrn_row,
                  run_ptr, run_row, kernel_runs, du_fac, dv_fac, bias, vth, sub, ramp_start, ramp_steps, ramp_slope,
                  out_ptr, out_axon, out_ew, out_ns, out_chip, sender_row, axon_row,
                  syn_ptr, syn_tgt, syn_w, syn_dly, ax_dly, ax_t0, sc_ptr, sc_row, sc_w, sc_dly, sc_comp, sc_shift,
                  latency_ns, barrier_ns,
                  rule, fixed, depth_of, L, H, ro_lo, ro_hi, theta, alpha, gamma, seed,
                  syn_id, mirror_of, seg, ax_sender,
                  fb_out_ptr, fb_ew, fb_ns, fb_chip, fb_row, fb_syn_ptr, fb_tgt, fb_t0, fb_w, fb_syn_row,
                  lam, impulse, trace_max, error_scale, error_max, tag_max, c_e, c_w, lsb, w_min, w_max, wexp,
                  lut, lut_shift, lat_all,
                  tag, step_no, cnt_infer, cnt_learn, losses, sample_ns):
    """Learn each sample (labels[s]; input channels of its step t are in_idx[in_ptr[s T + t]
    : in_ptr[s T + t + 1]]) from the reset state, T + 2L - 1 chip steps each (chip.plastic).

    Counters: the forward pass into cnt_infer (rows, EVENTS), the learning phases into
    cnt_learn (rows, ALL_EVENTS). losses[s]: the sample's loss; sample_ns[s] = (forward
    steps incl. barriers, learning phases: slowest core each, whole steps: slowest core's
    forward + learning, plus the barrier), in ns. step_no[0] counts chip steps learned.

    How it is fast (same results): every phase visits only the depths inside its logical
    window, in runs of one depth and one counter row (neurons: consecutive ids; plastic
    axons: their traces are kept by position in such runs), with branch-free loops that
    vectorise; a depth without a non-zero error has no updates; every rounding draw starts
    from its index's precomputed key (`_key`); no array views in the loops (each costs two
    atomic reference counts)."""
    N = u.shape[0]
    A = ax_sender.shape[0]
    S = T + 2 * L - 1
    C = ro_hi - ro_lo
    rows = cnt_infer.shape[0]
    # axons (all drive plastic synapses) by (sender depth, counter row): position p holds axon ax_list[p]
    ax_list = np.argsort(depth_of[ax_sender] * rows + axon_row, kind="mergesort")
    pos_of = np.empty(A, np.int64)
    for p in range(A):
        pos_of[ax_list[p]] = p
    ax_runs, ax_ptr = _runs(depth_of[ax_sender[ax_list]], axon_row[ax_list], L + 1)
    nrn_runs, nrn_ptr = _runs(depth_of[:N], nrn_row[:N], L + 1)
    # segments by (target depth, kind): sg_ptr[3 d + kind] .. sg_ptr[3 d + kind + 1]
    sg_key = seg[:, 3] * 3 + seg[:, 4]
    sg = np.argsort(sg_key, kind="mergesort")
    sg_ptr = np.searchsorted(sg_key[sg], np.arange(3 * (L + 1) + 1))
    sg_lo, sg_hi, sg_t0 = seg[sg, 0], seg[sg, 1], seg[sg, 5]
    sg_ax = seg[sg, 2]
    sg_pos = pos_of[sg_ax]
    sg_row = axon_row[sg_ax]
    # the rounding draws' keys: traces (by position), errors, weights
    key_tr = np.empty(A, np.uint64)
    for p in range(A):
        key_tr[p] = _key(seed, TRACE, ax_sender[ax_list[p]])
    key_err = np.empty(N, np.uint64)
    for i in range(N):
        key_err[i] = _key(seed, ERROR, i)
    key_w = _weight_keys(seed, syn_id, fixed)
    ax_mirror = np.zeros(A, np.bool_)    # the axon has synapses with a mirror
    n_mir = 0
    for ax in range(A):
        for k in range(syn_ptr[ax], syn_ptr[ax + 1]):
            if mirror_of[k] >= 0:
                ax_mirror[ax] = True
                n_mir += 1
    mirrored = np.empty(n_mir, np.int64)
    j = 0
    for k in range(syn_ptr[0], syn_ptr[A]):
        if mirror_of[k] >= 0:
            mirrored[j] = k
            j += 1
    trace = np.zeros((H + 1, A))    # row H stays 0: the trace before the first step
    spike = np.zeros((H, A), np.uint8)
    arrived = np.zeros(A, np.uint8)
    surr = np.zeros((H, N))
    err = np.zeros(N)
    v_last = v.copy()
    nonzero = np.zeros(N + 1, np.int64)
    G = np.zeros(N)
    G_next = np.zeros(N)
    o = np.zeros(C)
    e = np.zeros(C)
    (senders, cnt_step, lcnt_step, sc_mark, core_time, core_learn, core_busy, flags,
     words) = _step_buffers(N, in_idx, scratch, cnt_infer, cnt_learn)
    decay = lam * 4096.0
    lut_step = 1.0 / 2.0**lut_shift
    slot = np.arange(S) % H     # ring slot of logical step t (a table: no division in the loops)
    w_scale = 2.0**wexp
    has_err = np.zeros(L + 1, np.bool_)  # depth d has a non-zero error this step
    for s in range(labels.shape[0]):
        u[:] = u0
        v[:] = v0
        dend[:] = 0
        scratch[:] = 0
        trace[:] = 0.0
        spike[:] = 0
        arrived[:] = 0
        G[:] = 0.0
        loss = 0.0
        n0 = step_no[0]
        for tau in range(S):
            n = n0 + tau
            sk = _step_key(n)
            # 1. presynaptic traces of the spikes that arrived in the last delivery: senders
            # at depth ds <= tau - 1, at logical ts = tau - 1 - ds
            for ds in range(min(tau, L + 1)):
                ts = tau - 1 - ds
                cur = np.uint64(slot[ts])
                prv = np.uint64(slot[ts - 1] if ts >= 1 else H)
                for g in range(ax_ptr[ds], ax_ptr[ds + 1]):
                    updates = 0
                    if fixed:
                        for p in range(np.uint64(ax_runs[g, 0]), np.uint64(ax_runs[g, 1])):
                            prev = trace[prv, p]
                            arr = arrived[p]
                            a = min(_round_keyed(prev * decay / 4096.0, key_tr[p], sk) + impulse * arr, trace_max)
                            live = (prev != 0.0) | (arr != 0)
                            trace[cur, p] = a if live else 0.0
                            spike[cur, p] = arr
                            updates += np.int64(live)
                    else:
                        for p in range(np.uint64(ax_runs[g, 0]), np.uint64(ax_runs[g, 1])):
                            prev = trace[prv, p]
                            arr = arrived[p]
                            live = (prev != 0.0) | (arr != 0)
                            trace[cur, p] = lam * prev + arr if live else 0.0
                            spike[cur, p] = arr
                            updates += np.int64(live)
                    lcnt_step[ax_runs[g, 2], L_TRACE_UPDATES] += updates
            arrived[:] = 0
            # 2. the forward step; surrogates of the hidden compartments from v before the spike test
            v_last[:] = v
            lo = in_ptr[s * T + tau] if tau < T else 0
            hi = in_ptr[s * T + tau + 1] if tau < T else 0
            n_spk, n_send = forward_step(tau, lo, hi, in_idx, u, v, dend, scratch, sc_mark, sc_dirty, flags, words,
                                         senders, run_ptr, run_row, kernel_runs, du_fac, dv_fac, bias, vth, sub,
                                         ramp_start, ramp_steps, ramp_slope, out_ptr, out_axon, out_ew, out_ns, out_chip,
                                         sender_row, axon_row, syn_ptr, syn_tgt, syn_w, syn_dly, ax_dly, ax_t0, sc_ptr, sc_row,
                                         sc_w, sc_dly, sc_comp, sc_shift, cnt_step)
            for d in range(max(1, tau - T + 1), min(L, tau + 1)):   # hidden depths with t = tau - d in [0, T)
                t = np.uint64(slot[tau - d])
                for g in range(nrn_ptr[d], nrn_ptr[d + 1]):
                    for i in range(np.uint64(nrn_runs[g, 0]), np.uint64(nrn_runs[g, 1])):
                        surr[t, i] = _surrogate(v_before_reset(v_last[i], u[i], dv_fac[i], bias[i]), vth[i], fixed,
                                                lut, lut_step, alpha)
                    lcnt_step[nrn_runs[g, 2], L_SURROGATE_EVALS] += nrn_runs[g, 1] - nrn_runs[g, 0]
            for k in range(n_send):
                snd = senders[k]
                for q in range(out_ptr[snd], out_ptr[snd + 1]):
                    arrived[pos_of[out_axon[q]]] = 1
            # 3a. errors: the readout's loss gradient, the hidden errors from the feedback sums
            t_ro = tau - L
            has_err[L] = False
            if 0 <= t_ro < T:
                for k in range(C):
                    o[k] = v[ro_lo + k] / theta if fixed else v[ro_lo + k]
                loss += loss_grad(o, labels[s], gamma, e) / T
                for k in range(C):
                    x = e[k] / T * error_scale
                    if fixed:
                        x = min(max(_round_keyed(x, key_err[ro_lo + k], sk), -error_max), error_max)
                    err[ro_lo + k] = x
                    has_err[L] = has_err[L] | (x != 0.0)
                    lcnt_step[nrn_row[ro_lo + k], L_ERROR_OPS] += 1
            else:
                for k in range(ro_lo, ro_hi):
                    err[k] = 0.0
            for d in range(1, L):
                td = tau - 2 * L + d
                live = 0 <= td < T
                t = np.uint64(slot[td] if live else 0)
                nz = 0
                for g in range(nrn_ptr[d], nrn_ptr[d + 1]):
                    ops = 0
                    i0, i1 = np.uint64(nrn_runs[g, 0]), np.uint64(nrn_runs[g, 1])
                    if not live:
                        for i in range(i0, i1):
                            err[i] = 0.0
                            G[i] = 0.0
                    elif fixed:
                        for i in range(i0, i1):
                            gi = G[i]
                            x = min(max(_round_keyed(c_e * (gi * surr[t, i]), key_err[i], sk), -error_max), error_max)
                            x = x if gi != 0.0 else 0.0
                            err[i] = x
                            G[i] = 0.0
                            ops += np.int64(gi != 0.0)
                            nz += np.int64(x != 0.0)
                    else:
                        for i in range(i0, i1):
                            gi = G[i]
                            x = gi * surr[t, i] if gi != 0.0 else 0.0
                            err[i] = x
                            G[i] = 0.0
                            ops += np.int64(gi != 0.0)
                            nz += np.int64(x != 0.0)
                    lcnt_step[nrn_runs[g, 2], L_ERROR_OPS] += ops
                has_err[d] = nz > 0
            any_err = False
            for d in range(1, L + 1):
                any_err |= has_err[d]
            if any_err and rule == OTTT_A:  # nonzero[i]: errors among neurons < i, to count a run's visits at once
                for i in range(N):
                    nonzero[i + 1] = nonzero[i] + (err[i] != 0.0)
            # 3b. errors down, as graded spikes on the feedback axons (depths >= 2), ascending
            for d in range(2, L + 1):
                if not has_err[d]:
                    continue
                for g in range(nrn_ptr[d], nrn_ptr[d + 1]):
                    for i in range(nrn_runs[g, 0], nrn_runs[g, 1]):
                        if err[i] != 0.0:
                            _send_down(i, err[i], fb_out_ptr, fb_ew, fb_ns, fb_chip,
                                       fb_row, fb_syn_ptr, fb_tgt, fb_t0, fb_w,
                                       nrn_row, G_next, lcnt_step)
            # 3c. updates of the synapses with a dependency (pre term and error both non-zero),
            # a segment (one axon's synapses into one depth, of one kind) at a time; a depth
            # without errors has none
            for d in range(1, L + 1):
                td = tau - 2 * L + d
                if not (0 <= td < T and has_err[d]):
                    continue
                for kind in range(3):
                    if kind == SEG_RECURRENT and td == 0:    # its pre term A[-1] is 0
                        continue
                    src = slot[td - 1] if kind == SEG_RECURRENT else slot[td]
                    for j in range(sg_ptr[3 * d + kind], sg_ptr[3 * d + kind + 1]):
                        pre = impulse * spike[src, sg_pos[j]] if kind == SEG_READOUT else trace[src, sg_pos[j]]
                        if pre == 0.0:
                            continue
                        r = sg_row[j]
                        lo, hi, t0 = sg_lo[j], sg_hi[j], sg_t0[j]
                        if rule == OTTT_A:
                            visits = 0
                            if t0 >= 0:
                                _tag_at(tag, lo, err, t0, hi - lo, pre, fixed, c_w, tag_max)
                                visits = nonzero[t0 + hi - lo] - nonzero[t0]
                            else:
                                for k in range(lo, hi):
                                    x = err[syn_tgt[k]]
                                    if x != 0.0:
                                        tag[k] = min(max(tag[k] + pre * x, -tag_max), tag_max) if fixed \
                                            else tag[k] - c_w * (pre * x)
                                        visits += 1
                            lcnt_step[r, L_TAG_UPDATES] += visits
                        elif t0 >= 0:
                            lcnt_step[r, L_WEIGHT_WRITES] += _write_run(lo, hi, err, t0, pre, -c_w, fixed, syn_w, key_w,
                                                                        sk, lsb, w_min, w_max, w_scale)
                            if ax_mirror[sg_ax[j]]:
                                _mirror_run(lo, hi, err, t0, syn_w, w_scale, fb_w, mirror_of, fb_syn_row, lcnt_step)
                        else:
                            for k in range(lo, hi):
                                x = err[syn_tgt[k]]
                                if x != 0.0:
                                    _write(k, -c_w * (pre * x), n, fixed, syn_w, fb_w, mirror_of, fb_syn_row, syn_id,
                                           seed, lsb, w_min, w_max, w_scale, r, lcnt_step)
            G, G_next = G_next, G
            # 4. time: forward phases per core, then the learning phase, then the barrier
            _time_step(cnt_step, cnt_infer, latency_ns, barrier_ns, lcnt_step, cnt_learn, lat_all, core_busy,
                       core_time, core_learn, sample_ns[s])
        if rule == OTTT_A:  # the sample's epoch: every tagged synapse written once (then its mirror)
            _write_tags(tag, syn_ptr, axon_row, fixed, c_w, syn_w, key_w, _step_key(n0 + S - 1), lsb, w_min, w_max,
                        w_scale, mirrored, mirror_of, fb_w, fb_syn_row, lcnt_step)
            learn = _fold_learning(lcnt_step, cnt_learn, lat_all, core_learn)
            sample_ns[s, 1] += learn
            sample_ns[s, 2] += learn
        losses[s] = loss
        step_no[0] = n0 + S


@njit
def _quantize(x, fixed, seed, stream, index, n, top):
    """Stochastic rounding clipped to +-top (fixed point); x itself in float."""
    if not fixed:
        return x
    return min(max(round_stochastic_at(x, seed, stream, index, n), -top), top)


@njit
def event_samples(T, labels, in_ptr, in_idx, u, v, dend, scratch, sc_dirty, u0, v0, nrn_row,
                  run_ptr, run_row, kernel_runs, du_fac, dv_fac, bias, vth, sub, ramp_start, ramp_steps, ramp_slope,
                  out_ptr, out_axon, out_ew, out_ns, out_chip, sender_row, axon_row,
                  syn_ptr, syn_tgt, syn_w, syn_dly, ax_dly, ax_t0, sc_ptr, sc_row, sc_w, sc_dly, sc_comp, sc_shift,
                  latency_ns, barrier_ns,
                  timing, fixed, depth_of, L, ro_lo, ro_hi, gamma, seed,
                  syn_id, mirror_of, seg, ax_sender,
                  fb_out_ptr, fb_ew, fb_ns, fb_chip, fb_row, fb_syn_ptr, fb_tgt, fb_t0, fb_w, fb_syn_row,
                  lam, impulse, trace_max, error_scale, error_max, tag_max, c_d, c_p, c_w, lsb, w_min, w_max, wexp,
                  lut, lut_shift, alpha, theta, s_min, readout_scale, kappa_theta, rate, thr_min, thr_max, sub_follows,
                  lat_all, tag, step_no, cnt_infer, cnt_learn, losses, sample_ns):
    """STD-ED (timing = 1) or MPD-ED (timing = 0) on each sample, from the reset state: T + L
    chip steps of forward pass with eligibilities at the spikes and adaptive thresholds (vth,
    and sub if sub_follows, are the threshold registers, kept across samples), then the
    learning epoch of L + 1 phases (chip.plastic; arguments as `learn_samples`)."""
    N = u.shape[0]
    A = ax_sender.shape[0]
    C = ro_hi - ro_lo
    trace = np.zeros((2, A))
    arrived = np.zeros(A, np.uint8)
    v_last = v.copy()
    spk = np.zeros(N, np.uint8)
    phi = np.zeros(N)
    G = np.zeros(N)
    c = np.zeros(N)
    D = np.zeros(N)
    Gin = np.zeros(N)
    o = np.zeros(C)
    e = np.zeros(C)
    (senders, cnt_step, lcnt_step, sc_mark, core_time, core_learn, core_busy, flags,
     words) = _step_buffers(N, in_idx, scratch, cnt_infer, cnt_learn)
    decay = lam * 4096.0
    lut_step = 1.0 / 2.0**lut_shift
    w_scale = 2.0**wexp
    for s in range(labels.shape[0]):
        u[:] = u0
        v[:] = v0
        dend[:] = 0
        scratch[:] = 0
        trace[:] = 0.0
        arrived[:] = 0
        n0 = step_no[0]
        for tau in range(T + L):
            n = n0 + tau
            # 1. presynaptic traces of the spikes that arrived in the last delivery
            for ax in range(A):
                arr = arrived[ax]
                arrived[ax] = 0
                snd = ax_sender[ax]
                ts = tau - 1 - depth_of[snd]
                if ts < 0:
                    continue
                prev = trace[(ts - 1) & 1, ax] if ts >= 1 else 0.0
                a = 0.0
                if prev != 0.0 or arr:
                    if fixed:
                        a = min(round_stochastic_at(prev * decay / 4096.0, seed, TRACE, snd, n) + impulse * arr,
                                trace_max)
                    else:
                        a = lam * prev + arr
                    lcnt_step[axon_row[ax], L_TRACE_UPDATES] += 1
                trace[ts & 1, ax] = a
            # 2. the forward step; at the spikes phi, G and c; every neuron's threshold adapts
            v_last[:] = v
            lo = in_ptr[s * T + tau] if tau < T else 0
            hi = in_ptr[s * T + tau + 1] if tau < T else 0
            n_spk, n_send = forward_step(tau, lo, hi, in_idx, u, v, dend, scratch, sc_mark, sc_dirty, flags, words,
                                         senders, run_ptr, run_row, kernel_runs, du_fac, dv_fac, bias, vth, sub,
                                         ramp_start, ramp_steps, ramp_slope, out_ptr, out_axon, out_ew, out_ns, out_chip,
                                         sender_row, axon_row, syn_ptr, syn_tgt, syn_w, syn_dly, ax_dly, ax_t0, sc_ptr,
                                         sc_row, sc_w, sc_dly, sc_comp, sc_shift, cnt_step)
            spk[:] = 0
            for k in range(n_spk):
                spk[senders[k]] = 1
            for i in range(N):
                t = tau - depth_of[i]
                if not 0 <= t < T:
                    spk[i] = 0
                    continue
                r = nrn_row[i]
                if spk[i]:
                    vpre = v_before_reset(v_last[i], u[i], dv_fac[i], bias[i])
                    if timing:
                        if fixed:
                            k = int(np.floor((vpre - v_last[i]) * lut_step))
                            p = lut[min(max(k, 0), 2 * LUT_HALF)]
                        else:
                            p = 1.0 / max((vpre - v_last[i]) / theta, s_min)
                    elif fixed:
                        k = int(np.floor((vpre - vth[i]) * lut_step))
                        p = lut[min(max(k, -LUT_HALF), LUT_HALF) + LUT_HALF]
                    else:
                        q = 1.0 / (1.0 + math.exp(-alpha * ((vpre - vth[i]) / theta)))
                        p = alpha * q * (1.0 - q)
                    phi[i] = p
                    G[i] = min(G[i] + p, tag_max)
                    c[i] = min(c[i] + (T - t if timing else 1), tag_max)
                    lcnt_step[r, L_SURROGATE_EVALS] += 1
                x = kappa_theta * (spk[i] - rate)
                if fixed:
                    x = round_stochastic_at(x, seed, THRESH, i, n)
                th = min(max(vth[i] + x, thr_min), thr_max)
                vth[i] = th
                if sub_follows:
                    sub[i] = th
                lcnt_step[r, L_TRACE_UPDATES] += 1
            for k in range(n_send):
                snd = senders[k]
                for q in range(out_ptr[snd], out_ptr[snd + 1]):
                    arrived[out_axon[q]] = 1
            # 3. eligibility at the synapses of the neurons that spiked
            for g in range(seg.shape[0]):
                ax = seg[g, 2]
                td = tau - seg[g, 3]
                if not 0 <= td < T:
                    continue
                if seg[g, 4] == SEG_RECURRENT:
                    pre = trace[(td - 1) & 1, ax] if td >= 1 else 0.0
                else:
                    pre = trace[td & 1, ax]
                if pre == 0.0:
                    continue
                visits = 0
                for k in range(seg[g, 0], seg[g, 1]):
                    i = syn_tgt[k]
                    if spk[i]:
                        x = tag[k] + phi[i] * pre
                        tag[k] = min(max(x, -tag_max), tag_max) if fixed else x
                        visits += 1
                lcnt_step[axon_row[ax], L_TAG_UPDATES] += visits
            _time_step(cnt_step, cnt_infer, latency_ns, barrier_ns, lcnt_step, cnt_learn, lat_all, core_busy,
                       core_time, core_learn, sample_ns[s])
        # the learning epoch: the readout's errors, then depth by depth down, then the writes
        n = n0 + T + L
        for k in range(C):
            o[k] = readout_scale * c[ro_lo + k] / (T if timing else 1)
        loss = loss_grad(o, labels[s], gamma, e)
        for k in range(C):
            D[ro_lo + k] = _quantize(e[k] * readout_scale * error_scale, fixed, seed, ERROR, ro_lo + k, n, error_max)
            lcnt_step[nrn_row[ro_lo + k], L_ERROR_OPS] += 1
        for p in range(L):
            d = L - p
            for i in range(N):
                if depth_of[i] != d:
                    continue
                if d < L:
                    if c[i] != 0.0:
                        D[i] = _quantize(c_d * Gin[i], fixed, seed, ERROR, i, n + p, error_max)
                        lcnt_step[nrn_row[i], L_ERROR_OPS] += 1
                    else:
                        D[i] = 0.0
                if d >= 2 and c[i] != 0.0 and D[i] != 0.0:
                    x = c_p * D[i] * G[i] if timing else c_p * D[i] * G[i] / c[i]
                    x = _quantize(x, fixed, seed, PAYLOAD, i, n + p, error_max)
                    lcnt_step[nrn_row[i], L_ERROR_OPS] += 1
                    _send_down(i, x, fb_out_ptr, fb_ew, fb_ns, fb_chip,
                               fb_row, fb_syn_ptr, fb_tgt, fb_t0, fb_w, nrn_row, Gin,
                               lcnt_step)
            learn = _fold_learning(lcnt_step, cnt_learn, lat_all, core_learn)
            sample_ns[s, 1] += learn
            sample_ns[s, 2] += learn + barrier_ns
        for ax in range(A):
            for k in range(syn_ptr[ax], syn_ptr[ax + 1]):
                if tag[k] != 0.0:
                    x = D[syn_tgt[k]]
                    if x != 0.0:
                        _write(k, -c_w * x * tag[k], n + L, fixed, syn_w, fb_w, mirror_of, fb_syn_row, syn_id, seed,
                               lsb, w_min, w_max, w_scale, axon_row[ax], lcnt_step)
                    tag[k] = 0.0
        learn = _fold_learning(lcnt_step, cnt_learn, lat_all, core_learn)
        sample_ns[s, 1] += learn
        sample_ns[s, 2] += learn + barrier_ns
        G[:] = 0.0
        c[:] = 0.0
        D[:] = 0.0
        Gin[:] = 0.0
        losses[s] = loss
        step_no[0] = n0 + T + 2 * L + 1


@njit
def bptt_samples(T, labels, in_ptr, in_idx, u, v, dend, scratch, sc_dirty, u0, v0, nrn_row,
                 run_ptr, run_row, kernel_runs, du_fac, dv_fac, bias, vth, sub, ramp_start, ramp_steps, ramp_slope,
                 out_ptr, out_axon, out_ew, out_ns, out_chip, sender_row, axon_row,
                 syn_ptr, syn_tgt, syn_w, syn_dly, ax_dly, ax_t0, sc_ptr, sc_row, sc_w, sc_dly, sc_comp, sc_shift,
                 latency_ns, barrier_ns,
                 fixed, depth_of, L, ro_lo, ro_hi, theta, alpha, gamma, seed, syn_id, mirror_of, ax_sender,
                 fb_out_ptr, fb_ew, fb_ns, fb_chip, fb_row, fb_syn_ptr, fb_tgt, fb_t0, fb_w, fb_syn_row,
                 lam, impulse, error_scale, error_max, tag_max, c_u, s_scale, reset_full, c_w, lsb, w_min, w_max, wexp,
                 lut, lut_shift, step_state_bits, lat_all, tag, step_no, cnt_infer, cnt_learn, losses, sample_ns):
    """BPTT-SG on each sample, from the reset state (chip.plastic): T + L chip steps of forward
    pass that store every step's spike bits, surrogates and readout errors, then T backward
    steps of L phases each from the readout down, then the tags' writes. Arguments as
    `learn_samples`; c_u = dyadic(unit), s_scale = 2**-F_s, reset_full: Yang 2020's reset
    path; step_state_bits: bits stored per step on each counter row."""
    N = u.shape[0]
    A = ax_sender.shape[0]
    C = ro_hi - ro_lo
    rows = cnt_infer.shape[0]
    spike = np.zeros((T, A), np.uint8)      # B[t]: the axon's sender spiked at logical t
    surr = np.zeros((T, N))
    E = np.zeros((T, C))
    v_last = v.copy()
    D = np.zeros(N)
    D_next = np.zeros(N)
    G = np.zeros(N)
    o = np.zeros(C)
    e = np.zeros(C)
    key_w = _weight_keys(seed, syn_id, fixed)
    mirrored = np.nonzero(mirror_of >= 0)[0]
    ax_depth = depth_of[ax_sender] + 1      # the depth an axon's synapses feed (no recurrence)
    rho = (1.0 if fixed else theta) if reset_full else 0.0
    state_bytes = (T * step_state_bits + 7) // 8
    (senders, cnt_step, lcnt_step, sc_mark, core_time, core_learn, core_busy, flags,
     words) = _step_buffers(N, in_idx, scratch, cnt_infer, cnt_learn)
    lut_step = 1.0 / 2.0**lut_shift
    w_scale = 2.0**wexp
    for s in range(labels.shape[0]):
        u[:] = u0
        v[:] = v0
        dend[:] = 0
        scratch[:] = 0
        spike[:] = 0
        loss = 0.0
        n0 = step_no[0]
        for tau in range(T + L):
            n = n0 + tau
            v_last[:] = v
            lo = in_ptr[s * T + tau] if tau < T else 0
            hi = in_ptr[s * T + tau + 1] if tau < T else 0
            n_spk, n_send = forward_step(tau, lo, hi, in_idx, u, v, dend, scratch, sc_mark, sc_dirty, flags, words,
                                         senders, run_ptr, run_row, kernel_runs, du_fac, dv_fac, bias, vth, sub,
                                         ramp_start, ramp_steps, ramp_slope, out_ptr, out_axon, out_ew, out_ns, out_chip,
                                         sender_row, axon_row, syn_ptr, syn_tgt, syn_w, syn_dly, ax_dly, ax_t0, sc_ptr,
                                         sc_row, sc_w, sc_dly, sc_comp, sc_shift, cnt_step)
            for k in range(n_send):     # stored spike bits, at the axons' cores
                snd = senders[k]
                t = tau - depth_of[snd]
                if 0 <= t < T:
                    for q in range(out_ptr[snd], out_ptr[snd + 1]):
                        spike[t, out_axon[q]] = 1
            for i in range(N):          # stored surrogates of the hidden compartments
                d = depth_of[i]
                t = tau - d
                if d == L or not 0 <= t < T:
                    continue
                surr[t, i] = _surrogate(v_before_reset(v_last[i], u[i], dv_fac[i], bias[i]), vth[i], fixed, lut,
                                        lut_step, alpha)
                lcnt_step[nrn_row[i], L_SURROGATE_EVALS] += 1
            t = tau - L                 # stored readout errors
            if 0 <= t < T:
                for k in range(C):
                    o[k] = v[ro_lo + k] / theta if fixed else v[ro_lo + k]
                loss += loss_grad(o, labels[s], gamma, e) / T
                for k in range(C):
                    E[t, k] = _quantize(e[k] / T * error_scale, fixed, seed, ERROR, ro_lo + k, n, error_max)
                    lcnt_step[nrn_row[ro_lo + k], L_ERROR_OPS] += 1
            if tau == T + L - 1:
                for r in range(rows):
                    lcnt_step[r, L_STATE_WRITE_BYTES] += state_bytes[r]
            _time_step(cnt_step, cnt_infer, latency_ns, barrier_ns, lcnt_step, cnt_learn, lat_all, core_busy,
                       core_time, core_learn, sample_ns[s])
        # backward through time: step t = T - 1 - r, phases from the readout down
        D_next[:] = 0.0
        for r in range(T):
            t = T - 1 - r
            n = n0 + T + L + r
            for d in range(L, 0, -1):
                for i in range(N):
                    if depth_of[i] != d:
                        continue
                    if d == L:
                        D[i] = E[t, i - ro_lo]
                        continue
                    g, dn = G[i], D_next[i]
                    x = 0.0
                    if g != 0.0 or dn != 0.0:
                        x = _quantize(((c_u * g - rho * (lam * dn)) * surr[t, i]) * s_scale + lam * dn, fixed, seed,
                                      ERROR, i, n, error_max)
                        lcnt_step[nrn_row[i], L_ERROR_OPS] += np.int64(g != 0.0) + np.int64(dn != 0.0) * (
                            1 + np.int64(reset_full))
                    D[i] = x
                    D_next[i] = x
                    G[i] = 0.0
                for ax in range(A):     # the gradient sums of the synapses into depth d
                    if ax_depth[ax] != d or spike[t, ax] == 0:
                        continue
                    visits = 0
                    for k in range(syn_ptr[ax], syn_ptr[ax + 1]):
                        x = D[syn_tgt[k]]
                        if x != 0.0:
                            tag[k] = min(max(tag[k] + impulse * x, -tag_max), tag_max) if fixed else tag[k] - c_w * x
                            visits += 1
                    lcnt_step[axon_row[ax], L_TAG_UPDATES] += visits
                if d >= 2:              # errors down to depth d - 1
                    for i in range(N):
                        if depth_of[i] == d and D[i] != 0.0:
                            _send_down(i, D[i], fb_out_ptr, fb_ew, fb_ns, fb_chip,
                                       fb_row, fb_syn_ptr, fb_tgt, fb_t0, fb_w,
                                       nrn_row, G, lcnt_step)
                if r == T - 1 and d == 1:
                    for q in range(rows):
                        lcnt_step[q, L_STATE_READ_BYTES] += state_bytes[q]
                learn = _fold_learning(lcnt_step, cnt_learn, lat_all, core_learn)
                sample_ns[s, 1] += learn
                sample_ns[s, 2] += learn + barrier_ns
        _write_tags(tag, syn_ptr, axon_row, fixed, c_w, syn_w, key_w, _step_key(n0 + 2 * T + L - 1), lsb, w_min,
                    w_max, w_scale, mirrored, mirror_of, fb_w, fb_syn_row, lcnt_step)
        learn = _fold_learning(lcnt_step, cnt_learn, lat_all, core_learn)
        sample_ns[s, 1] += learn
        sample_ns[s, 2] += learn + barrier_ns
        losses[s] = loss
        step_no[0] = n0 + 2 * T + L
