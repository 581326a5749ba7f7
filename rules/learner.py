"""The learning engine: a layered network on the chip, a rule, and the loop over samples.

`Learner(sizes, rule)` holds the weights in the chip's format (float64, or Loihi fixed point
with stochastic rounding of every update), runs one compiled kernel per sample
(`rules.kernels`), counts every event per weight matrix in the chip's event names
(`rules.kernels.COLUMNS`) apart for learning and for inference, measures the bytes of
learning state it holds, and can be checkpointed mid-epoch and resumed to bit-identical weights.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from neurochip.model.errors import NetworkError
from neurochip.model.fixed import (DECAY_ONE, NEVER_VTH, NEVER_VTH_FLOAT, VTH_BITS, VTH_SHIFT, WEIGHT_BITS,
                                   effective_weights, weight_range)
from neurochip.model.network import Network
from neurochip.model.neurons import FloatLIF, LoihiLIF, SpikeSource
from neurochip.rules import kernels as K
from neurochip.rules.rule import BPTT, OTTT, EventDriven, RuleError

# Lava drops the LSB of mixed-sign 8-bit weights (`effective_weights`): learned weights live on that grid.
_GRID = np.unique(effective_weights(np.arange(weight_range("mixed")[0], weight_range("mixed")[1] + 1), WEIGHT_BITS))
W_MIN, W_MAX, W_LSB = float(_GRID[0]), float(_GRID[-1]), float(_GRID[1] - _GRID[0])


@dataclass(frozen=True)
class Format:
    """Loihi fixed point of a learning network.

    Weights are 8-bit mixed-sign mantissas W (Lava drops their LSB: even values in
    [-256, 254]) times 2**weight_exp; v is the integer Loihi membrane (du = 4095, so u is
    this step's input; decay dv; soft reset by vth << 6). The float model it stands for has
    threshold 1, leak lam = 1 - dv / 4096 and weights w = W 2**weight_exp / vth.
    """

    vth: int = 128
    weight_exp: int = 0
    dv: int = 512

    def __post_init__(self):
        if not (1 <= self.vth < 2**VTH_BITS and -7 <= self.weight_exp <= 7 and 0 <= self.dv <= DECAY_ONE):
            raise NetworkError(f"Format: vth in [1, 2**17), weight_exp in [-7, 7], dv in [0, 4096]; got {self}")

    @property
    def lam(self) -> float:
        return 1.0 - self.dv / DECAY_ONE

    @property
    def unit(self) -> float:
        return 2.0**self.weight_exp / self.vth


class Learner:
    """A layered spiking network sizes = [n0, n1, ..., nL, C] learning with `rule`.

    Float mode: threshold `theta`, leak `lam`. Fixed mode (`fixed=True`): `fmt` sets both.
    `weights` (list of (n_post, n_pre) float matrices) or a seeded Gaussian init with
    standard deviation init_gain / sqrt(n_pre).

    State in the flat layout of `rules.kernels`: `synapse_weights` W and `feedback_weights` B
    (OTTT's random feedback; fixed point: in mantissa units); per neuron `thresholds` theta
    (vth << 6), `threshold_scale` thr (adaptive, event-driven rules), `current` I = W s_in,
    `membrane_pre_reset` u = lam v + I, `membrane` v = u - theta s, `spiked` s; `traces` a;
    `rng` (splitmix64 state); `learn_counts`, `infer_counts` (n_matrices, `kernels.COLUMNS`).
    """

    _STATE = ("synapse_weights", "feedback_weights", "rng", "threshold_scale", "learn_counts", "infer_counts")
    _CONFIG = ("fixed", "lam", "theta", "seed")

    def __init__(self, sizes, rule, *, fixed: bool = False, lam: float = 0.875, theta: float = 1.0,
                 fmt: Format = Format(), seed: int = 0, weights=None, init_gain: float = 2.0):
        if not isinstance(rule, (OTTT, BPTT, EventDriven)):
            raise RuleError(f"rule must be OTTT, BPTT or EventDriven (rules.rule), got {type(rule).__name__}")
        sizes = [int(n) for n in sizes]
        if len(sizes) < 3 or min(sizes) < 1:
            raise RuleError(f"sizes {sizes}: a rule needs an input, at least one hidden layer and a readout "
                            "(>= 3 positive layer sizes)")
        if not fixed and not (0 < lam <= 1 and theta > 0):
            raise RuleError(f"lam must be in (0, 1] and theta > 0, got lam={lam}, theta={theta}")
        self.rule, self.fixed, self.fmt, self.seed = rule, bool(fixed), fmt, seed
        self.lam = fmt.lam if fixed else float(lam)
        self.theta = 1.0 if fixed else float(theta)
        self.sizes = np.array(sizes, np.int64)
        n_mat = self.n_matrices = len(sizes) - 1
        self.matrix_offsets = np.concatenate([[0], np.cumsum(self.sizes[:-1] * self.sizes[1:])]).astype(np.int64)
        self.neuron_offsets = np.concatenate([[0], np.cumsum(self.sizes[1:])]).astype(np.int64)
        rng = np.random.default_rng(seed)
        if weights is None:
            weights = [rng.normal(0, init_gain / np.sqrt(sizes[m]), (sizes[m + 1], sizes[m])) for m in range(n_mat)]
        self.synapse_weights = np.zeros(self.matrix_offsets[-1])
        self.set_weights(weights)
        feedback = [rng.normal(0, 1 / np.sqrt(sizes[m + 1]), (sizes[m + 1], sizes[m])) for m in range(n_mat)]
        self.feedback_weights = self._flat(feedback) / (fmt.unit if fixed else 1.0)
        n = self.neuron_offsets[-1]
        self.thresholds = np.full(n, float(fmt.vth << VTH_SHIFT) if fixed else self.theta)
        self.leaks = np.full(n_mat, self.lam)
        self.decays = np.full(n_mat, fmt.dv, np.int64)
        self.weight_exps = np.full(n_mat, fmt.weight_exp if fixed else 0, np.int64)
        self.weight_lsbs = np.full(n_mat, W_LSB)
        self.rng = np.array([np.uint64(seed) * np.uint64(2654435761) + np.uint64(1)], np.uint64)
        self.threshold_scale = np.ones(n)
        self.membrane, self.membrane_pre_reset, self.spiked, self.current = (np.zeros(n) for _ in range(4))
        self.traces = np.zeros(int(self.sizes[:-1].sum()))
        self.learn_counts = np.zeros((n_mat, len(K.COLUMNS)), np.int64)
        self.infer_counts = np.zeros((n_mat, len(K.COLUMNS)), np.int64)
        self.history: list[dict] = []
        self._progress = (0, 0)
        self._loss_sum = 0.0
        self._steps = None

    @property
    def progress(self) -> tuple:
        """(epoch, position in the epoch) that `fit` has reached."""
        return self._progress

    # -- weights ---------------------------------------------------------------------------
    def _flat(self, mats) -> np.ndarray:
        out = np.zeros(self.matrix_offsets[-1])
        for m, w in enumerate(mats):
            w = np.asarray(w, np.float64)
            want = (self.sizes[m + 1], self.sizes[m])
            if w.shape != tuple(want):
                raise RuleError(f"weights[{m}] has shape {w.shape}, expected (n_post, n_pre) = {tuple(want)}")
            if not np.isfinite(w).all():
                raise RuleError(f"weights[{m}] has {np.size(w) - np.isfinite(w).sum()} non-finite values")
            out[self.matrix_offsets[m]:self.matrix_offsets[m + 1]] = w.T.ravel()
        return out

    def set_weights(self, mats) -> None:
        flat = self._flat(mats)
        if self.fixed:
            q = np.round(flat / self.fmt.unit / W_LSB) * W_LSB
            flat = np.clip(q, W_MIN, W_MAX)
        self.synapse_weights[:] = flat

    @property
    def weights(self) -> list[np.ndarray]:
        """Float weights (n_post, n_pre) per matrix (fixed point: mantissa x unit)."""
        scale = self.fmt.unit if self.fixed else 1.0
        off, n = self.matrix_offsets, self.sizes
        return [self.synapse_weights[off[m]:off[m + 1]].reshape(n[m], n[m + 1]).T * scale
                for m in range(self.n_matrices)]

    @property
    def int_weights(self) -> list[np.ndarray]:
        if not self.fixed:
            raise RuleError("int_weights: the learner is in float mode")
        return [np.rint(w / self.fmt.unit).astype(np.int64) for w in self.weights]

    # -- one sample --------------------------------------------------------------------------
    def _check_x(self, x) -> np.ndarray:
        x = np.ascontiguousarray(x, np.float64)
        if x.ndim != 2 or x.shape[1] != self.sizes[0]:
            raise RuleError(f"a sample is (T, {self.sizes[0]}) inputs, got shape {x.shape}")
        if not np.isfinite(x).all():
            raise RuleError("input has NaN or infinite values")
        if self.fixed and not np.isin(x, (0.0, 1.0)).all():
            raise RuleError("fixed point takes spike inputs (0/1) only; encode currents as spikes")
        return x

    def _buffers(self, T: int) -> None:
        """The per-sample state of the rule's kernel, allocated for samples of T steps."""
        if self._steps == T:
            return
        self._steps = T
        r, n_syn, n = self.rule, self.matrix_offsets[-1], self.neuron_offsets[-1]
        if isinstance(r, OTTT):  # OTTT_A sums its changes per synapse
            self.accumulator = np.zeros(n_syn if r.mode == "A" else 0)
        elif isinstance(r, BPTT):  # the hidden potentials and readout errors of every step
            self.potential_history = np.zeros((T, int(self.neuron_offsets[-2])))
            self.error_history, self.gradient = np.zeros((T, self.sizes[-1])), np.zeros(n_syn)
        else:  # eligibility per synapse; summed phi G and (weighted) spike count c per neuron
            self.eligibility, self.phi_sum, self.spike_weight_sum = np.zeros(n_syn), np.zeros(n), np.zeros(n)

    def state_bytes(self, T: int) -> int:
        """Bytes of learning state the rule holds for samples of T steps, measured from the
        arrays allocated (traces, accumulators, stored steps, thresholds; not the weights)."""
        self._buffers(T)
        held = {OTTT: ("traces", "accumulator"), BPTT: ("potential_history", "error_history", "gradient"),
                EventDriven: ("traces", "eligibility", "phi_sum", "spike_weight_sum", "threshold_scale")}
        return sum(getattr(self, k).nbytes for k in held[type(self.rule)])

    def _network(self) -> tuple:
        """The kernels' leading arguments: layout, weights, format and leaks."""
        return (self.sizes, self.matrix_offsets, self.neuron_offsets, self.synapse_weights, int(self.fixed),
                self.weight_exps, self.leaks, self.decays)

    def learn_sample(self, x, y: int) -> float:
        """One sample of on-chip learning; returns its loss."""
        x = self._check_x(x)
        if not 0 <= int(y) < self.sizes[-1]:
            raise RuleError(f"label {y} is outside [0, {self.sizes[-1]})")
        self._buffers(x.shape[0])
        r = self.rule
        net = self._network() + (self.thresholds, r.alpha, r.gamma, r.eta)
        neurons = (self.membrane, self.membrane_pre_reset, self.spiked, self.current)
        if isinstance(r, OTTT):
            loss = K.ottt_sample(x, int(y), *net, int(r.mode == "O"), self.weight_lsbs, W_MIN, W_MAX,
                                 int(r.feedback == "random"), self.feedback_weights, self.rng, *neurons,
                                 self.traces, self.accumulator, self.learn_counts)
        elif isinstance(r, BPTT):
            loss = K.bptt_sample(x, int(y), *net, int(r.reset_grad == "full"), self.weight_lsbs, W_MIN, W_MAX,
                                 self.rng, *neurons, self.potential_history, self.error_history, self.gradient,
                                 self.learn_counts)
        else:
            loss = K.event_sample(x, int(y), *net, int(r.kind == "STD-ED"), r.s_min, r.readout_scale,
                                  r.kappa, r.rate, r.thr_lo, r.thr_hi, self.weight_lsbs, W_MIN, W_MAX, self.rng,
                                  *neurons, self.threshold_scale, self.traces, self.eligibility, self.phi_sum,
                                  self.spike_weight_sum, self.learn_counts)
        return float(loss)

    def readout(self, x) -> np.ndarray:
        """(T, C) readout of one sample, inference only (counted in infer_counts)."""
        x = self._check_x(x)
        r = self.rule
        spiking = r.spiking_readout
        theta = self.thresholds
        if spiking:
            theta = np.floor(self.threshold_scale * theta) if self.fixed else self.threshold_scale * theta
        o = np.zeros((x.shape[0], self.sizes[-1]))
        K.forward(x, *self._network(), theta, int(spiking), int(spiking and r.kind == "STD-ED"), self.membrane,
                  self.membrane_pre_reset, self.spiked, self.current, self.infer_counts, o)
        return o

    def predict(self, X) -> np.ndarray:
        return np.array([int(np.argmax(self.readout(x).sum(0))) for x in X])

    def accuracy(self, X, Y) -> float:
        return float(np.mean(self.predict(X) == np.asarray(Y)))

    # -- epochs, checkpoints ---------------------------------------------------------------------
    def fit(self, X, Y, epochs: int, *, eval_set=None, checkpoint=None, checkpoint_every: int = 0,
            stop_after: int | None = None, progress: bool = False) -> list[dict]:
        """Learn sample by sample for `epochs` epochs (order: a permutation seeded by seed and
        epoch); continue from where a loaded checkpoint stopped. Every `checkpoint_every`
        samples (and at each epoch end) the state is saved to `checkpoint`. `stop_after`
        stops after that many samples (an interruption, for tests). Returns the history."""
        X, Y = np.asarray(X), np.asarray(Y)
        if len(X) != len(Y) or len(X) == 0:
            raise RuleError(f"fit: {len(X)} samples and {len(Y)} labels")
        done = 0
        epoch, pos = self._progress
        bar = tqdm(total=epochs * len(X), initial=epoch * len(X) + pos, desc=self.rule.label, unit="sample",
                   disable=not progress)
        while epoch < epochs:
            order = np.random.default_rng([self.seed, epoch]).permutation(len(X))
            while pos < len(X):
                k = order[pos]
                self._loss_sum += self.learn_sample(X[k], Y[k])
                pos += 1
                done += 1
                bar.update(1)
                self._progress = (epoch, pos)
                if checkpoint and checkpoint_every and pos % checkpoint_every == 0:
                    self.save(checkpoint)
                if stop_after is not None and done >= stop_after:
                    bar.close()
                    return self.history
            row = {"epoch": epoch + 1, "loss": self._loss_sum / len(X)}
            if eval_set is not None:
                row["test_accuracy"] = self.accuracy(*eval_set)
            self.history.append(row)
            self._loss_sum, epoch, pos = 0.0, epoch + 1, 0
            self._progress = (epoch, pos)
            if checkpoint:
                self.save(checkpoint)
        bar.close()
        return self.history

    def save(self, path) -> None:
        """Everything needed to resume bit-identically (weights, RNG, thresholds, counters, place)."""
        r = self.rule
        config = dict(rule=type(r).__name__, rule_args=asdict(r), sizes=self.sizes.tolist(), fmt=asdict(self.fmt),
                      **{k: getattr(self, k) for k in self._CONFIG}, progress=list(self._progress),
                      loss_sum=self._loss_sum, history=self.history)
        tmp = Path(str(path) + ".tmp.npz")
        np.savez(tmp, **{k: getattr(self, k) for k in self._STATE}, config=np.array(json.dumps(config)))
        tmp.replace(path)  # never leave a half-written checkpoint

    @classmethod
    def load(cls, path) -> "Learner":
        try:
            d = np.load(path)
            config = json.loads(str(d["config"]))
        except (OSError, ValueError, KeyError) as e:
            raise RuleError(f"{path}: not a neurochip learning checkpoint ({e})") from None
        rule = {"OTTT": OTTT, "BPTT": BPTT, "EventDriven": EventDriven}[config["rule"]](**config["rule_args"])
        self = cls(config["sizes"], rule, fixed=config["fixed"], lam=config["lam"], theta=config["theta"],
                   fmt=Format(**config["fmt"]), seed=config["seed"])
        for k in cls._STATE:
            getattr(self, k)[...] = d[k]
        self._progress = tuple(config["progress"])
        self._loss_sum, self.history = config["loss_sum"], config["history"]
        return self

    # -- counts ------------------------------------------------------------------------------------
    def counts(self, phase: str = "learn") -> dict:
        """Totals per event kind (the chip's names), for phase "learn" or "infer"."""
        c = self.learn_counts if phase == "learn" else self.infer_counts
        return dict(zip(K.COLUMNS, (int(v) for v in c.sum(0))))

    @classmethod
    def from_network(cls, net: Network, rule, **kw) -> "Learner":
        """Attach `rule` to a network built as `to_network` builds it: one SpikeSource, a
        chain of soft-reset LIF layers without current memory, and a readout compartment
        (one that never spikes) for OTTT and BPTT. Says why when the rule cannot serve it."""
        who = getattr(rule, "label", type(rule).__name__)
        sources = [k for k, p in net.populations.items() if isinstance(p, SpikeSource)]
        if len(sources) != 1:
            raise RuleError(f"{who}: needs exactly one input SpikeSource, the network has {sources}")
        chain, mats = [sources[0]], []
        while True:
            out = [p for p in net.projections if p.pre == chain[-1]]
            if not out:
                break
            if len(out) > 1 or out[0].post in chain:
                raise RuleError(f"{who}: population {chain[-1]!r} projects to {[p.post for p in out]}; "
                                "the learning engine serves a feed-forward chain of layers")
            if np.any(out[0].delay != 0):
                raise RuleError(f"{who}: projection {out[0].name!r} has a delay; the traces assume none")
            chain.append(out[0].post)
            mats.append(out[0])
        if len(chain) != len(net.populations) or len(mats) != len(net.projections):
            raise RuleError(f"{who}: populations {sorted(set(net.populations) - set(chain))} are not on the chain "
                            f"{chain}")
        pops = [net.populations[k] for k in chain[1:]]
        readout = pops[-1].vth in (NEVER_VTH, NEVER_VTH_FLOAT)
        if not isinstance(rule, EventDriven) and not readout:
            raise RuleError(f"{who}: no readout: the last population {chain[-1]!r} spikes (vth {pops[-1].vth}); "
                            "the loss needs a compartment that never spikes (vth at its maximum)")
        if len(pops) < 2:
            raise RuleError(f"{who}: needs at least one hidden layer before the readout, the chain is {chain}")
        fixed = isinstance(pops[0], LoihiLIF)
        for name, p in zip(chain[1:-1], pops[:-1]):
            if isinstance(p, LoihiLIF) != fixed or not isinstance(p, (LoihiLIF, FloatLIF)):
                raise RuleError(f"{who}: population {name!r} is {type(p).__name__}; all layers must be LoihiLIF "
                                "(fixed point) or all FloatLIF")
            if p.reset != "subtract" or p.v_sub != p.vth:
                raise RuleError(f"{who}: incompatible neuron model: {name!r} resets to zero (or by v_sub != vth); "
                                "the rules assume the soft reset u - theta s (reset='subtract', v_sub = vth)")
            if p.du != (DECAY_ONE - 1 if fixed else 1.0):
                raise RuleError(f"{who}: missing traces: {name!r} keeps a synaptic current (du = {p.du}); the "
                                "presynaptic trace a <- lam a + s models du = " + ("4095" if fixed else "1"))
            if np.any(np.asarray(p.bias) != 0) or p.dv != pops[0].dv or p.vth != pops[0].vth:
                raise RuleError(f"{who}: {name!r} differs from the first layer in bias, dv or vth; the engine "
                                "takes one leak and threshold for all hidden layers and no bias")
        weights = [m.weights.toarray() if hasattr(m.weights, "toarray") else np.asarray(m.weights) for m in mats]
        sizes = [net.populations[chain[0]].n] + [p.n for p in pops]
        if fixed:
            fmt = Format(vth=int(pops[0].vth), weight_exp=int(mats[0].weight_exp), dv=int(pops[0].dv))
            weights = [w * fmt.unit for w in weights]
            return cls(sizes, rule, fixed=True, fmt=fmt, weights=weights, **kw)
        return cls(sizes, rule, lam=1.0 - pops[0].dv, theta=pops[0].vth, weights=weights, **kw)

    def to_network(self, reset: str = "subtract") -> Network:
        """The inference network on the chip: input source, soft-reset LIF layers, and the
        readout as a compartment that never spikes (v = o). Projections have delay 0, so layer
        l runs l steps behind the input on the chip. reset="zero" gives the same weights and
        parameters with Lava's reset to zero (Lava's LIF has no soft reset): a variant for the
        Lava export, not the network the learner trained."""
        if isinstance(self.rule, EventDriven):
            raise RuleError("to_network: adaptive thresholds of the event-driven rules have no chip LIF equivalent")
        if reset not in ("subtract", "zero"):
            raise RuleError(f"to_network: reset must be 'subtract' or 'zero', got {reset!r}")
        net = Network()
        net.add(SpikeSource(int(self.sizes[0]), name="in"))
        names = ["in"] + [f"h{m + 1}" for m in range(self.n_matrices - 1)] + ["out"]
        for m in range(self.n_matrices):
            n, last = int(self.sizes[m + 1]), m == self.n_matrices - 1
            if self.fixed:
                pop = LoihiLIF(n, du=DECAY_ONE - 1, dv=DECAY_ONE if last else self.fmt.dv,
                               vth=NEVER_VTH if last else self.fmt.vth, reset=reset, v_sub=self.fmt.vth,
                               name=names[m + 1])
            else:
                pop = FloatLIF(n, du=1.0, dv=1.0 if last else 1.0 - self.lam,
                               vth=NEVER_VTH_FLOAT if last else self.theta, reset=reset,
                               v_sub=self.theta, name=names[m + 1])
            net.add(pop)
            w = self.int_weights[m] if self.fixed else self.weights[m]
            kw = dict(weight_exp=self.fmt.weight_exp, num_weight_bits=WEIGHT_BITS) if self.fixed else {}
            net.connect(names[m], names[m + 1], w, **kw)
        return net
