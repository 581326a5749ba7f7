"""Slow twin of the chip's learning engines: the rules of neurochip/chip/plastic.py (its module
docstring is the spec) on a layered network of plain numpy matrices, simulated step by step in
chip time with Python loops over neurons and synapses.

No cores, axons, routing or compiled program: the twin shares with neurochip only Loihi's
arithmetic (`neurochip.model.fixed`, the definition of the fixed-point operations and of the
counter-based rounding draws) and the stream numbers of those draws. Traces and surrogates are
kept for every logical step instead of in the chip's rings of H = 2L - 1 slots, so a ring slot
overwritten too early shows up as a difference.

Layers: depth 0 is the input, 1 .. L-1 hidden LIF layers, L the readout. Global ids (the
index of every rounding draw): neurons 0 .. N-1 in layer order (layer 1 first), input channel
j is N + j; synapses are numbered by `synapse_ids`.

`learn` runs OTTT_O / OTTT_A (memoryless readout); `learn_event` the event-driven rules STD_ED /
MPD_ED of the spec's final section (every layer spikes, adaptive thresholds, eligibility tags,
an end-of-sample learning epoch), with its constants from `event_constants`.
"""
import math
from types import SimpleNamespace

import numpy as np

from neurochip.chip.plastic import ERROR, PAYLOAD, THRESH, TRACE, WEIGHT
from neurochip.model.fixed import (
    ACT_SHIFT,
    DECAY_ONE,
    VTH_SHIFT,
    WEIGHT_BITS,
    clip_v,
    decay_trunc0,
    dyadic,
    round_stochastic_at,
    wrap24,
    wrap_int32,
)

LUT_HALF = 256     # K: the surrogate LUT covers |vpre - theta| <= K 2**sh
LUT_STEPS = 6      # 2**6 LUT entries per theta


def loss_grad(o, y, gamma):
    """(e, loss) of one readout step: e_k = dL/do_k of L = (1 - gamma) CE + gamma MSE.
    Scalar math.exp/math.log in a fixed order: the compiled version's, bit for bit."""
    C = len(o)
    m = max(o)
    ex = [math.exp(ok - m) for ok in o]
    z = 0.0
    for v in ex:
        z += v
    e, mse = [], 0.0
    for k in range(C):
        t = 1.0 if k == y else 0.0
        e.append((1 - gamma) * (ex[k] / z - t) + gamma * 2.0 * (o[k] - t) / C)
        mse += gamma * (o[k] - t) ** 2 / C
    return e, mse + (1 - gamma) * (math.log(z) + m - o[y])


def synapse_ids(sizes, recurrent_depths=(), masks=None):
    """(W_ids, R_ids): the synapse-table id of every plastic synapse, W_ids[m] and R_ids[d]
    (n_post, n_pre) int64 arrays shaped like W[m] and R[d]; sizes = [n_0, ..., n_L].

    The table of a Network whose projections are connected in the order [W[0], R[1]?, W[1],
    R[2]?, ..., W[L-1]] (each recurrent projection right after the forward one into its
    layer), every projection keeping its zeros: ids run over (post, pre) row-major. masks[m]
    (bool, shaped like W[m]): W[m] is sparse, only its True entries are synapses (id -1 elsewhere)."""
    W_ids, R_ids, start = [], {}, 0

    def take(n_post, n_pre, mask=None):
        nonlocal start
        mask = np.ones((n_post, n_pre), bool) if mask is None else mask
        ids = np.full((n_post, n_pre), -1, np.int64)
        ids[mask] = np.arange(start, start + mask.sum())
        start += int(mask.sum())
        return ids

    for m in range(len(sizes) - 1):
        W_ids.append(take(sizes[m + 1], sizes[m], (masks or {}).get(m)))
        if m + 1 in recurrent_depths:
            R_ids[m + 1] = take(sizes[m + 1], sizes[m + 1])
    return W_ids, R_ids


def constants(fixed, *, eta, alpha, vth, dv, weight_exp=0, trace_bits=7, error_bits=16, surrogate_bits=8,
              tag_bits=24, num_weight_bits=8):
    """The learning engines' constants, named as `PlasticProgram`'s fields (plus `unit`, the
    float weight of one mantissa unit); fixed point as `compile_plasticity` derives them."""
    if not fixed:
        inf = math.inf
        return SimpleNamespace(theta=float(vth), lam=1.0 - dv, impulse=1.0, trace_max=inf, error_scale=1.0,
                               error_max=inf, tag_max=inf, c_e=1.0, c_w=eta, lsb=0.0, w_min=-inf, w_max=inf,
                               unit=1.0, lut=None, lut_shift=0)
    theta = float(vth << VTH_SHIFT)
    lam = 1.0 - dv / DECAY_ONE
    trace_max = float(2**trace_bits - 1)
    # F_t: the largest integer with 2**F_t / (1 - lam) <= A_MAX, so a saturated trace fits
    f_t = trace_bits - 1 if lam == 0 else 0 if lam == 1 else math.floor(math.log2(trace_max * (1 - lam)))
    if f_t < 0:
        raise ValueError(f"trace_bits = {trace_bits} cannot hold a trace with leak {lam}")
    f_e, f_s = error_bits - 2, surrogate_bits - 1
    sh = max(0, math.floor(math.log2(theta)) - LUT_STEPS)
    k = np.arange(-LUT_HALF, LUT_HALF + 1)
    x = k * 2.0**sh / theta * alpha
    with np.errstate(over="ignore"):
        sig = 1.0 / (1.0 + np.exp(-x))
    lut = np.minimum(np.rint(alpha * sig * (1 - sig) * 2.0**f_s), 2.0**surrogate_bits - 1)
    lsb = 2.0 ** (WEIGHT_BITS - num_weight_bits + 1)
    unit = 2.0 ** (weight_exp + ACT_SHIFT) / theta
    return SimpleNamespace(theta=theta, lam=lam, impulse=float(2**f_t), trace_max=trace_max,
                           error_scale=float(2**f_e), error_max=float(2 ** (error_bits - 1) - 1),
                           tag_max=float(2 ** (tag_bits - 1) - 1), c_e=dyadic(unit / 2.0**f_s),
                           c_w=dyadic(eta / (unit * 2.0 ** (f_t + f_e))), lsb=lsb, w_min=-256.0, w_max=256.0 - lsb,
                           unit=unit, lut=lut, lut_shift=sh)


