"""Naive twin of neurochip/ttfs.py: one sample, event by event, in exact rational arithmetic.

Input spikes are processed in time order; each spike switches on a constant current W_ij in
every neuron it reaches (the potential is advanced piecewise: V += slope * (t - t_last)).
At t_min(n) the slope becomes 1 (B1) and the neuron fires at the first time (float) or grid
point (fixed, stepped one by one) where V >= theta. Pool units fire at the first spike that
reaches them. Every event is counted as the module docstring of neurochip.ttfs says.
"""
import math
from fractions import Fraction as F


def simulate(weights, biases, windows, x, time_bits=None, pools=None):
    """Returns dict(stages, times, ticks, activations, logits (floats), counts, spikes (list of
    (stage, neuron, time)), saturated)."""
    L = len(weights)
    pools = pools or [None] * (L - 1)
    steps = None if time_bits is None else 2 ** time_bits
    counts = dict(syn_ops=0, spikes_out=0, neuron_updates_active=0, neuron_updates_inactive=0)
    fired_log = []
    wins = [(F(float(a)), F(float(b))) for a, b in windows]

    def dt_of(win):
        return (win[1] - win[0]) / steps

    # input layer
    t0, t1 = wins[0]
    spikes = {}  # neuron -> time
    ticks = {}
    for j, v in enumerate(x):
        v = F(float(v))
        if steps is None:
            if v > 0:
                spikes[j] = t1 - v
                ticks[j] = 0
        else:
            m = math.floor(v / dt_of(wins[0]) + F(1, 2))
            if m > 0:
                ticks[j] = steps - m
                spikes[j] = t0 + ticks[j] * dt_of(wins[0])
    stages, all_t, all_k, acts = ["input"], [], [], []
    n_in = len(x)

    def store(sp, tk, n, win):
        all_t.append([float(sp[j]) if j in sp else math.inf for j in range(n)])
        all_k.append([tk[j] if j in tk else -1 for j in range(n)])
        acts.append([float(win[1] - sp[j]) if j in sp else 0.0 for j in range(n)])

    store(spikes, ticks, n_in, wins[0])
    in_win = wins[0]
    saturated = 0
    logits = None
    for n in range(L):
        W, b = weights[n], biases[n]
        n_out = len(W)
        t_read = wins[n + 1][0] if n < L - 1 else wins[L - 1][1]
        V = [F(0)] * n_out
        slope = [F(0)] * n_out
        last = [in_win[0]] * n_out
        first_in = [None] * n_out
        for t, j in sorted((t, j) for j, t in spikes.items()):
            for i in range(n_out):
                w = float(W[i][j])
                if w == 0:
                    continue
                counts["syn_ops"] += 1
                V[i] += slope[i] * (t - last[i])
                last[i] = t
                slope[i] += F(w)
                if first_in[i] is None:
                    first_in[i] = t
        for i in range(n_out):
            V[i] += slope[i] * (t_read - last[i])
        # updates in the integration window, stepped on its grid
        for i in range(n_out):
            if steps is None:
                counts["neuron_updates_active"] += 1
                continue
            for k in range(steps):
                tk = in_win[0] + k * dt_of(in_win)
                if first_in[i] is not None and first_in[i] <= tk:
                    counts["neuron_updates_active"] += 1
                else:
                    counts["neuron_updates_inactive"] += 1
        if n == L - 1:
            logits = [float(V[i] + F(float(biases[n][i]))) for i in range(n_out)]
            break
        win = wins[n + 1]
        width = win[1] - win[0]
        new, new_k = {}, {}
        for i in range(n_out):
            theta = width - F(float(b[i]))
            if V[i] > theta:
                saturated += 1
            if steps is None:
                # V(t) = V + (t - t_min) for t >= t_min: the first t with V(t) >= theta
                t = win[0] + max(theta - V[i], F(0))
                if t < win[1]:
                    new[i], new_k[i] = t, 0
            else:
                fired_at = None
                for k in range(steps):
                    tk = win[0] + k * dt_of(win)
                    if V[i] + (tk - win[0]) >= theta:
                        fired_at = k
                        break
                    counts["neuron_updates_active"] += 1
                if fired_at is None:
                    continue
                counts["neuron_updates_active"] += 1  # the step it fires
                counts["neuron_updates_inactive"] += steps - fired_at - 1
                new[i], new_k[i] = win[0] + fired_at * dt_of(win), fired_at
        for i, t in new.items():
            counts["spikes_out"] += 1
            fired_log.append((f"hidden{n + 1}", i, t))
        stages.append(f"hidden{n + 1}")
        store(new, new_k, n_out, win)
        spikes = new
        g = pools[n]
        if g is not None:
            pooled, pooled_k = {}, {}
            for p, group in enumerate(g):
                for j in group:
                    j = int(j)
                    if j < 0 or j not in new:
                        continue
                    counts["syn_ops"] += 1
                    if p not in pooled or new[j] < pooled[p]:
                        pooled[p], pooled_k[p] = new[j], new_k[j]
            for p in range(len(g)):
                if p in pooled:
                    counts["spikes_out"] += 1
                    fired_log.append((f"pool{n + 1}", p, pooled[p]))
                if steps is None:
                    counts["neuron_updates_active"] += 1
                else:
                    a = 1 if p in pooled else 0
                    counts["neuron_updates_active"] += a
                    counts["neuron_updates_inactive"] += steps - a
            stages.append(f"pool{n + 1}")
            store(pooled, pooled_k, len(g), win)
            spikes = pooled
        in_win = win
    return dict(stages=stages, times=all_t, ticks=all_k, activations=acts, logits=logits, counts=counts,
                spikes=fired_log, saturated=saturated)
