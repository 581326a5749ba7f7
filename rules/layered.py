"""The layered learning engine, kept for the BPTT-SG baseline (`rules.rule.BPTT`) only: every
other rule (OTTT, STD-ED, MPD-ED) learns on the chip's plastic cores (`rules.learner.Learner`).
The event-driven rules as they ran here before the plastic cores are kept as a test reference,
`tests/reference/layered_event.py`.

`LayeredLearner(sizes, BPTT(...))` holds the weights in the chip's format (float64, or Loihi fixed point
with stochastic rounding of every update), runs one compiled kernel per sample
(`rules.kernels`), counts every event per weight matrix in the chip's event names
(`rules.kernels.COLUMNS`) apart for learning and for inference, measures the bytes of
learning state it holds, and can be checkpointed mid-epoch and resumed to bit-identical weights.
"""
from __future__ import annotations

import json
import zipfile
import zlib
from dataclasses import asdict

import numpy as np
from tqdm import tqdm

from neurochip.model.files import save_npz_atomic
from neurochip.model.fixed import VTH_SHIFT
from neurochip.rules import kernels as K
from neurochip.rules.learner import W_LSB, W_MAX, W_MIN, Format
from neurochip.rules.rule import BPTT, RuleError


class LayeredLearner:
    """A layered spiking network sizes = [n0, n1, ..., nL, C] learning with `rule` (a BPTT):
    hidden soft-reset LIF layers and a memoryless readout.

    Float mode: threshold `theta`, leak `lam`. Fixed mode (`fixed=True`): `fmt` sets both.
    `weights` (list of (n_post, n_pre) float matrices) or a seeded Gaussian init with
    standard deviation init_gain / sqrt(n_pre).

    State in the flat layout of `rules.kernels`: `synapse_weights` W; per neuron `thresholds` theta
    (vth << 6), `current` I = W s_in, `membrane_pre_reset` u = lam v + I, `membrane`
    v = u - theta s, `spiked` s; `rng` (splitmix64 state); `learn_counts`, `infer_counts`
    (n_matrices, `kernels.COLUMNS`).
    """

    _STATE = ("synapse_weights", "rng", "learn_counts", "infer_counts")
    _CONFIG = ("fixed", "lam", "theta", "seed")

    def __init__(self, sizes, rule, *, fixed: bool = False, lam: float = 0.875, theta: float = 1.0,
                 fmt: Format = Format(), seed: int = 0, weights=None, init_gain: float = 2.0):
        if not isinstance(rule, BPTT):
            raise RuleError(f"the layered engine runs only the BPTT-SG baseline (rules.rule.BPTT), got "
                            f"{getattr(rule, 'label', type(rule).__name__)}; every other rule (OTTT, STD-ED, "
                            "MPD-ED) learns on the chip: use neurochip.rules.learner.Learner")
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
        n = self.neuron_offsets[-1]
        self.thresholds = np.full(n, float(fmt.vth << VTH_SHIFT) if fixed else self.theta)
        self.leaks = np.full(n_mat, self.lam)
        self.decays = np.full(n_mat, fmt.dv, np.int64)
        self.weight_exps = np.full(n_mat, fmt.weight_exp if fixed else 0, np.int64)
        self.weight_lsbs = np.full(n_mat, W_LSB)
        self.rng = np.array([np.uint64(seed) * np.uint64(2654435761) + np.uint64(1)], np.uint64)
        self.membrane, self.membrane_pre_reset, self.spiked, self.current = (np.zeros(n) for _ in range(4))
        self.learn_counts = np.zeros((n_mat, len(K.COLUMNS)), np.int64)
        self.infer_counts = np.zeros((n_mat, len(K.COLUMNS)), np.int64)
        self.history: list[dict] = []
        self._progress = (0, 0)
        self.samples_learned = 0
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
        """BPTT's per-sample state for samples of T steps: the hidden potentials and readout
        errors of every step, and the gradient per synapse."""
        if self._steps == T:
            return
        self._steps = T
        self.potential_history = np.zeros((T, int(self.neuron_offsets[-2])))
        self.error_history, self.gradient = np.zeros((T, self.sizes[-1])), np.zeros(self.matrix_offsets[-1])

    def state_bytes(self, T: int | None = None) -> int:
        """Bytes of learning state BPTT holds for samples of T steps (default: the last
        learned), measured from the arrays allocated (stored steps and the gradient; not the
        weights)."""
        self._buffers(T or self._steps or 1)
        return sum(getattr(self, k).nbytes for k in ("potential_history", "error_history", "gradient"))

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
        self.samples_learned += 1
        r = self.rule
        loss = K.bptt_sample(x, int(y), *self._network(), self.thresholds, r.alpha, r.gamma, r.eta,
                             int(r.reset_grad == "full"), self.weight_lsbs, W_MIN, W_MAX, self.rng, self.membrane,
                             self.membrane_pre_reset, self.spiked, self.current, self.potential_history,
                             self.error_history, self.gradient, self.learn_counts)
        return float(loss)

    def readout(self, x) -> np.ndarray:
        """(T, C) readout of one sample, inference only (counted in infer_counts)."""
        x = self._check_x(x)
        o = np.zeros((x.shape[0], self.sizes[-1]))
        K.forward(x, *self._network(), self.thresholds, self.membrane, self.membrane_pre_reset, self.spiked,
                  self.current, self.infer_counts, o)
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

    def _config(self) -> dict:
        r = self.rule
        return dict(rule=type(r).__name__, rule_args=asdict(r), sizes=self.sizes.tolist(), fmt=asdict(self.fmt),
                    **{k: getattr(self, k) for k in self._CONFIG})

    def save(self, path) -> None:
        """Everything needed to resume bit-identically (weights, RNG, thresholds, counters, place)."""
        meta = dict(self._config(), progress=list(self._progress), loss_sum=self._loss_sum, history=self.history,
                    samples_learned=self.samples_learned)
        save_npz_atomic(path, RuleError, **{k: getattr(self, k) for k in self._STATE},
                        config=np.array(json.dumps(meta)))

    def restore(self, path) -> None:
        """Continue from a checkpoint of this same configuration; anything else raises
        RuleError naming the file and what differs, and leaves the learner unchanged."""
        try:
            with np.load(path, allow_pickle=False) as d:
                meta = json.loads(str(d["config"]))
                arrays = {k: d[k] for k in self._STATE}
        except FileNotFoundError:
            raise RuleError(f"{path}: no such checkpoint file") from None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as e:
            raise RuleError(f"{path}: not a neurochip learning checkpoint ({type(e).__name__}: {e})") from None
        mine = json.loads(json.dumps(self._config()))
        diff = sorted(k for k in mine if meta.get(k) != mine[k])
        if diff:
            raise RuleError(f"{path}: a checkpoint of another run (it differs in {', '.join(diff)}: "
                            + "; ".join(f"{k} {meta.get(k)!r} there, {mine[k]!r} here" for k in diff[:3])
                            + "); resume with the options it was started with, or choose another checkpoint")
        for k, value in arrays.items():
            want = getattr(self, k)
            if value.shape != want.shape or value.dtype != want.dtype or \
                    (value.dtype.kind == "f" and not np.all(np.isfinite(value))):
                raise RuleError(f"{path}: array {k!r} is damaged ({value.dtype} {value.shape}, expected {want.dtype} "
                                f"{want.shape}, finite)")
        for k, value in arrays.items():
            getattr(self, k)[...] = value
        self._progress = tuple(meta["progress"])
        self._loss_sum, self.history = meta["loss_sum"], meta["history"]
        self.samples_learned = meta.get("samples_learned", 0)

    @classmethod
    def load(cls, path) -> "LayeredLearner":
        """A learner built from a checkpoint's configuration and restored to it."""
        try:
            with np.load(path, allow_pickle=False) as d:
                config = json.loads(str(d["config"]))
            rule = config["rule"]
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile, zlib.error) as e:
            raise RuleError(f"{path}: not a neurochip learning checkpoint ({type(e).__name__}: {e})") from None
        if rule != "BPTT":
            raise RuleError(f"{path}: a checkpoint of rule {rule!r}, which the layered engine no longer runs (it "
                            "keeps BPTT-SG only); the other rules learn on the chip (neurochip.rules.learner.Learner)")
        try:
            self = cls(config["sizes"], BPTT(**config["rule_args"]), fixed=config["fixed"], lam=config["lam"],
                       theta=config["theta"], fmt=Format(**config["fmt"]), seed=config["seed"])
        except (ValueError, KeyError, TypeError) as e:
            raise RuleError(f"{path}: not a neurochip learning checkpoint ({type(e).__name__}: {e})") from None
        self.restore(path)
        return self

    # -- counts ------------------------------------------------------------------------------------
    def counts(self, phase: str = "learn") -> dict:
        """Totals per event kind (the chip's names), for phase "learn" or "infer"."""
        c = self.learn_counts if phase == "learn" else self.infer_counts
        return dict(zip(K.COLUMNS, (int(v) for v in c.sum(0))))
