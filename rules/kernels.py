"""Numba kernels of the layered engine (`rules.layered`, the BPTT-SG baseline): one call runs
one sample (T steps, every layer).

Layout (shared by every kernel; built by `rules.layered`):
- `sizes` = [n0, n1, ..., nL, C]; matrix m (0-based) joins layer m to layer m + 1.
- `W` is flat; matrix m is stored pre-major from `woff[m]`: W[woff[m] + j * n_post + i] is
  the synapse from pre neuron j to post neuron i (an axon's synapse list, as on the chip).
- Neuron state of layer m + 1 lives in flat arrays from `noff[m]`; the last layer is the
  memoryless readout o = W s (it never spikes).
- `fixed` = 1: weights are integer mantissas, the membrane v is an integer held in float64
  (Loihi, du = 4095, subtractive reset; see `rules.learner.Format`), `theta_q[m]` = vth << 6
  and `wexp[m]` the weight exponent; the learning phase sees v / theta_q (threshold 1) in float.
  `fixed` = 0: float64 throughout with threshold theta_q[m] (= theta).
- Counters `cnt[m, k]` per matrix m and event kind COLUMNS[k], in the chip's event names.
Stochastic rounding draws from the splitmix64 stream of `neurochip.model.fixed` (state `rng`).
The event-driven rules' kernel that ran here before the plastic cores is kept as a test
reference, `tests/reference/layered_event.py`.
"""
import numpy as np

from neurochip.model.events import LEARNING_EVENTS
from neurochip.model.fixed import ACT_SHIFT, DECAY_ONE, clip_v, decay_trunc0, round_stochastic
from neurochip.model.numba_config import njit

# Counter columns: the chip's forward-pass events, then the learning events; indices by name.
COLUMNS = ("syn_ops", "neuron_updates_active", "spikes_out") + LEARNING_EVENTS
SYN_OPS, UPDATES_ACTIVE, SPIKES_OUT = map(COLUMNS.index, ("syn_ops", "neuron_updates_active", "spikes_out"))
SURROGATE_EVALS, ERROR_OPS = map(COLUMNS.index, ("surrogate_evals", "error_ops"))
WEIGHT_READS, WEIGHT_WRITES = map(COLUMNS.index, ("weight_reads", "weight_writes"))
STATE_WRITE_BYTES, STATE_READ_BYTES = map(COLUMNS.index, ("state_write_bytes", "state_read_bytes"))
ACT_UNIT = float(2**ACT_SHIFT)  # a << 6 in float


@njit
def sigmoid_grad(x, alpha):
    p = 1.0 / (1.0 + np.exp(-alpha * x))
    return alpha * p * (1.0 - p)


@njit
def loss_grad(o, y, gamma, out):
    """dL/do of L = (1 - gamma) CE(o, y) + gamma MSE(o, onehot(y)); returns L."""
    C = o.shape[0]
    m = o.max()
    z = 0.0
    for k in range(C):
        z += np.exp(o[k] - m)
    loss = 0.0
    for k in range(C):
        t = 1.0 if k == y else 0.0
        p = np.exp(o[k] - m) / z
        out[k] = (1.0 - gamma) * (p - t) + gamma * 2.0 * (o[k] - t) / C
        loss += gamma * (o[k] - t) ** 2 / C
    return loss + (1.0 - gamma) * (np.log(z) + m - o[y])


@njit
def integrate(W, base, n_pre, n_post, s_pre, out, fixed, wexp, cnt_row):
    """out = W^T s_pre over the active pre neurons (event-driven); fixed: Lava's weight_exp shift
    on the sum, then << 6."""
    for i in range(n_post):
        out[i] = 0.0
    for j in range(n_pre):
        a = s_pre[j]
        if a != 0.0:
            row = base + j * n_post
            for i in range(n_post):
                out[i] += a * W[row + i]
            cnt_row[SYN_OPS] += n_post
    if fixed:
        scale = 2.0**wexp
        for i in range(n_post):
            out[i] = np.floor(out[i] * scale) * ACT_UNIT if wexp < 0 else out[i] * scale * ACT_UNIT


@njit
def lif(v, vpre, s, I, lam_f, dv, thr, fixed, cnt_row):
    """One step of soft-reset LIF: vpre = lam v + I; s = vpre > thr; v = vpre - thr s.
    Fixed: vpre = clip_v(trunc0(v (4096 - dv) / 4096) + I), Loihi's integer rule."""
    n = v.shape[0]
    for i in range(n):
        if fixed:
            x = clip_v(decay_trunc0(np.int64(v[i]), DECAY_ONE - dv) + I[i])
        else:
            x = lam_f * v[i] + I[i]
        vpre[i] = x
        if x > thr[i]:
            s[i] = 1.0
            v[i] = x - thr[i]
            cnt_row[SPIKES_OUT] += 1
        else:
            s[i] = 0.0
            v[i] = x
    cnt_row[UPDATES_ACTIVE] += n


@njit
def wunit(fixed, wexp, theta_post):
    """The float weight of one integer weight unit (1 in float mode)."""
    return ACT_UNIT * 2.0**wexp / theta_post if fixed else 1.0


@njit
def write_weights(W, base, n, delta, fixed, lsb, wmin, wmax, rng, cnt_row):
    """W += delta over n synapses; fixed: stochastic rounding to the weight LSB, then clip."""
    for k in range(n):
        d = delta[k]
        if d == 0.0:
            continue
        if fixed:
            W[base + k] = min(max(W[base + k] + round_stochastic(d / lsb, rng) * lsb, wmin), wmax)
        else:
            W[base + k] += d
        cnt_row[WEIGHT_WRITES] += 1