def _fixed_current(a, weight_exp):
    """Fixed-point current of synaptic input a (sum of mantissas; du = 4095: u keeps nothing
    of its past, Loihi's du_fac = 4096 - (du + 1) = 0)."""
    return wrap24(wrap_int32(int(a) << weight_exp << ACT_SHIFT))


def _fixed_vpre(v, u, dv):
    """Loihi's v before the spike test: clip(trunc0(v (4096 - dv) / 4096) + u), no bias."""
    return clip_v(wrap_int32(decay_trunc0(int(v), DECAY_ONE - dv) + u + 0))


def _checked_weights(w, shape, name, fixed, k):
    """A copy in working units: int64 mantissas on the weight grid (constants k), or float64."""
    w = np.asarray(w)
    if w.shape != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {w.shape}")
    if not fixed:
        return w.astype(np.float64)
    if np.any(w != np.round(w)) or np.any(w % k.lsb != 0) or w.min() < k.w_min or w.max() > k.w_max:
        raise ValueError(f"{name}: fixed-point mantissas must be multiples of {k.lsb:g} in [{k.w_min:g}, "
                         f"{k.w_max:g}]")
    return w.astype(np.int64)


def _rounded(q, fixed, seed, stream, index, n, limit):
    """Q: stochastic rounding clipped to +-limit (fixed point); the value itself in float."""
    if not fixed:
        return q
    return min(max(round_stochastic_at(q, seed, stream, index, n), -limit), limit)


def _write_weight(w, ids, i, j, change, n, fixed, k, seed):
    """The OTTT_O write w[i, j] += change; fixed point: rounded stochastically (stream WEIGHT,
    the synapse's id, step n) to the LSB grid and clipped to [w_min, w_max]."""
    if fixed:
        step = k.lsb * round_stochastic_at(change / k.lsb, seed, WEIGHT, int(ids[i, j]), n)
        w[i, j] = int(min(max(w[i, j] + step, k.w_min), k.w_max))
    else:
        w[i, j] += change


def _sigmoid(x):
    """1 / (1 + exp(-x)); 0 where math.exp overflows (the compiled exp gives inf there)."""
    try:
        return 1.0 / (1.0 + math.exp(-x))
    except OverflowError:
        return 0.0


def _masks(W, masks):
    """{m: bool (n_{m+1}, n_m)} the synapses of each forward matrix W[m]: masks[m] where given (a
    sparse projection), else every entry; a non-zero weight outside its mask is refused."""
    out = {m: np.ones(np.shape(w), bool) if m not in (masks or {}) else np.asarray(masks[m], bool)
           for m, w in enumerate(W)}
    for m, mask in out.items():
        if np.any(np.asarray(W[m])[~mask] != 0):
            raise ValueError(f"W[{m}]: non-zero weights outside its mask")
    return out


def _pre_synapses(masks, post, pre, i, n_pre):
    """The presynaptic indices j of the synapses into neuron i of depth `post` from depth `pre`:
    the forward matrix's mask row (post = pre + 1), every j for a recurrence (post = pre)."""
    return range(n_pre) if post == pre else np.flatnonzero(masks[post - 1][i])


def _layout(W):
    """(L, sizes [n_0 .. n_L], off, N) of forward matrices W: off[d] is the global id of layer
    d's first neuron (d >= 1), N the number of neurons."""
    sizes = [np.shape(W[0])[1]] + [np.shape(w)[0] for w in W]
    off = [0, 0]
    for n in sizes[1:]:
        off.append(off[-1] + n)
    return len(W), sizes, off, off[-1]


