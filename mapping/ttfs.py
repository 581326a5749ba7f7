"""Time-to-first-spike (TTFS) networks: the exact ReLU -> TTFS mapping of Stanojevic et al.,
"High-performance deep spiking neural networks with 0.3 spikes per neuron", Nature
Communications 2024 (the "B1" model: slope fixed to 1 after the window start).

Layers n = 0..L: layer 0 is the input, 1..L-1 spike (hidden), L is the readout. Spiking layer
n owns the window [t_min(n), t_max(n)], with t_min(n) = t_max(n-1); the readout reads at
t_min(L) = t_max(L-1).

    input:   x_j in [0, t_max(0) - t_min(0)]  ->  spike at t_j = t_max(0) - x_j (x_j = 0: silent)
    layer n: V_i(t) = 0 for t <= t_min(n-1);
             dV_i/dt = sum_j W_ij H(t - t_j)                  on [t_min(n-1), t_min(n)]
             V_i(t)  = V_i(t_min(n)) + (t - t_min(n))          after t_min(n)   (B1: slope 1)
             V_i(t_min(n)) = sum_j W_ij (t_min(n) - t_j) = sum_j W_ij x_j
             theta_i = (t_max(n) - t_min(n)) - b_i; fires once, at the first t in
             [t_min(n), t_max(n)) with V_i(t) >= theta_i:
             t_i = t_min(n) + theta_i - V_i(t_min(n)),   x_i := t_max(n) - t_i = ReLU(W x + b)_i
    readout: logits_k = V_k(t_min(L)) + b_k = (W x + b)_k     (no spikes)
    pooling: min over the spike times of a pool group (= max-pooling of activations); a pool
             layer shares the window of the layer it pools.

If sum_j W_ij x_j + b_i exceeds the window width the neuron can fire no earlier than t_min(n):
its activation saturates at the width (counted in `TTFSResult.saturated`, warned about).
`TTFSNetwork.from_relu` picks each width as `margin` x the largest ReLU activation of the layer
on the training data.

Fixed-point time (`time_bits` = b): window n is divided into 2**b steps of dt_n = width_n / 2**b.
Inputs spike on the grid of window 0 (x_j rounded to the nearest multiple of dt_0, half up);
V_i(t_min(n)) is integrated exactly (inputs only arrive on grid points, so this equals a
step-by-step integration on the grid); the neuron is checked at the grid points
t_min(n) + k dt_n, k = 0..2**b - 1, and fires at the first one where V_i >= theta_i. The
activation is then floor-quantised: x_i = width_n - k dt_n.

Counters (neurochip event kinds, summed over the batch):
- syn_ops: every spike (input spikes included) x its fan-out (non-zero weights; pool groups);
- spikes_out: spikes of chip neurons (hidden layers and pool units; the host's input spikes
  are not counted, as `neurochip.energy.run_energy` does);
- neuron updates, fixed-point time: every neuron (hidden, pool and readout) is updated once per
  grid step of the windows it is live in: the window of its inputs (integration) and, for
  hidden neurons, its own window. An update is active while the neuron integrates: from the
  grid step of the first spike among its fan-in, and in its own window up to and including the
  step it fires (all of it if it never fires); before its first input and after its spike it
  is inactive. Pool units are active only at the step they fire.
- neuron updates, float time: one active update per neuron per layer (the closed form above is
  evaluated once per neuron); no inactive updates.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, replace

import numpy as np

from neurochip.model.numba_config import njit
from neurochip.mapping import unroll


class TTFSSaturationWarning(UserWarning):
    """A neuron's ReLU activation exceeded its window: it fired at t_min (activation clipped)."""


# --------------------------------------------------------------------------- kernels
@njit
def encode_kernel(x, t_min0, t_max0, steps):
    """Input spike times (S, n) (inf = silent) and grid ticks (-1 = silent; 0s in float time).

    float (steps == 0): t_j = t_max0 - x_j for x_j > 0.
    fixed: m_j = floor(x_j / dt + 1/2), dt = (t_max0 - t_min0) / steps; tick k_j = steps - m_j,
    t_j = t_min0 + k_j dt for m_j > 0."""
    S, n = x.shape
    t = np.full((S, n), np.inf)
    ticks = np.full((S, n), -1, dtype=np.int64)
    width = t_max0 - t_min0
    dt = width / steps if steps > 0 else 0.0
    for s in range(S):
        for j in range(n):
            v = x[s, j]
            if steps == 0:
                if v > 0.0:
                    t[s, j] = t_max0 - v
                    ticks[s, j] = 0
            else:
                m = np.floor(v / dt + 0.5)
                if m > 0.0:
                    k = steps - int(m)
                    ticks[s, j] = k
                    t[s, j] = t_min0 + k * dt
    return t, ticks


