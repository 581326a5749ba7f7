"""The layered engine's event-driven rules (STD-ED, MPD-ED: `rules.rule.EventDriven`) as they
ran before the plastic cores (the layered engine's `event_sample`), kept
as a float reference of the operational definitions; the float twin of the chip's event
rules (`tests/reference/plastic.py` `learn_event`) is checked against it.

Float mode only, plain numpy, the old kernel's operations in its order (loops where the order
of a sum matters). Matrix m joins layer m to layer m + 1 and is held pre-major,
Wm[j, i] = the synapse from pre neuron j to post neuron i; every layer spikes (the readout
too) with soft reset, leak lam = 1 - dv (1 for STD-ED), an adaptive threshold scale thr per
neuron that persists across samples (threshold thr * theta).
"""
from itertools import pairwise

import numpy as np

from neurochip.chip.plastic_kernels import loss_grad
from neurochip.model.events import LEARNING_EVENTS
from neurochip.rules.rule import EventDriven

COLUMNS = ("syn_ops", "neuron_updates_active", "spikes_out") + LEARNING_EVENTS   # the old kernel's counters

(SYN_OPS, UPDATES_ACTIVE, SPIKES_OUT, TRACE_UPDATES, SURROGATE_EVALS, ERROR_OPS, FEEDBACK_SYN_OPS,
 WEIGHT_WRITES) = map(COLUMNS.index, ("syn_ops", "neuron_updates_active", "spikes_out", "trace_updates",
                                      "surrogate_evals", "error_ops", "feedback_syn_ops", "weight_writes"))


def sigmoid_grad(x, alpha):
    p = 1.0 / (1.0 + np.exp(-alpha * x))
    return alpha * p * (1.0 - p)