class _Learner:
    """The network, its constants and the counters, across samples."""

    def __init__(self, W, R, B, *, fixed, rule, feedback, eta, gamma, alpha, vth, dv, weight_exp, seed, bits,
                 masks=None):
        if rule not in ("O", "A") or feedback not in ("mirror", "random"):
            raise ValueError(f"rule must be 'O' or 'A' and feedback 'mirror' or 'random', got {rule!r}, {feedback!r}")
        self.fixed, self.rule, self.mirror = fixed, rule, feedback == "mirror"
        self.gamma, self.alpha, self.dv, self.wexp, self.seed = gamma, alpha, dv, weight_exp, seed
        self.L, self.sizes, self.off, self.N = _layout(W)
        self.k = constants(fixed, eta=eta, alpha=alpha, vth=vth, dv=dv, weight_exp=weight_exp, **bits)
        self.theta_int = vth << VTH_SHIFT if fixed else None
        self.W = [self._weights(w, (self.sizes[m + 1], self.sizes[m]), f"W[{m}]") for m, w in enumerate(W)]
        self.R = {}
        for d, r in (R or {}).items():
            if not 1 <= d < self.L:
                raise ValueError(f"R[{d}]: recurrence only on hidden depths 1 .. {self.L - 1}")
            self.R[d] = self._weights(r, (self.sizes[d], self.sizes[d]), f"R[{d}]")
        self.fb = {} if self.mirror else {m: self._feedback(B, m) for m in range(1, self.L)}
        self.masks = _masks(self.W, masks)
        W_ids, R_ids = synapse_ids(self.sizes, sorted(self.R), self.masks)
        # (matrix, ids, post depth, pre depth, has a mirror) in synapse-table order
        self.projs = []
        for m in range(self.L):
            self.projs.append((self.W[m], W_ids[m], m + 1, m, self.mirror and m >= 1))
            if m + 1 in self.R:
                self.projs.append((self.R[m + 1], R_ids[m + 1], m + 1, m + 1, False))
        self.counts = {"weight_writes": 0, "mirror_writes": 0, "tag_updates": 0, "surrogate_evals": 0,
                       "error_ops": 0, "feedback_syn_ops": 0, "graded_spikes": 0,
                       "trace_updates_per_sender": np.zeros(self.N + self.sizes[0], np.int64)}

    def _weights(self, w, shape, name):
        """A copy in working units: int64 mantissas on the weight grid, or float64."""
        return _checked_weights(w, shape, name, self.fixed, self.k)

    def _feedback(self, B, m):
        """The random feedback of W[m], (n_m, n_{m+1}): b_ij = fb[j, i]; fixed: in mantissa units."""
        b = np.asarray((B or {}).get(m), np.float64)
        if b.shape != (self.sizes[m], self.sizes[m + 1]):
            raise ValueError(f"B[{m}]: expected shape {(self.sizes[m], self.sizes[m + 1])}, got {b.shape}")
        return np.clip(np.rint(b / self.k.unit), -256, 255) if self.fixed else b

    def _round(self, q, stream, index, n, limit):
        """Stochastic rounding clipped to +-limit (fixed point); the value itself in float."""
        return _rounded(q, self.fixed, self.seed, stream, index, n, limit)

    def sample(self, x, y, samples_seen):
        """Learn one sample from the reset state; returns its loss."""
        L, T = self.L, len(x)
        S = T + 2 * L - 1
        n0 = samples_seen * S
        dtype = np.int64 if self.fixed else np.float64
        st = SimpleNamespace(
            T=T, y=y, loss=0.0,
            v=[None] + [np.zeros(n, dtype) for n in self.sizes[1:]],
            A=[np.zeros((S, n)) for n in self.sizes[:L]],      # traces of senders 0 .. L-1, per logical t
            B=[np.zeros((S, n)) for n in self.sizes[:L]],      # their spike bits
            sg=[None] + [np.zeros((T, n)) for n in self.sizes[1:L]],   # surrogates of hidden layers
            G=[None] + [np.zeros(n) for n in self.sizes[1:L]],
            tag=[np.zeros(p[0].shape) for p in self.projs])
        prev = [np.zeros(n, dtype) for n in self.sizes[:L]]    # spikes each sender emitted last chip step
        a_in = self._deliver(prev)
        for tau in range(S):
            n = n0 + tau
            self._traces(st, tau, prev, n)
            x_now = np.asarray(x[tau], dtype) if tau < T else np.zeros(self.sizes[0], dtype)
            spikes = [x_now] + self._forward(st, tau, a_in)
            a_in = self._deliver(spikes)    # delivery reads the weights before this step's learning phase
            E = self._errors(st, tau, n)
            G_next = self._errors_down(E)
            self._updates(st, tau, E, n)
            st.G = G_next
            prev = spikes
        if self.rule == "A":
            self._write_tags(st, n0 + S - 1)
        return st.loss

    def _traces(self, st, tau, prev, n):
        """Phase 1: the sender at depth ds whose spikes arrived is at logical t = tau - 1 - ds."""
        k, counts = self.k, self.counts["trace_updates_per_sender"]
        for ds in range(self.L):
            t = tau - 1 - ds
            if t < 0:
                continue
            for j in range(self.sizes[ds]):
                sid = self.N + j if ds == 0 else self.off[ds] + j
                a_prev = st.A[ds][t - 1, j] if t > 0 else 0.0
                s = float(prev[ds][j])
                counts[sid] += a_prev != 0 or s != 0
                if self.fixed:
                    decayed = round_stochastic_at(a_prev * (DECAY_ONE - self.dv) / 4096.0, self.seed, TRACE, sid, n)
                    st.A[ds][t, j] = min(decayed + k.impulse * s, k.trace_max)
                else:
                    st.A[ds][t, j] = k.lam * a_prev + s
                st.B[ds][t, j] = s

    def _deliver(self, spikes):
        """The synaptic input each layer integrates next step, a[d] (index d - 1), from this
        step's spikes and the weights as they are now."""
        a = []
        for d in range(1, self.L + 1):
            a.append(self.W[d - 1] @ spikes[d - 1])
            if d in self.R:
                a[-1] = a[-1] + self.R[d] @ spikes[d]
        return a

    def _forward(self, st, tau, a_in):
        """Phase 2: every layer from the input delivered last step (pipelined), hidden
        surrogates stored; returns this step's spikes of the hidden layers 1 .. L-1."""
        spikes = []
        for d in range(1, self.L + 1):
            a = a_in[d - 1]
            if d == self.L:         # memoryless readout that never spikes: v is this step's input
                st.v[d] = np.array([clip_v(wrap_int32(self._u(ai))) for ai in a], np.int64) if self.fixed else a
                continue
            t, theta = tau - d, self.theta_int if self.fixed else self.k.theta
            s = np.zeros(self.sizes[d], st.v[d].dtype)
            for i in range(self.sizes[d]):
                if self.fixed:
                    vpre = _fixed_vpre(st.v[d][i], self._u(a[i]), self.dv)
                else:
                    vpre = st.v[d][i] * (1 - self.dv) + a[i]
                s[i] = vpre > theta
                st.v[d][i] = vpre - theta if vpre > theta else vpre
                if 0 <= t < st.T:
                    st.sg[d][t, i] = self._surrogate(vpre)
                    self.counts["surrogate_evals"] += 1
            spikes.append(s)
        return spikes

    def _u(self, a):
        """Fixed-point current of synaptic input a (du = 4095: u keeps nothing of its past)."""
        return _fixed_current(a, self.wexp)

    def _surrogate(self, vpre):
        if self.fixed:
            k = self.k
            idx = min(max((int(vpre) - self.theta_int) >> k.lut_shift, -LUT_HALF), LUT_HALF) + LUT_HALF
            return float(k.lut[idx])
        p = _sigmoid(self.alpha * (vpre - self.k.theta))
        return self.alpha * p * (1 - p)

    def _errors(self, st, tau, n):
        """Phase a: E per depth (zeros outside the depth's window t_d = tau - 2L + d in [0, T))."""
        k, L = self.k, self.L
        E = [None] + [np.zeros(nd) for nd in self.sizes[1:]]
        for d in range(1, L + 1):
            t = tau - 2 * L + d
            if not 0 <= t < st.T:
                continue
            if d == L:
                o = [float(v) / k.theta for v in st.v[L]] if self.fixed else [float(v) for v in st.v[L]]
                e, loss = loss_grad(o, st.y, self.gamma)
                st.loss += loss / st.T
                for i in range(self.sizes[L]):
                    E[L][i] = self._round(e[i] / st.T * k.error_scale, ERROR, self.off[L] + i, n, k.error_max)
                self.counts["error_ops"] += self.sizes[L]
                continue
            for j in range(self.sizes[d]):
                if st.G[d][j] != 0:
                    E[d][j] = self._round(k.c_e * (st.G[d][j] * st.sg[d][t, j]), ERROR, self.off[d] + j, n,
                                          k.error_max)
                    self.counts["error_ops"] += 1
        return E

    def _errors_down(self, E):
        """Phase b: the feedback sums G_next of hidden layers, weights read before the updates."""
        G_next = [None] + [np.zeros(n) for n in self.sizes[1:self.L]]
        for d in range(2, self.L + 1):
            for i in range(self.sizes[d]):
                if E[d][i] == 0:
                    continue
                self.counts["graded_spikes"] += 1
                for j in _pre_synapses(self.masks, d, d - 1, i, self.sizes[d - 1]):
                    b = self.W[d - 1][i, j] if self.mirror else self.fb[d - 1][j, i]
                    G_next[d - 1][j] += float(b) * E[d][i]
                    self.counts["feedback_syn_ops"] += 1
        return G_next

    def _pre(self, st, post, pre, t, j):
        """Pre term P of a synapse from j (depth pre) into depth post learning logical t."""
        if pre == post:                         # recurrent: the spike arrived one step later
            return st.A[pre][t - 1, j] if t > 0 else 0.0
        if post == self.L:                      # readout: its trace is the spike itself
            return self.k.impulse * st.B[pre][t, j]
        return st.A[pre][t, j]

    def _updates(self, st, tau, E, n):
        """Phase c: OTTT_O writes, OTTT_A tag updates, for every synapse with P * E != 0."""
        for p, (w, ids, post, pre, mirrored) in enumerate(self.projs):
            t = tau - 2 * self.L + post
            if not 0 <= t < st.T:
                continue
            for i in range(w.shape[0]):
                if E[post][i] == 0:
                    continue
                for j in _pre_synapses(self.masks, post, pre, i, w.shape[1]):
                    P = self._pre(st, post, pre, t, j)
                    if P == 0:
                        continue
                    pe = P * E[post][i]
                    if self.rule == "O":        # float: c_w = eta, the write w += -eta P E
                        self._write(w, ids, mirrored, i, j, -self.k.c_w * pe, n)
                        continue
                    if self.fixed:
                        st.tag[p][i, j] = min(max(st.tag[p][i, j] + pe, -self.k.tag_max), self.k.tag_max)
                    else:
                        st.tag[p][i, j] += -self.k.c_w * pe
                    self.counts["tag_updates"] += 1

    def _write_tags(self, st, n):
        """End of sample (OTTT_A): every synapse with a tag is written as OTTT_O would."""
        for p, (w, ids, _, _, mirrored) in enumerate(self.projs):
            for i, j in zip(*np.nonzero(st.tag[p])):
                tag = st.tag[p][i, j]
                self._write(w, ids, mirrored, i, j, -self.k.c_w * tag if self.fixed else tag, n)

    def _write(self, w, ids, mirrored, i, j, change, n):
        """w[i, j] += change; fixed point: rounded stochastically to the LSB grid and clipped."""
        _write_weight(w, ids, i, j, change, n, self.fixed, self.k, self.seed)
        self.counts["weight_writes"] += 1
        self.counts["mirror_writes"] += mirrored