@njit
def potential_kernel(t_in, W, t_read):
    """V_i(t_read) = sum_j W_ij (t_read - t_j) over spiking inputs j (t_j finite): (S, n_out)."""
    S, n_in = t_in.shape
    n_out = W.shape[0]
    v = np.zeros((S, n_out))
    for s in range(S):
        for i in range(n_out):
            acc = 0.0
            for j in range(n_in):
                tj = t_in[s, j]
                if tj < np.inf:
                    acc += W[i, j] * (t_read - tj)
            v[s, i] = acc
    return v


@njit
def fire_kernel(v0, b, t_min, t_max, steps):
    """B1 spike times from V(t_min): (t (S, n) inf = none, ticks (-1 = none), saturated (bool)).

    theta_i = (t_max - t_min) - b_i; float: t = t_min + max(theta - V, 0) if < t_max;
    fixed: first grid k in [0, steps) with V + k dt >= theta, t = t_min + k dt."""
    S, n = v0.shape
    t = np.full((S, n), np.inf)
    ticks = np.full((S, n), -1, dtype=np.int64)
    sat = np.zeros((S, n), dtype=np.bool_)
    width = t_max - t_min
    dt = width / steps if steps > 0 else 0.0
    for s in range(S):
        for i in range(n):
            v = v0[s, i]
            theta = width - b[i]
            if v > theta:
                sat[s, i] = True
            if steps == 0:
                if v >= theta:
                    t[s, i] = t_min
                    ticks[s, i] = 0
                else:
                    ti = t_min + (theta - v)
                    if ti < t_max:
                        t[s, i] = ti
                        ticks[s, i] = 0
            else:
                kf = np.ceil((theta - v) / dt)
                if kf < 0.0:
                    kf = 0.0
                if kf > steps:
                    kf = float(steps)
                k = int(kf)
                # the exact first grid point of the float predicate (monotone in k)
                while k > 0 and v + (k - 1) * dt >= theta:
                    k -= 1
                while k < steps and v + k * dt < theta:
                    k += 1
                if k < steps:
                    ticks[s, i] = k
                    t[s, i] = t_min + k * dt
    return t, ticks, sat


@njit
def minpool_kernel(t, ticks, groups):
    """Min-pooling of spike times: groups (n_pool, k) indices into t's columns (-1 = padding)."""
    S = t.shape[0]
    P, K = groups.shape
    out = np.full((S, P), np.inf)
    out_k = np.full((S, P), -1, dtype=np.int64)
    for s in range(S):
        for p in range(P):
            best = np.inf
            bk = -1
            for q in range(K):
                j = groups[p, q]
                if j >= 0 and t[s, j] < best:
                    best = t[s, j]
                    bk = ticks[s, j]
            out[s, p] = best
            out_k[s, p] = bk
    return out, out_k


@njit
def first_input_kernel(ticks_in, mask):
    """Per (sample, neuron): the earliest grid tick among spiking fan-in inputs (-1: none)."""
    S, n_in = ticks_in.shape
    n_out = mask.shape[0]
    out = np.full((S, n_out), -1, dtype=np.int64)
    for s in range(S):
        for i in range(n_out):
            best = -1
            for j in range(n_in):
                k = ticks_in[s, j]
                if k >= 0 and mask[i, j] and (best < 0 or k < best):
                    best = k
            out[s, i] = best
    return out


