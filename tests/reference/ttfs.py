"""Naive twin of mapping/ttfs.py: one sample, event by event, in exact rational arithmetic.

Input spikes are processed in time order; each spike switches on a constant current W_ij in
every neuron it reaches (the potential is advanced piecewise: V += slope * (t - t_last)).
At t_min(n) the slope becomes 1 (B1) and the neuron fires at the first time (float) or grid
point (fixed, stepped one by one) where V >= theta. Pool units fire at the first spike that
reaches them. In fixed-point time the events are counted as the chip counts the B1 network
of the module docstring of neurochip.mapping.ttfs (start_n, one step of delay, a pool shifts
later windows by a step): every neuron is updated at every step of the run; an update is
active from the step its first input arrives up to its window start, and in its window up to
and including the step it fires (all of it if it never fires); a pool unit also at each step
a later input of its group arrives; the readout's window is the last step of the run.
"""
import math
from fractions import Fraction as F


def simulate(weights, biases, windows, x, time_bits=None, pools=None):
    """Returns dict(stages, times, ticks, activations, logits (floats), counts (fixed-point
    time; None in float time), spikes (list of (stage, neuron, time)), saturated)."""
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
    in_start, start = 0, steps or 0    # chip steps at which the input stage and this layer start
    active, neurons = 0, 0
    saturated = 0
    logits = None
    for n in range(L):
        W, b = weights[n], biases[n]
        n_out = len(W)
        neurons += n_out
        t_read = wins[n + 1][0] if n < L - 1 else wins[L - 1][1]
        V = [F(0)] * n_out
        slope = [F(0)] * n_out
        last = [in_win[0]] * n_out
        first_in = [None] * n_out   # grid tick of the first input
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
                    first_in[i] = ticks[j]
        for i in range(n_out):
            V[i] += slope[i] * (t_read - last[i])
            if steps is not None and first_in[i] is not None:
                active += start - (in_start + first_in[i] + 1)   # integrating before the window
        if n == L - 1:
            logits = [float(V[i] + F(float(biases[n][i]))) for i in range(n_out)]
            active += n_out   # the readout's window start is the run's last step
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
                if fired_at is None:
                    active += steps
                    continue
                active += fired_at + 1
                new[i], new_k[i] = win[0] + fired_at * dt_of(win), fired_at
        for i, t in new.items():
            counts["spikes_out"] += 1
            fired_log.append((f"hidden{n + 1}", i, t))
        stages.append(f"hidden{n + 1}")
        store(new, new_k, n_out, win)
        spikes, ticks = new, new_k
        in_start, start = start, start + (steps or 0)
        g = pools[n]
        if g is not None:
            neurons += len(g)
            pooled, pooled_k = {}, {}
            for p, group in enumerate(g):
                arrivals = set()
                for j in group:
                    j = int(j)
                    if j < 0 or j not in new:
                        continue
                    counts["syn_ops"] += 1
                    arrivals.add(new_k[j])
                    if p not in pooled or new[j] < pooled[p]:
                        pooled[p], pooled_k[p] = new[j], new_k[j]
                if steps is not None:   # active until it fires, then at each later arrival
                    active += pooled_k[p] + 1 + sum(k > pooled_k[p] for k in arrivals) if p in pooled else steps
            for p in range(len(g)):
                if p in pooled:
                    counts["spikes_out"] += 1
                    fired_log.append((f"pool{n + 1}", p, pooled[p]))
            stages.append(f"pool{n + 1}")
            store(pooled, pooled_k, len(g), win)
            spikes, ticks = pooled, pooled_k
            in_start, start = in_start + 1, start + 1
        in_win = win
    if steps is None:
        counts = None
    else:
        counts["neuron_updates_active"] = active
        counts["neuron_updates_inactive"] = neurons * (start + 1) - active   # start: the readout's
    return dict(stages=stages, times=all_t, ticks=all_k, activations=acts, logits=logits, counts=counts,
                spikes=fired_log, saturated=saturated)