def learn(xs, ys, W, R=None, B=None, *, fixed, rule, feedback="mirror", eta, gamma=0.05, alpha=4.0, vth, dv,
          weight_exp=0, trace_bits=7, error_bits=16, surrogate_bits=8, tag_bits=24, num_weight_bits=8, seed=0,
          samples_seen=0, masks=None):
    """Learn the samples (xs[i] a (T, n_0) 0/1 array, ys[i] its label) in order; returns
    dict(W=[...], R={...}, losses=[...], counts={...}, samples_seen=...).

    W[m]: (n_{m+1}, n_m) forward matrix of layer m -> m+1 (fixed: int mantissas on the grid,
    the chip stores w << weight_exp; float: weights); R: {d: (n_d, n_d)} recurrence of hidden
    depths; B: {m: (n_m, n_{m+1})} float random feedback of W[m], m >= 1 (feedback="random").
    masks: {m: bool (n_{m+1}, n_m)}: W[m] is a sparse projection whose True entries are its
    synapses (zero elsewhere; only they learn and carry errors back).
    rule "O" (OTTT_O) or "A" (OTTT_A). Fixed: vth the threshold mantissa (theta = vth << 6),
    dv in 0 .. 4096; float: vth = theta, lam = 1 - dv. Weights come back in the units given.
    Losses: per sample, the sum over its T steps of the step loss / T. Counts are totals over
    the samples; trace_updates_per_sender is indexed by global sender id (N + j: input j).
    The rounding step counter of sample s (0-based here) is n = (samples_seen + s) S + tau.
    """
    if len(xs) != len(ys):
        raise ValueError(f"{len(xs)} samples but {len(ys)} labels")
    bits = {"trace_bits": trace_bits, "error_bits": error_bits, "surrogate_bits": surrogate_bits,
            "tag_bits": tag_bits, "num_weight_bits": num_weight_bits}
    net = _Learner(W, R, B, fixed=fixed, rule=rule, feedback=feedback, eta=eta, gamma=gamma, alpha=alpha, vth=vth,
                   dv=dv, weight_exp=weight_exp, seed=seed, bits=bits, masks=masks)
    losses = []
    for x, y in zip(xs, ys):
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != net.sizes[0] or len(x) == 0:
            raise ValueError(f"a sample must be a (T >= 1, {net.sizes[0]}) array, got shape {x.shape}")
        losses.append(net.sample(x, int(y), samples_seen))
        samples_seen += 1
    return {"W": [w.copy() for w in net.W], "R": {d: r.copy() for d, r in net.R.items()}, "losses": losses,
            "counts": net.counts, "samples_seen": samples_seen}


# --------------------------------------------------------------------------------------------
# BPTT-SG: the section "BPTT-SG" of neurochip/chip/plastic.py's docstring.
# --------------------------------------------------------------------------------------------