# --------------------------------------------------------------------------- description
@dataclass
class TTFSResult:
    """What `TTFSNetwork.run` returns for a batch of S samples.

    stages       names of the spiking stages: "input", "hidden1", ("pool1",) "hidden2", ...
    times[k]     (S, n) spike times of stage k (inf = no spike)
    ticks[k]     (S, n) grid step of each spike within its window (-1 = none); 0 in float time
    activations[k] (S, n) t_max - t for spiking neurons, else 0 (= the ReLU activations)
    logits       (S, n_out) readout potential at t_min(L) plus bias
    counters     dict of event kinds (totals over the batch), see the module docstring
    spikes_per_neuron  chip spikes / chip spiking neurons (hidden and pool), per inference
    spikes_per_layer   the same per stage (input included), per inference
    saturated    number of (sample, neuron) whose activation exceeded its window
    """

    stages: list
    times: list
    ticks: list
    activations: list
    logits: np.ndarray
    counters: dict
    spikes_per_neuron: float
    spikes_per_layer: dict
    saturated: int
    samples: int

    @property
    def predictions(self) -> np.ndarray:
        return np.argmax(self.logits, axis=1)

    def per_inference(self) -> dict:
        return {k: v / self.samples for k, v in self.counters.items()}


@dataclass
class TTFSNetwork:
    """A TTFS network (B1 model, see the module docstring).

    weights[n]  (n_{n+1}, n_n') for n = 0..L-1 (the last is the readout); n_n' is the size
                after pooling
    biases[n]   (n_{n+1},)
    windows[n]  (t_min(n), t_max(n)) for n = 0..L-1 (input and hidden layers), contiguous:
                t_min(n) = t_max(n-1)
    pools[n]    None or an int array (n_pool, k) of the groups min-pooled after hidden layer
                n+1 (-1 pads); one entry per hidden layer (default: no pooling)
    time_bits   None: float time; an integer b: 2**b grid steps per window
    """

    weights: list
    biases: list
    windows: list
    time_bits: int | None = None
    pools: list = field(default=None)

    def __post_init__(self):
        self.weights = [np.ascontiguousarray(np.asarray(w.toarray() if hasattr(w, "toarray") else w,
                                                        dtype=np.float64)) for w in self.weights]
        self.biases = [np.asarray(b, dtype=np.float64).ravel() for b in self.biases]
        self.windows = [(float(a), float(b)) for a, b in self.windows]
        L = len(self.weights)
        if L < 1:
            raise ValueError("weights: need at least the readout matrix")
        if len(self.biases) != L:
            raise ValueError(f"biases: {len(self.biases)} given for {L} weight matrices")
        if len(self.windows) != L:
            raise ValueError(f"windows: need one (t_min, t_max) for the input and each hidden layer "
                             f"({L}), got {len(self.windows)}")
        if self.pools is None:
            self.pools = [None] * (L - 1)
        if len(self.pools) != L - 1:
            raise ValueError(f"pools: one entry (None or groups) per hidden layer ({L - 1}), got {len(self.pools)}")
        self.pools = [None if p is None else np.ascontiguousarray(np.asarray(p, dtype=np.int64)) for p in self.pools]
        for n, (a, b) in enumerate(self.windows):
            if not (math.isfinite(a) and math.isfinite(b) and b > a):
                raise ValueError(f"windows[{n}] = {(a, b)}: need finite t_min < t_max")
            if n and a != self.windows[n - 1][1]:
                raise ValueError(f"windows[{n}]: t_min = {a} must equal t_max of layer {n - 1} "
                                 f"({self.windows[n - 1][1]})")
        n_prev = self.weights[0].shape[1]
        for n, (w, b) in enumerate(zip(self.weights, self.biases)):
            if w.ndim != 2 or w.shape[1] != n_prev:
                raise ValueError(f"weights[{n}] has shape {w.shape}, expected (n_out, {n_prev})")
            if b.shape != (w.shape[0],):
                raise ValueError(f"biases[{n}] has shape {b.shape}, expected ({w.shape[0]},)")
            if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
                raise ValueError(f"weights[{n}] or biases[{n}] contain NaN or inf")
            n_prev = w.shape[0]
            if n < L - 1 and self.pools[n] is not None:
                g = self.pools[n]
                if g.ndim != 2 or g.max() >= n_prev or g.min() < -1:
                    raise ValueError(f"pools[{n}]: groups must be (n_pool, k) indices in [-1, {n_prev})")
                n_prev = g.shape[0]
        if self.time_bits is not None:
            if not isinstance(self.time_bits, (int, np.integer)) or not 1 <= self.time_bits <= 30:
                raise ValueError(f"time_bits must be None (float time) or an integer in [1, 30], got {self.time_bits!r}")
            self.time_bits = int(self.time_bits)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_relu(cls, weights, biases, x_train, margin: float = 1.05, time_bits=None, pools=None,
                  t_min0: float = 0.0, x_max: float | None = None) -> TTFSNetwork:
        """The exact TTFS image of a ReLU network y = W_L relu(... relu(W_1 x + b_1)) + b_L
        (with max-pooling after hidden layers where `pools` says). Window widths: `margin` x
        the largest activation of each hidden layer on `x_train` (1 if the layer is silent);
        the input window is [t_min0, t_min0 + x_max] (x_max default: the largest input)."""
        if margin < 1:
            raise ValueError(f"margin must be >= 1 (window width / largest training activation), got {margin}")
        x_train = np.asarray(x_train, dtype=np.float64)
        x_max = float(x_train.max()) if x_max is None else float(x_max)
        if not x_max > 0:
            raise ValueError("x_max: the input window needs a positive width (all inputs are 0?)")
        probe = cls(weights, biases, [(i, i + 1.0) for i in range(len(weights))], pools=pools)
        acts, _ = relu_forward(probe.weights, probe.biases, x_train, probe.pools, pooled=False)
        windows = [(t_min0, t_min0 + x_max)]
        for a in acts[1:]:
            top = float(a.max()) if a.size else 0.0
            width = margin * top if top > 0 else 1.0
            windows.append((windows[-1][1], windows[-1][1] + width))
        return cls(probe.weights, probe.biases, windows, time_bits, probe.pools)

    def with_time_bits(self, time_bits) -> TTFSNetwork:
        return replace(self, time_bits=time_bits)

    @property
    def t_read(self) -> float:
        """t_min of the readout layer (= t_max of the last hidden layer)."""
        return self.windows[-1][1]

    @property
    def steps(self) -> int:
        return 0 if self.time_bits is None else 2 ** self.time_bits

    # ------------------------------------------------------------------ inference
    def run(self, x, warn: bool = True) -> TTFSResult:
        """Spike times, activations, logits and counted events of a batch x (S, n_in)."""
        x = np.ascontiguousarray(np.atleast_2d(np.asarray(x, dtype=np.float64)))
        L = len(self.weights)
        if x.shape[1] != self.weights[0].shape[1]:
            raise ValueError(f"x has {x.shape[1]} inputs, the network takes {self.weights[0].shape[1]}")
        w0 = self.windows[0][1] - self.windows[0][0]
        if x.size and (x.min() < 0 or x.max() > w0 * (1 + 1e-12)):
            raise ValueError(f"x must lie in the input window [0, {w0}] (t_max(0) - t_min(0)); got range "
                             f"[{x.min()}, {x.max()}]: rescale the inputs or widen windows[0]")
        steps = self.steps
        S = x.shape[0]
        t, k = encode_kernel(x, self.windows[0][0], self.windows[0][1], steps)
        stages, times, ticks = ["input"], [t], [k]
        stage_window = [0]
        counts = dict(syn_ops=0, spikes_out=0, neuron_updates_active=0, neuron_updates_inactive=0)
        saturated = 0
        for n in range(L):
            w, b = self.weights[n], self.biases[n]
            mask = w != 0
            t_in, k_in = times[-1], ticks[-1]
            fired_in = np.isfinite(t_in)
            counts["syn_ops"] += int((fired_in * mask.sum(0)).sum())
            t_read = self.windows[n + 1][0] if n < L - 1 else self.t_read
            v0 = potential_kernel(t_in, w, t_read)
            # integration-window updates of layer n+1 (window of its inputs)
            if steps:
                first = first_input_kernel(k_in, mask)
                act = np.where(first >= 0, steps - first, 0)
                counts["neuron_updates_active"] += int(act.sum())
                counts["neuron_updates_inactive"] += int((steps - act).sum())
            else:
                counts["neuron_updates_active"] += S * w.shape[0]
            if n == L - 1:
                logits = v0 + b
                break
            t_min, t_max = self.windows[n + 1]
            t, k, sat = fire_kernel(v0, b, t_min, t_max, steps)
            saturated += int(sat.sum())
            fired = np.isfinite(t)
            counts["spikes_out"] += int(fired.sum())
            if steps:
                act = np.where(fired, k + 1, steps)
                counts["neuron_updates_active"] += int(act.sum())
                counts["neuron_updates_inactive"] += int((steps - act).sum())
            stages.append(f"hidden{n + 1}")
            times.append(t)
            ticks.append(k)
            stage_window.append(n + 1)
            g = self.pools[n]
            if g is not None:
                fan = np.zeros(w.shape[0], dtype=np.int64)
                np.add.at(fan, g[g >= 0], 1)
                counts["syn_ops"] += int((fired * fan).sum())
                t, k = minpool_kernel(t, k, g)
                pf = np.isfinite(t)
                counts["spikes_out"] += int(pf.sum())
                if steps:
                    counts["neuron_updates_active"] += int(pf.sum())
                    counts["neuron_updates_inactive"] += int((steps - pf).sum())
                else:
                    counts["neuron_updates_active"] += S * g.shape[0]
                stages.append(f"pool{n + 1}")
                times.append(t)
                ticks.append(k)
                stage_window.append(n + 1)
        if saturated and warn:
            warnings.warn(f"{saturated} neuron activations (of {S} samples) exceeded their window and were "
                          "clipped to its width (fired at t_min); widen the windows (from_relu margin)",
                          TTFSSaturationWarning, stacklevel=2)
        acts = []
        for t, wi in zip(times, stage_window):
            tmax = self.windows[wi][1]
            acts.append(np.where(np.isfinite(t), tmax - t, 0.0))
        per_layer = {s: float(np.isfinite(t).sum()) / max(S, 1) / t.shape[1] for s, t in zip(stages, times)}
        chip = [t for s, t in zip(stages, times) if s != "input"]
        n_chip = sum(t.shape[1] for t in chip)
        spn = float(sum(np.isfinite(t).sum() for t in chip)) / max(S, 1) / n_chip if n_chip else 0.0
        return TTFSResult(stages, times, ticks, acts, logits, counts, spn, per_layer, saturated, S)