def sample(x, y, Ws, thr, rule, *, lam, theta, cnt):
    """One sample of `rule` (an EventDriven): updates the pre-major matrices Ws and the
    threshold scales thr (one array per layer 1 .. L) in place, counts into cnt (a row of
    `COLUMNS` per matrix); returns the loss.

    Every layer spikes: u = lam v + W^T s_in, s = u > thr theta, v = u - thr theta s; then
    thr += kappa (s - rate) clipped to [thr_lo, thr_hi], for every neuron. The presynaptic
    trace of matrix m is a = lam a + s_in (lam = 1 for STD-ED). At a spike of post neuron i,
    phi_i = sg((u_i - thr_i theta) / theta) (MPD-ED) or 1 / max((u_i - v_i[t-1]) / theta,
    s_min) (STD-ED), G_i += phi_i, c_i += 1 (MPD-ED) or (T - t) / T (STD-ED), and
    e_ji += phi_i a_j over the pre neurons with a_j != 0. At the end o = readout_scale c of
    the readout, delta = readout_scale dL/do; going down, delta_j = sum over post i with
    c_i != 0 of W_ji delta_i G_i psi / (c_i, or 1 for STD-ED) for pre neurons j with
    c_j != 0 (else 0), with the matrix's weights before its own update; then
    W_ji -= eta psi delta_i e_ji (psi = 1 / T for STD-ED, else 1)."""
    timing = rule.kind == "STD-ED"
    T = x.shape[0]
    M = len(Ws)
    lam_f = 1.0 if timing else lam
    v = [np.zeros(w.shape[1]) for w in Ws]
    trace = [np.zeros(w.shape[0]) for w in Ws]
    elig = [np.zeros(w.shape) for w in Ws]
    G = [np.zeros(w.shape[1]) for w in Ws]
    c = [np.zeros(w.shape[1]) for w in Ws]
    for t in range(T):
        pre = x[t]
        for m, Wm in enumerate(Ws):
            n_pre, n_post = Wm.shape
            trace[m] = lam_f * trace[m] + pre
            cnt[m, TRACE_UPDATES] += n_pre
            current = np.zeros(n_post)  # W^T s_in over the active pre neurons, in pre order
            for j in range(n_pre):
                if pre[j] != 0.0:
                    current += pre[j] * Wm[j]
                    cnt[m, SYN_OPS] += n_post
            threshold = thr[m] * theta
            vprev = v[m]
            vpre = lam_f * vprev + current
            s = (vpre > threshold).astype(np.float64)
            v[m] = np.where(s != 0.0, vpre - threshold, vpre)
            cnt[m, SPIKES_OUT] += int(s.sum())
            cnt[m, UPDATES_ACTIVE] += n_post
            for i in np.flatnonzero(s):
                if timing:
                    phi = 1.0 / max((vpre[i] - vprev[i]) / theta, rule.s_min)
                    c[m][i] += (T - t) / T
                else:
                    phi = sigmoid_grad((vpre[i] - threshold[i]) / theta, rule.alpha)
                    c[m][i] += 1.0
                cnt[m, SURROGATE_EVALS] += 1
                G[m][i] += phi
                for j in range(n_pre):
                    if trace[m][j] != 0.0:
                        elig[m][j, i] += phi * trace[m][j]
                        cnt[m, TRACE_UPDATES] += 1
            thr[m][:] = np.clip(thr[m] + rule.kappa * (s - rule.rate), rule.thr_lo, rule.thr_hi)
            cnt[m, TRACE_UPDATES] += n_post
            pre = s
    C = Ws[-1].shape[1]
    o = c[-1] * rule.readout_scale
    e = np.zeros(C)
    loss = loss_grad(o, y, rule.gamma, e)
    delta = e * rule.readout_scale
    cnt[M - 1, ERROR_OPS] += C
    psi = 1.0 / T if timing else 1.0
    scale = rule.eta * psi
    for m in range(M - 1, -1, -1):
        Wm = Ws[m]
        n_pre, n_post = Wm.shape
        below = None
        if m > 0:  # errors reach the neurons below only through spikes, both ways
            below = np.zeros(n_pre)
            for j in range(n_pre):
                if c[m - 1][j] != 0.0:
                    d = 0.0
                    for i in range(n_post):
                        if c[m][i] != 0.0:
                            d += Wm[j, i] * delta[i] * G[m][i] * psi / (1.0 if timing else c[m][i])
                            cnt[m, FEEDBACK_SYN_OPS] += 1
                    below[j] = d
        change = elig[m] * (-scale * delta)
        Wm += change
        cnt[m, WEIGHT_WRITES] += int(np.count_nonzero(change))
        delta = below
    return float(loss)


def learn(sizes, W, xs, ys, kind, *, theta, dv, **rule_kw):
    """`LayeredLearner(sizes, EventDriven(kind, **rule_kw), lam=1 - dv, theta=theta,
    weights=W)` learning the samples xs (each (T, sizes[0])) with labels ys, from threshold
    scales 1: (weights as (n_post, n_pre) matrices, losses, thresholds thr theta of layers
    1 .. L concatenated, counts summed over the matrices by `COLUMNS` name)."""
    rule = EventDriven(kind=kind, **rule_kw)
    sizes = [int(n) for n in sizes]
    Ws = [np.array(w, np.float64).T.copy() for w in W]  # pre-major, as the engine stored them
    if [w.shape for w in Ws] != list(pairwise(sizes)):
        raise ValueError(f"weights of shapes {[np.shape(w) for w in W]} do not join layers {sizes}")
    thr = [np.ones(n) for n in sizes[1:]]
    cnt = np.zeros((len(Ws), len(COLUMNS)), np.int64)
    losses = [sample(np.asarray(x, np.float64), int(y), Ws, thr, rule, lam=1.0 - dv, theta=theta, cnt=cnt)
              for x, y in zip(xs, ys)]
    counts = dict(zip(COLUMNS, (int(k) for k in cnt.sum(0))))
    return [w.T.copy() for w in Ws], losses, np.concatenate(thr) * theta, counts
