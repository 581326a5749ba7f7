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

Float time (`time_bits` None): the closed form above (`neurochip.rules.ttfs.ttfs_forward`, which
the fine-tuning differentiates) runs on the host; nothing is counted.

Fixed-point time (`time_bits` = b): B1 neurons (`neurochip.model.neurons.B1`) on the chip
simulator, placed and counted like any network. Window n holds S = 2**b ticks of dt_n =
width_n / S on chip steps [start_n, start_n + S): start_0 = 0, start_{n+1} = start_n + S (+ 1
after a pool layer). An input spikes at tick k_j = S - round(x_j / dt_0) (half up). A spike
arrives one step after it is sent; layer n+1 (weights W_ij dt_n) integrates u += a, v += u up
to and including step start_{n+1}: V_i(t_min) = sum_j W_ij (S - k_j) dt_n exactly, and fires at
the first tick k with V_i(t_min) + k dt_{n+1} >= theta_i (activations floor to the grid). A
pool unit (weights 1, slope 0, theta 1/2, start + 1) fires a step after its group's first
spike, at the same tick. The readout never fires: logits = v(start_L) + b. Counters: the
chip's, summed over the batch, host spikes excluded (as `chip.energy.run_energy` prices
them); packets and hops follow the placement, spikes do not.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, replace

import numpy as np

from neurochip.chip.energy import chip_counters
from neurochip.chip.simulator import Simulator
from neurochip.mapping.nir import unroll
from neurochip.model.events import EVENTS
from neurochip.model.fixed import NEVER_VTH_FLOAT
from neurochip.model.network import Network
from neurochip.model.neurons import B1, SpikeSource
from neurochip.rules.relu import relu_forward
from neurochip.rules.ttfs import ttfs_forward


class TTFSSaturationWarning(UserWarning):
    """A neuron's ReLU activation exceeded its window: it fired at t_min (activation clipped)."""