@njit
def step(xt, sizes, woff, noff, W, fixed, wexp, lam, dv, theta, v, vpre, s, I, cnt, o):
    """One step: every layer integrates, the hidden layers update; o is the memoryless
    readout's input I (fixed point: in threshold units)."""
    M = sizes.shape[0] - 1
    pre = xt
    for m in range(M):
        a, b = noff[m], noff[m] + sizes[m + 1]
        integrate(W, woff[m], sizes[m], sizes[m + 1], pre, I[a:b], fixed, wexp[m], cnt[m])
        if m < M - 1:
            lif(v[a:b], vpre[a:b], s[a:b], I[a:b], lam[m], dv[m], theta[a:b], fixed, cnt[m])
            pre = s[a:b]
    a = noff[M - 1]
    for k in range(sizes[M]):
        o[k] = I[a + k] / theta[a + k] if fixed else I[a + k]


@njit
def forward(x, sizes, woff, noff, W, fixed, wexp, lam, dv, theta, v, vpre, s, I, cnt, o):
    """Inference over one sample; o[t] is the readout of step t (see `step`)."""
    v[:] = 0.0
    s[:] = 0.0
    for t in range(x.shape[0]):
        step(x[t], sizes, woff, noff, W, fixed, wexp, lam, dv, theta, v, vpre, s, I, cnt, o[t])


@njit
def transpose_pass(src, base, n_pre, n_post, err, unit, out, cnt_row):
    """out_j = unit sum_i src[base + j n_post + i] err_i: an error sent down through W^T (or B)."""
    for j in range(n_pre):
        acc_j = 0.0
        row = base + j * n_post
        for i in range(n_post):
            acc_j += src[row + i] * err[i]
        out[j] = acc_j * unit
    cnt_row[ERROR_OPS] += n_pre * n_post
    cnt_row[WEIGHT_READS] += n_pre * n_post


@njit
def bptt_sample(x, y, sizes, woff, noff, W, fixed, wexp, lam, dv, theta, alpha, gamma, eta, full_reset,
                lsb, wmin, wmax, rng, v, vpre, s, I, u_hist, e_hist, grad, cnt):
    """BPTT with surrogate gradients on one sample (rules.rule.BPTT): the forward pass stores
    every hidden membrane potential of every step (u_hist, (T, N)) and the readout error
    (e_hist), the backward pass reads them back in reverse time; full_reset = 1 also
    differentiates the reset term. One weight write per synapse. Returns the loss."""
    M = sizes.shape[0] - 1
    T = x.shape[0]
    C = sizes[M]
    N = noff[M - 1]
    o = np.zeros(C)
    loss = 0.0
    v[:] = 0.0
    s[:] = 0.0
    grad[:] = 0.0
    for t in range(T):
        step(x[t], sizes, woff, noff, W, fixed, wexp, lam, dv, theta, v, vpre, s, I, cnt, o)
        loss += loss_grad(o, y, gamma, e_hist[t]) / T
        for k in range(C):
            e_hist[t, k] /= T
        for i in range(N):  # normalised to threshold 1 in fixed point
            u_hist[t, i] = vpre[i] / theta[i] - 1.0 if fixed else vpre[i] - theta[i]
        for m in range(M):
            cnt[m, STATE_WRITE_BYTES] += 8 * sizes[m + 1]
    nmax = sizes.max()
    g_s = np.zeros(nmax)
    delta = np.zeros(N + C)
    d_next = np.zeros(N)
    for t in range(T - 1, -1, -1):
        for k in range(C):
            delta[N + k] = e_hist[t, k]
        for m in range(M - 1, -1, -1):
            n_pre, n_post, a = sizes[m], sizes[m + 1], noff[m]
            cnt[m, STATE_READ_BYTES] += 8 * n_post
            for j in range(n_pre):  # the layer's input spikes, read back from the stored potentials
                sj = x[t, j] if m == 0 else (1.0 if u_hist[t, noff[m - 1] + j] > 0.0 else 0.0)
                if sj != 0.0:
                    row = woff[m] + j * n_post
                    for i in range(n_post):
                        grad[row + i] += sj * delta[a + i]
            if m == 0:
                break
            transpose_pass(W, woff[m], n_pre, n_post, delta[a:], wunit(fixed, wexp[m], theta[a]), g_s, cnt[m])
            b0 = noff[m - 1]
            lam_f = (DECAY_ONE - dv[m - 1]) / DECAY_ONE if fixed else lam[m - 1]
            thr = 1.0 if fixed else theta[b0]
            for j in range(n_pre):
                g = g_s[j]
                if full_reset:
                    g -= lam_f * thr * d_next[b0 + j]
                d = g * sigmoid_grad(u_hist[t, b0 + j], alpha) + lam_f * d_next[b0 + j]
                delta[b0 + j] = d
                d_next[b0 + j] = d
            cnt[m - 1, SURROGATE_EVALS] += n_pre
    for m in range(M):
        n = sizes[m] * sizes[m + 1]
        scale = eta / wunit(fixed, wexp[m], theta[noff[m]])
        for q in range(n):
            grad[woff[m] + q] *= -scale
        write_weights(W, woff[m], n, grad[woff[m]:], fixed, lsb[m], wmin, wmax, rng, cnt[m])
    return loss