class _BPTTLearner(_Learner):
    """OTTT's network and forward pass; the stored state and the backward pass of BPTT-SG."""

    def __init__(self, W, *, reset_grad, surrogate_bits, masks=None, **kw):
        super().__init__(W, None, None, rule="A", feedback="mirror", masks=masks, **kw)
        self.rho = 0 if reset_grad == "detached" else 1
        self.s_scale = 2.0 ** -(surrogate_bits - 1) if self.fixed else 1.0
        self.c_u = dyadic(self.k.unit) if self.fixed else 1.0

    def sample(self, x, y, samples_seen):
        L, T, k, C = self.L, len(x), self.k, self.sizes[-1]
        n0 = samples_seen * (2 * T + L)
        dtype = np.int64 if self.fixed else np.float64
        st = SimpleNamespace(T=T, y=y, loss=0.0, v=[None] + [np.zeros(n, dtype) for n in self.sizes[1:]],
                             sg=[None] + [np.zeros((T, n)) for n in self.sizes[1:L]],
                             tag=[np.zeros(p[0].shape) for p in self.projs])
        B = [np.zeros((T, n)) for n in self.sizes[:L]]     # spike of sender layer d at logical t
        E = np.zeros((T, C))
        a_in = self._deliver([np.zeros(n, dtype) for n in self.sizes[:L]])
        for tau in range(T + L):
            x_now = np.asarray(x[tau], dtype) if tau < T else np.zeros(self.sizes[0], dtype)
            spikes = [x_now] + self._forward(st, tau, a_in)
            for d in range(L):
                if 0 <= tau - d < T:
                    B[d][tau - d] = spikes[d]
            a_in = self._deliver(spikes)
            t = tau - L
            if 0 <= t < T:
                o = [float(v) / k.theta for v in st.v[L]] if self.fixed else [float(v) for v in st.v[L]]
                e, loss = loss_grad(o, y, self.gamma)
                st.loss += loss / T
                for i in range(C):
                    E[t, i] = self._round(e[i] / T * k.error_scale, ERROR, self.off[L] + i, n0 + tau, k.error_max)
                self.counts["error_ops"] += C
        rt = (1.0 if self.fixed else k.theta) * self.rho
        D_next = [None] + [np.zeros(n) for n in self.sizes[1:L]]
        for r in range(T):
            t, n = T - 1 - r, n0 + T + L + r
            D = [None] * L + [E[t].copy()]
            G = None
            for d in range(L, 0, -1):
                if d < L:
                    D[d] = np.zeros(self.sizes[d])
                    for j in range(self.sizes[d]):
                        g, dn = G[j], D_next[d][j]
                        if g != 0 or dn != 0:
                            q = ((self.c_u * g - rt * (k.lam * dn)) * st.sg[d][t, j]) * self.s_scale + k.lam * dn
                            D[d][j] = self._round(q, ERROR, self.off[d] + j, n, k.error_max)
                            self.counts["error_ops"] += (g != 0) + (dn != 0) * (1 + self.rho)
                    D_next[d] = D[d]
                w, tag = self.W[d - 1], st.tag[d - 1]
                for i in range(w.shape[0]):
                    for j in _pre_synapses(self.masks, d, d - 1, i, w.shape[1]):
                        if B[d - 1][t, j] and D[d][i] != 0:
                            if self.fixed:
                                tag[i, j] = min(max(tag[i, j] + k.impulse * D[d][i], -k.tag_max), k.tag_max)
                            else:
                                tag[i, j] -= k.c_w * D[d][i]
                            self.counts["tag_updates"] += 1
                if d >= 2:
                    G = np.zeros(self.sizes[d - 1])
                    for i in range(w.shape[0]):
                        if D[d][i] == 0:
                            continue
                        self.counts["graded_spikes"] += 1
                        for j in _pre_synapses(self.masks, d, d - 1, i, w.shape[1]):
                            G[j] += float(w[i, j]) * D[d][i]
                            self.counts["feedback_syn_ops"] += 1
        self._write_tags(st, n0 + 2 * T + L - 1)
        return st.loss


def learn_bptt(xs, ys, W, *, fixed, reset_grad="detached", eta, gamma=0.05, alpha=4.0, vth, dv, weight_exp=0,
               error_bits=16, surrogate_bits=8, tag_bits=24, num_weight_bits=8, seed=0, samples_seen=0, masks=None):
    """BPTT-SG on the samples in order (arguments, masks too, and result as `learn`; no recurrence, mirrored
    feedback). The rounding step counter of sample s is n = (samples_seen + s) (2T + L) + ...
    as the spec numbers the forward and backward steps."""
    bits = {"error_bits": error_bits, "surrogate_bits": surrogate_bits, "tag_bits": tag_bits,
            "num_weight_bits": num_weight_bits}
    net = _BPTTLearner(W, reset_grad=reset_grad, fixed=fixed, eta=eta, gamma=gamma, alpha=alpha, vth=vth, dv=dv,
                       weight_exp=weight_exp, seed=seed, bits=bits, surrogate_bits=surrogate_bits, masks=masks)
    losses = []
    for x, y in zip(xs, ys):
        losses.append(net.sample(np.asarray(x), int(y), samples_seen))
        samples_seen += 1
    return {"W": [w.copy() for w in net.W], "losses": losses, "counts": net.counts, "samples_seen": samples_seen}


# --------------------------------------------------------------------------------------------
# Event-driven rules (STD_ED, MPD_ED): the final section of neurochip/chip/plastic.py's docstring.
# --------------------------------------------------------------------------------------------

KINDS = ("STD-ED", "MPD-ED")