@dataclass
class TTFSResult:
    """What `TTFSNetwork.run` returns for a batch of samples.

    stages       names of the spiking stages: "input", "hidden1", ("pool1",) "hidden2", ...
    times[k]     (samples, n) spike times of stage k (inf = no spike)
    ticks[k]     (samples, n) grid step of each spike within its window (-1 = none); 0 in float time
    activations[k] (samples, n) t_max - t for spiking neurons, else 0 (= the ReLU activations)
    logits       (samples, n_out) readout potential at t_min(L) plus bias
    counters     the chip's event counts over the batch (module docstring); None in float time
    saturated    (sample, hidden neuron) pairs whose activation exceeded the window (float
                 time: V(t_min) > theta; fixed-point time: fired at tick 0)
    """

    stages: list
    times: list
    ticks: list
    activations: list
    logits: np.ndarray
    counters: dict | None
    saturated: int

    @property
    def samples(self) -> int:
        return len(self.logits)

    @property
    def predictions(self) -> np.ndarray:
        return np.argmax(self.logits, axis=1)

    @property
    def spikes_per_layer(self) -> dict:
        """Spikes per neuron and inference, per stage (input included)."""
        return {s: float(np.isfinite(t).mean()) for s, t in zip(self.stages, self.times)}

    @property
    def spikes_per_neuron(self) -> float:
        """Chip spikes (hidden and pool) per chip neuron and inference."""
        chip = [np.isfinite(t) for t in self.times[1:]]
        return float(np.mean(np.concatenate(chip, axis=1))) if chip else 0.0

    def per_inference(self) -> dict:
        if self.counters is None:
            raise ValueError("per_inference: float time ran the closed form on the host, nothing was counted; "
                             "run with time_bits for the chip's counts")
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
        pools = [None] * (L - 1) if self.pools is None else self.pools
        if len(pools) != L - 1:
            raise ValueError(f"pools: one entry (None or groups) per hidden layer ({L - 1}), got {len(pools)}")
        self.pools = [None if p is None else np.ascontiguousarray(np.asarray(p, dtype=np.int64)) for p in pools]
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

    @classmethod
    def from_relu(cls, weights, biases, x_train, margin: float = 1.05, time_bits=None, pools=None,
                  x_max: float | None = None) -> TTFSNetwork:
        """The exact TTFS image of a ReLU network y = W_L relu(... relu(W_1 x + b_1)) + b_L
        (with max-pooling after hidden layers where `pools` says). Window widths: `margin` x
        the largest activation of each hidden layer on `x_train` (1 if the layer is silent);
        the input window is [0, x_max] (x_max default: the largest input)."""
        if margin < 1:
            raise ValueError(f"margin must be >= 1 (window width / largest training activation), got {margin}")
        x_train = np.asarray(x_train, dtype=np.float64)
        x_max = float(x_train.max()) if x_max is None else float(x_max)
        if not x_max > 0:
            raise ValueError("x_max: the input window needs a positive width (all inputs are 0?)")
        probe = cls(weights, biases, [(i, i + 1.0) for i in range(len(weights))], pools=pools)
        acts, _ = relu_forward(probe.weights, probe.biases, x_train, probe.pools, pooled=False)
        windows = [(0.0, x_max)]
        for a in acts[1:]:
            top = float(a.max()) if a.size else 0.0
            width = margin * top if top > 0 else 1.0
            windows.append((windows[-1][1], windows[-1][1] + width))
        return cls(probe.weights, probe.biases, windows, time_bits, probe.pools)

    def with_time_bits(self, time_bits) -> TTFSNetwork:
        return replace(self, time_bits=time_bits)

    @property
    def steps(self) -> int:
        return 0 if self.time_bits is None else 2 ** self.time_bits

    @property
    def widths(self) -> list:
        """t_max(n) - t_min(n) of each window."""
        return [t_max - t_min for t_min, t_max in self.windows]

    def to_network(self) -> Network:
        """The chip network of fixed-point time (see the module docstring): a spike source
        "input" and B1 populations "hidden<n>", "pool<n>" and "readout"."""
        if self.time_bits is None:
            raise ValueError("to_network: the chip runs fixed-point time; give time_bits (with_time_bits)")
        S = self.steps
        net = Network()
        prev = net.add(SpikeSource(self.weights[0].shape[1], name="input")).name
        start = S
        widths = self.widths
        for n, w in enumerate(self.weights):
            if n == len(self.weights) - 1:
                name, theta, slope = "readout", NEVER_VTH_FLOAT, 0.0
            else:
                name, theta, slope = f"hidden{n + 1}", widths[n + 1] - self.biases[n], widths[n + 1] / S
            net.add(B1(w.shape[0], start, S, slope, theta, name))
            net.connect(prev, name, w * (widths[n] / S))
            prev, start = name, start + S
            g = self.pools[n] if n < len(self.pools) else None
            if g is not None:
                member = np.zeros((len(g), w.shape[0]))
                rows, cols = np.nonzero(g >= 0)
                member[rows, g[rows, cols]] = 1.0
                prev = net.add(B1(len(g), start - S + 1, S, 0.0, 0.5, f"pool{n + 1}")).name
                net.connect(name, prev, member)
                start += 1
        return net

    def run(self, x, warn: bool = True, chip=None, placement=None) -> TTFSResult:
        """Spike times, activations, logits and (fixed-point time: on the chip `chip`, default
        loihi1, with `placement` of `to_network()`'s populations) counted events of a batch
        x (samples, n_in)."""
        x = np.ascontiguousarray(np.atleast_2d(np.asarray(x, dtype=np.float64)))
        if x.shape[1] != self.weights[0].shape[1]:
            raise ValueError(f"x has {x.shape[1]} inputs, the network takes {self.weights[0].shape[1]}")
        w0 = self.widths[0]
        if x.size and (x.min() < 0 or x.max() > w0 * (1 + 1e-12)):
            raise ValueError(f"x must lie in the input window [0, {w0}] (t_max(0) - t_min(0)); got range "
                             f"[{x.min()}, {x.max()}]: rescale the inputs or widen windows[0]")
        stages, stage_window = ["input"], [0]
        for n in range(1, len(self.weights)):
            pooled = [] if self.pools[n - 1] is None else [f"pool{n}"]
            stages += [f"hidden{n}"] + pooled
            stage_window += [n] * (1 + len(pooled))
        if self.time_bits is None:
            times, caches, logits = ttfs_forward(self.weights, self.biases, self.windows, x, pools=self.pools)
            ticks = [np.where(np.isfinite(t), 0, -1) for t in times]
            saturated = sum(int(c["saturated"].sum()) for c in caches[:-1])
            counters = None
        else:
            ticks, logits, counters = self._run_chip(x, chip, placement)
            times = [np.where(k >= 0, self.windows[n][0] + k * (self.widths[n] / self.steps), np.inf)
                     for k, n in zip(ticks, stage_window)]
            saturated = sum(int((k == 0).sum()) for k, s in zip(ticks, stages) if s.startswith("hidden"))
        if saturated and warn:
            warnings.warn(f"{saturated} neuron activations (of {len(x)} samples) exceeded their window and were "
                          "clipped to its width (fired at t_min); widen the windows (from_relu margin)",
                          TTFSSaturationWarning, stacklevel=2)
        acts = [np.where(np.isfinite(t), self.windows[wi][1] - t, 0.0) for t, wi in zip(times, stage_window)]
        return TTFSResult(stages, times, ticks, acts, logits, counters, saturated)

    def _run_chip(self, x, chip, placement):
        """(ticks per stage, logits, counters) of x run sample by sample on the simulator."""
        net = self.to_network()
        sim = Simulator(net, chip, placement)
        S = self.steps
        m = np.floor(x / (self.widths[0] / S) + 0.5)
        ticks = [np.where(m > 0, S - m, -1).astype(np.int64)]
        spiking = net.neurons()[:-1]
        ticks += [np.full((len(x), net.populations[k].n), -1, dtype=np.int64) for k in spiking]
        steps = net.populations["readout"].start + 1
        logits = np.zeros((len(x), len(self.biases[-1])))
        total = np.zeros((sim.program.n_rows, len(EVENTS)), dtype=np.int64)
        for s in range(len(x)):
            sim.reset()
            spikes = np.arange(steps)[:, None] == ticks[0][s]   # tick -1 (silent) never matches
            res = sim.run(steps, inputs={"input": spikes}, populations=spiking)
            for k, name in zip(ticks[1:], spiking):
                step, i = np.nonzero(res.spikes[name])
                k[s, i] = step - net.populations[name].start
            logits[s] = sim.v[sim.program.pop_slices["readout"]] + self.biases[-1]
            total += res.counters
        return ticks, logits, {k: int(c) for k, c in zip(EVENTS, chip_counters(total).sum(axis=0))}


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