def relu_forward(weights, biases, x, pools=None, pooled: bool = True):
    """The ReLU network a TTFSNetwork maps: (activations per stage, as TTFSResult.stages
    (pooled stages included when `pooled`), logits)."""
    a = np.asarray(x, dtype=np.float64)
    L = len(weights)
    pools = pools or [None] * (L - 1)
    acts = [a]
    for n in range(L):
        z = a @ np.asarray(weights[n]).T + biases[n]
        if n == L - 1:
            return acts, z
        a = np.maximum(z, 0.0)
        acts.append(a)
        g = pools[n]
        if g is not None:
            g = np.asarray(g)
            a = np.where(g[None] >= 0, a[:, np.maximum(g, 0)], -np.inf).max(axis=2)
            if pooled:
                acts.append(a)
    return acts, None


# --------------------------------------------------------------------------- CNN helpers
def conv_layer(weight, bias, in_shape, stride=1, padding=0, dilation=1, groups=1):
    """A Conv2d unrolled to a dense matrix (PyTorch semantics): (W, b, out_shape)."""

    M, out_shape = unroll.conv(weight, in_shape, stride, padding, dilation, groups)
    return M.toarray(), unroll.bias_vector(bias, out_shape), out_shape


def pool_groups(in_shape, k: int = 2):
    """Non-overlapping k x k pooling groups of a (C, H, W) tensor (C-order flat indices):
    ((C * H//k * W//k, k*k) int array, out_shape). Rows and columns beyond a multiple of k drop."""
    c, h, w = (int(s) for s in in_shape)
    oh, ow = h // k, w // k
    if oh < 1 or ow < 1:
        raise ValueError(f"pool size {k} is larger than the map {in_shape}")
    idx = np.arange(c * h * w).reshape(c, h, w)[:, :oh * k, :ow * k]
    g = idx.reshape(c, oh, k, ow, k).transpose(0, 1, 3, 2, 4).reshape(c * oh * ow, k * k)
    return np.ascontiguousarray(g), (c, oh, ow)