def event_constants(fixed, kind, *, T, eta, alpha, s_min, thr_lo, thr_hi, vth, dv, weight_exp=0, trace_bits=7,
                    error_bits=16, surrogate_bits=8, tag_bits=24, num_weight_bits=8):
    """The event-driven engines' constants for samples of T steps (psi = 1 / T for STD_ED, so
    c_p and c_w depend on T). Traces, weight grid, unit and TAG_MAX as for OTTT (`constants`);
    then, from the spec: psi; F_phi = floor(log2((2**surrogate_bits - 1) / phi_max)), phi_max =
    alpha / 4 (MPD_ED) or 1 / s_min (STD_ED); F_E = error_bits - 4; E_MAX; c_d = dyadic(unit);
    c_p = dyadic(psi / 2**F_phi); c_w = dyadic(eta psi / (unit 2**(F_E + F_phi + F_t)));
    LUT_E (MPD_ED: the OTTT LUT at F_phi fraction bits, index k + K for k in [-K, K]; STD_ED:
    min(rint(2**F_phi / max(k 2**sh / theta, s_min)), 2**surrogate_bits - 1), k in [0, 2K]);
    threshold bounds thr_min, thr_max. Float: the same names, with c_w = eta psi and no
    scaling (c_d = c_p = 1, error_scale = 1, no bounds on errors and tags)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    base = constants(fixed, eta=eta, alpha=alpha, vth=vth, dv=dv, weight_exp=weight_exp, trace_bits=trace_bits,
                     error_bits=error_bits, surrogate_bits=surrogate_bits, tag_bits=tag_bits,
                     num_weight_bits=num_weight_bits)
    psi = 1.0 / T if kind == "STD-ED" else 1.0
    theta = base.theta
    if not fixed:
        return SimpleNamespace(theta=theta, lam=base.lam, impulse=1.0, trace_max=math.inf, psi=psi, f_phi=0,
                               error_scale=1.0, error_max=math.inf, tag_max=math.inf, c_d=1.0, c_p=1.0,
                               c_w=eta * psi, lsb=0.0, w_min=-math.inf, w_max=math.inf, unit=1.0, lut=None,
                               lut_shift=0, thr_min=thr_lo * theta, thr_max=thr_hi * theta)
    lam = base.lam
    f_t = trace_bits - 1 if lam == 0 else 0 if lam == 1 else math.floor(math.log2(base.trace_max * (1 - lam)))
    assert base.impulse == 2.0**f_t
    phi_max = alpha / 4 if kind == "MPD-ED" else 1 / s_min
    f_phi = math.floor(math.log2((2**surrogate_bits - 1) / phi_max))
    f_e = error_bits - 4
    unit, sh, top = base.unit, base.lut_shift, 2.0**surrogate_bits - 1
    lut = []
    if kind == "MPD-ED":
        for k in range(-LUT_HALF, LUT_HALF + 1):
            p = _sigmoid(alpha * (k * 2.0**sh / theta))
            lut.append(min(float(np.rint(alpha * p * (1 - p) * 2.0**f_phi)), top))
    else:
        for k in range(2 * LUT_HALF + 1):
            lut.append(min(float(np.rint(2.0**f_phi / max(k * 2.0**sh / theta, s_min))), top))
    return SimpleNamespace(theta=theta, lam=lam, impulse=base.impulse, trace_max=base.trace_max, psi=psi,
                           f_phi=f_phi, error_scale=2.0**f_e, error_max=float(2 ** (error_bits - 1) - 1),
                           tag_max=base.tag_max, c_d=dyadic(unit), c_p=dyadic(psi / 2.0**f_phi),
                           c_w=dyadic(eta * psi / (unit * 2.0 ** (f_e + f_phi + f_t))), lsb=base.lsb,
                           w_min=base.w_min, w_max=base.w_max, unit=unit, lut=np.array(lut), lut_shift=sh,
                           thr_min=float(math.ceil(thr_lo * theta)), thr_max=float(math.floor(thr_hi * theta)))


class _EventLearner:
    """An event-driven rule on a layered network: weights, thresholds and counters across
    samples. Every layer 1 .. L spikes (the readout too); per sample a forward pass in chip
    time (T + L steps: traces, neurons, eligibility) and a learning epoch of L + 1 phases."""

    def __init__(self, W, R, *, fixed, kind, eta, gamma, alpha, s_min, readout_scale, kappa, rate, thr_lo, thr_hi,
                 vth, dv, reset, weight_exp, seed, bits, thresholds, masks=None):
        if kind not in KINDS or reset not in ("subtract", "zero"):
            raise ValueError(f"kind must be one of {KINDS} and reset 'subtract' or 'zero', got {kind!r}, {reset!r}")
        self.fixed, self.kind, self.timing = fixed, kind, kind == "STD-ED"
        self.eta, self.gamma, self.alpha, self.s_min, self.readout_scale = eta, gamma, alpha, s_min, readout_scale
        self.kappa, self.rate, self.thr_lo, self.thr_hi = kappa, rate, thr_lo, thr_hi
        self.vth, self.dv, self.reset, self.wexp, self.seed, self.bits = vth, dv, reset, weight_exp, seed, bits
        self.L, self.sizes, self.off, self.N = _layout(W)
        grid = self.constants(T=1)              # the weight grid does not depend on T
        self.W = [_checked_weights(w, (self.sizes[m + 1], self.sizes[m]), f"W[{m}]", fixed, grid)
                  for m, w in enumerate(W)]
        self.R = {}
        for d, r in (R or {}).items():
            if not 1 <= d < self.L:
                raise ValueError(f"R[{d}]: recurrence only on hidden depths 1 .. {self.L - 1}")
            self.R[d] = _checked_weights(r, (self.sizes[d], self.sizes[d]), f"R[{d}]", fixed, grid)
        self.masks = _masks(self.W, masks)
        W_ids, R_ids = synapse_ids(self.sizes, sorted(self.R), self.masks)
        # (matrix, ids, post depth, pre depth, has a mirror) in synapse-table order; a forward
        # synapse from a neuron (depth >= 1) has its mirror feedback synapse
        self.projs = []
        for m in range(self.L):
            self.projs.append((self.W[m], W_ids[m], m + 1, m, m >= 1))
            if m + 1 in self.R:
                self.projs.append((self.R[m + 1], R_ids[m + 1], m + 1, m + 1, False))
        # the adaptive threshold register of every neuron (global id), kept across samples
        dtype = np.int64 if fixed else np.float64
        if thresholds is None:
            self.thr = np.full(self.N, grid.theta, dtype)
        else:
            thresholds = np.asarray(thresholds)
            if thresholds.shape != (self.N,):
                raise ValueError(f"thresholds: expected shape {(self.N,)}, got {thresholds.shape}")
            if fixed and np.any(thresholds != np.round(thresholds)):
                raise ValueError("thresholds: fixed-point thresholds are integers (v units)")
            self.thr = thresholds.astype(dtype)
        self.counts = {"surrogate_evals": 0, "threshold_updates": 0, "tag_updates": 0, "error_ops": 0,
                       "feedback_syn_ops": 0, "weight_writes": 0, "mirror_writes": 0, "payloads": 0, "spikes": 0,
                       "spikes_per_depth": np.zeros(self.L + 1, np.int64)}

    def constants(self, T):
        return event_constants(self.fixed, self.kind, T=T, eta=self.eta, alpha=self.alpha, s_min=self.s_min,
                               thr_lo=self.thr_lo, thr_hi=self.thr_hi, vth=self.vth, dv=self.dv,
                               weight_exp=self.wexp, **self.bits)

    def _Q(self, q, stream, index, n, limit):
        return _rounded(q, self.fixed, self.seed, stream, index, n, limit)

    # -- one sample ------------------------------------------------------------------------
    def sample(self, x, y, n0):
        """Learn one sample from the reset state (thresholds persist); returns its loss.
        n0: the step number of its chip step 0."""
        L, T = self.L, len(x)
        k = self.constants(T)
        sdt = np.int64 if self.fixed else np.float64
        st = SimpleNamespace(
            T=T, k=k,
            s=[np.asarray(x, sdt)] + [np.zeros((T, n), sdt) for n in self.sizes[1:]],  # spikes, per logical t
            A=[np.zeros((T, n)) for n in self.sizes[:L]],          # traces of senders 0 .. L-1, per logical t
            v=[None] + [np.zeros(n, sdt) for n in self.sizes[1:]],  # v after the last update
            phi=[None] + [np.zeros((T, n)) for n in self.sizes[1:]],
            G=[None] + [np.zeros(n) for n in self.sizes[1:]],       # summed phi
            c=[None] + [np.zeros(n) for n in self.sizes[1:]],       # spike count, or sum of T - t
            tag=[np.zeros(p[0].shape) for p in self.projs])
        self.counts["spikes_per_depth"][0] += int(np.count_nonzero(st.s[0]))
        for tau in range(T + L):                                   # the forward pass, in chip time
            n = n0 + tau
            self._traces(st, tau, n)
            for d in range(1, L + 1):
                if 0 <= tau - d < T:
                    self._neurons(st, d, tau - d, n)
            for d in range(1, L + 1):
                if 0 <= tau - d < T:
                    self._eligibility(st, d, tau - d)
        return self._epoch(st, y, n0 + T + L)

    def _traces(self, st, tau, n):
        """Phase 1: the sender at depth ds whose spikes arrived is at logical t = tau - 1 - ds
        (only the logical steps the eligibility reads, t < T, are kept)."""
        k = st.k
        for ds in range(self.L):
            t = tau - 1 - ds
            if not 0 <= t < st.T:
                continue
            for j in range(self.sizes[ds]):
                sid = self.N + j if ds == 0 else self.off[ds] + j
                a_prev = st.A[ds][t - 1, j] if t > 0 else 0.0
                s = float(st.s[ds][t, j])
                if self.fixed:
                    decayed = round_stochastic_at(a_prev * (DECAY_ONE - self.dv) / 4096.0, self.seed, TRACE, sid, n)
                    st.A[ds][t, j] = min(decayed + k.impulse * s, k.trace_max)
                else:
                    st.A[ds][t, j] = k.lam * a_prev + s

    def _neurons(self, st, d, t, n):
        """Phase 2 for depth d at logical t: integrate the input delivered last chip step
        (layer d - 1 at t, recurrence: layer d at t - 1), spike test against thr_i, phi, G, c,
        then the threshold update."""
        k = st.k
        a = self.W[d - 1] @ st.s[d - 1][t]
        if d in self.R and t > 0:
            a = a + self.R[d] @ st.s[d][t - 1]
        for i in range(self.sizes[d]):
            gid = self.off[d] + i
            thr = self.thr[gid]                  # the threshold from before this step's update
            v_last = st.v[d][i]
            if self.fixed:
                vpre = _fixed_vpre(v_last, _fixed_current(a[i], self.wexp), self.dv)
            else:
                vpre = v_last * (1 - self.dv) + a[i]
            spiked = vpre > thr
            if spiked:
                st.v[d][i] = vpre - thr if self.reset == "subtract" else 0
                st.s[d][t, i] = 1
                phi = self._phi(k, vpre, v_last, thr)
                st.phi[d][t, i] = phi
                st.G[d][i] = min(st.G[d][i] + phi, k.tag_max)
                st.c[d][i] = min(st.c[d][i] + (st.T - t if self.timing else 1), k.tag_max)
                self.counts["surrogate_evals"] += 1
                self.counts["spikes"] += 1
                self.counts["spikes_per_depth"][d] += 1
            else:
                st.v[d][i] = vpre
            self._adapt(k, gid, 1.0 if spiked else 0.0, n)

    def _phi(self, k, vpre, v_last, thr):
        """The spiking neuron's phi: MPD_ED the surrogate at (vpre - thr_i) / theta, STD_ED 1 / slope."""
        if self.kind == "MPD-ED":
            if self.fixed:
                return float(k.lut[min(max((int(vpre) - int(thr)) >> k.lut_shift, -LUT_HALF), LUT_HALF) + LUT_HALF])
            p = _sigmoid(self.alpha * ((vpre - thr) / k.theta))
            return self.alpha * p * (1 - p)
        if self.fixed:
            return float(k.lut[min(max((int(vpre) - int(v_last)) >> k.lut_shift, 0), 2 * LUT_HALF)])
        return 1.0 / max((vpre - v_last) / k.theta, self.s_min)

    def _adapt(self, k, gid, s, n):
        """thr_i += Q_thr(kappa theta (s - rate)), clipped to [thr_min, thr_max]."""
        change = self.kappa * k.theta * (s - self.rate)
        if self.fixed:
            change = round_stochastic_at(change, self.seed, THRESH, gid, n)
            self.thr[gid] = int(min(max(self.thr[gid] + change, k.thr_min), k.thr_max))
        else:
            self.thr[gid] = min(max(self.thr[gid] + change, k.thr_min), k.thr_max)
        self.counts["threshold_updates"] += 1

    def _pre(self, st, post, pre, t, j):
        """Pre term P of a synapse from j (depth pre) into depth post at logical t: the trace
        A (the readout's synapses too); recurrent: the trace of the step before."""
        if pre == post:
            return st.A[pre][t - 1, j] if t > 0 else 0.0
        return st.A[pre][t, j]

    def _eligibility(self, st, d, t):
        """Phase 3: tag += phi_i P at every synapse into i (depth d) that spiked at t, P != 0."""
        for p, (w, _, post, pre, _) in enumerate(self.projs):
            if post != d:
                continue
            for i in range(w.shape[0]):
                if not st.s[d][t, i]:
                    continue
                for j in _pre_synapses(self.masks, post, pre, i, w.shape[1]):
                    P = self._pre(st, post, pre, t, j)
                    if P == 0:
                        continue
                    tag = st.tag[p][i, j] + st.phi[d][t, i] * P
                    st.tag[p][i, j] = min(max(tag, -st.k.tag_max), st.k.tag_max)
                    self.counts["tag_updates"] += 1

    # -- the learning epoch ----------------------------------------------------------------
    def _epoch(self, st, y, n_first):
        """Phases p = 0 .. L at step numbers n_first + p: the readout's D, the hidden D of
        depth L - p and the payloads E down the mirrored feedback, then the writes."""
        k, L, T = st.k, self.L, st.T
        D = [None] + [np.zeros(n) for n in self.sizes[1:]]
        Gin = [None] + [np.zeros(n) for n in self.sizes[1:]]
        # p = 0: the readout, every compartment
        n = n_first
        c_out = st.c[L]
        o = [self.readout_scale * float(ck) / T if self.timing else self.readout_scale * float(ck) for ck in c_out]
        e, loss = loss_grad(o, y, self.gamma)
        for i in range(self.sizes[L]):
            D[L][i] = self._Q(e[i] * self.readout_scale * k.error_scale, ERROR, self.off[L] + i, n, k.error_max)
            self.counts["error_ops"] += 1
        self._send(st, L, D, Gin, n)
        # p = L - d: hidden depth d, then its payloads down (d >= 2)
        for d in range(L - 1, 0, -1):
            n = n_first + (L - d)
            for j in range(self.sizes[d]):
                if st.c[d][j] != 0:
                    D[d][j] = self._Q(k.c_d * Gin[d][j], ERROR, self.off[d] + j, n, k.error_max)
                    self.counts["error_ops"] += 1
            if d >= 2:
                self._send(st, d, D, Gin, n)
        # p = L: every synapse with tag != 0 and D_i != 0 is written (all errors are down)
        n = n_first + L
        for p, (w, ids, post, _, mirrored) in enumerate(self.projs):
            for i, j in zip(*np.nonzero(st.tag[p])):
                if D[post][i] == 0:
                    continue
                change = -k.c_w * D[post][i] * st.tag[p][i, j]
                _write_weight(w, ids, i, j, change, n, self.fixed, k, self.seed)
                self.counts["weight_writes"] += 1
                self.counts["mirror_writes"] += mirrored
        return loss

    def _send(self, st, d, D, Gin, n):
        """Every i at depth d with c_i != 0 and D_i != 0 sends its payload E_i; each feedback
        synapse i -> j (the mirror of the forward synapse j -> i, b_ij its current weight)
        adds b_ij E_i to Gin_j."""
        k = st.k
        for i in range(self.sizes[d]):
            if st.c[d][i] == 0 or D[d][i] == 0:
                continue
            if self.timing:
                q = k.c_p * D[d][i] * st.G[d][i] if self.fixed else D[d][i] * st.G[d][i] * k.psi
            else:
                q = k.c_p * D[d][i] * st.G[d][i] / st.c[d][i] if self.fixed else \
                    D[d][i] * st.G[d][i] * k.psi / st.c[d][i]
            E = self._Q(q, PAYLOAD, self.off[d] + i, n, k.error_max)
            self.counts["error_ops"] += 1
            self.counts["payloads"] += 1
            for j in _pre_synapses(self.masks, d, d - 1, i, self.sizes[d - 1]):
                b = self.W[d - 1][i, j]           # mantissa (fixed) or weight, before any write
                Gin[d - 1][j] += float(b) * E
                self.counts["feedback_syn_ops"] += 1


def learn_event(xs, ys, W, R=None, *, fixed, kind, eta, gamma=0.0, alpha=4.0, s_min=0.1, readout_scale=0.5,
                kappa=0.002, rate=0.05, thr_lo=0.05, thr_hi=4.0, vth, dv, reset="subtract", weight_exp=0,
                trace_bits=7, error_bits=16, surrogate_bits=8, tag_bits=24, num_weight_bits=8, seed=0,
                samples_seen=0, thresholds=None, masks=None):
    """STD_ED or MPD_ED (kind "STD-ED" / "MPD-ED") on the samples (xs[i] a (T, n_0) 0/1 array,
    ys[i] its label) in order, as neurochip/chip/plastic.py's docstring ("Event-driven rules")
    specifies; returns dict(W=[...], R={...}, losses=[...], counts={...}, samples_seen=...,
    thresholds=np.ndarray).

    W[m]: (n_{m+1}, n_m) forward matrices (fixed: int mantissas on the grid, the chip stores
    w << weight_exp; float: weights); R: {d: (n_d, n_d)} recurrence of hidden depths. Every
    layer 1 .. L is a LIF with dv and the adaptive threshold thr_i (the readout too; STD_ED
    callers pass dv = 0) and resets by "subtract" (v = vpre - thr_i) or to "zero". Fixed: vth
    the threshold mantissa (theta = vth << 6), dv in 0 .. 4096; float: theta = vth, lam = 1 - dv.
    thresholds: (N,) registers by global neuron id (layer 1 first, readout last) to start
    from (default theta each); the ones learned come back, to continue with. masks: as `learn`'s.
    Losses: per sample, the loss of its end-of-sample readout. Counts are totals over the
    samples (spikes: neurons' spikes at logical t in [0, T), spikes_per_depth[0] the input's).
    Sample s (0-based here) starts at step number n0 = (samples_seen + s) (T + 2L + 1).
    """
    if len(xs) != len(ys):
        raise ValueError(f"{len(xs)} samples but {len(ys)} labels")
    bits = {"trace_bits": trace_bits, "error_bits": error_bits, "surrogate_bits": surrogate_bits,
            "tag_bits": tag_bits, "num_weight_bits": num_weight_bits}
    net = _EventLearner(W, R, fixed=fixed, kind=kind, eta=eta, gamma=gamma, alpha=alpha, s_min=s_min,
                        readout_scale=readout_scale, kappa=kappa, rate=rate, thr_lo=thr_lo, thr_hi=thr_hi, vth=vth,
                        dv=dv, reset=reset, weight_exp=weight_exp, seed=seed, bits=bits, thresholds=thresholds,
                        masks=masks)
    losses = []
    for x, y in zip(xs, ys):
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != net.sizes[0] or len(x) == 0:
            raise ValueError(f"a sample must be a (T >= 1, {net.sizes[0]}) array, got shape {x.shape}")
        T = len(x)
        losses.append(net.sample(x, int(y), samples_seen * (T + 2 * net.L + 1)))
        samples_seen += 1
    return {"W": [w.copy() for w in net.W], "R": {d: r.copy() for d, r in net.R.items()}, "losses": losses,
            "counts": net.counts, "samples_seen": samples_seen, "thresholds": net.thr.copy()}
