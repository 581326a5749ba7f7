"""A hardware-independent network: named populations and the projections between them."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from neurochip.model.errors import NetworkError
from neurochip.model.fixed import MAX_DELAY, WEIGHT_BITS, WEIGHT_EXP_RANGE, effective_weights, sign_mode
from neurochip.model.neurons import NEURON_MODELS, NeuronModel


class WeightClipWarning(UserWarning):
    """Weights were changed to fit the synapse format (clipped or truncated)."""


@dataclass
class Projection:
    """Synapses from population `pre` to population `post` (Lava Dense / DelayDense).

        a_post[t + 1 + delay] += (W @ s_pre[t]) << weight_exp        (fixed point)
        a_post[t + 1 + delay] +=  W @ s_pre[t]                        (float)

    W has shape (n_post, n_pre), dense or scipy.sparse; absent (sparse) or zero entries are
    no synapse. A spike reaches its target one step later (as Lava's Dense), plus `delay`
    steps (0..62, a scalar or one per synapse, shaped as W). In fixed point the shift
    applies to the sum of each step's spikes (floor for a negative weight_exp), exactly as
    Lava does, and W is first clipped and truncated to `num_weight_bits` (see
    `effective_weights`); a warning says how many weights that changed and by how much.
    """

    pre: str
    post: str
    weights: np.ndarray | sp.spmatrix
    weight_exp: int = 0
    num_weight_bits: int = 8
    delay: int | np.ndarray = 0
    name: str = ""

    def __post_init__(self):
        self.name = self.name or f"{self.pre}->{self.post}"
        lo, hi = WEIGHT_EXP_RANGE
        if not isinstance(self.weight_exp, (int, np.integer)) or not lo <= self.weight_exp <= hi:
            raise NetworkError(f"projection {self.name!r}: weight_exp must be an integer in [{lo}, {hi}], got {self.weight_exp!r}")
        if not isinstance(self.num_weight_bits, (int, np.integer)) or not 1 <= self.num_weight_bits <= WEIGHT_BITS:
            raise NetworkError(f"projection {self.name!r}: num_weight_bits must be in [1, {WEIGHT_BITS}], "
                               f"got {self.num_weight_bits!r}")
        w = self.weights
        if sp.issparse(w):
            data = w.tocsr().data
        else:
            w = np.asarray(w)
            if w.ndim != 2:
                raise NetworkError(f"projection {self.name!r}: weights must be 2-D (n_post, n_pre), got shape {w.shape}")
            data = w
        if data.dtype.kind not in "iufb":
            raise NetworkError(f"projection {self.name!r}: weights must be numeric, got dtype {data.dtype}")
        if data.dtype.kind == "f" and not np.all(np.isfinite(data)):
            bad = np.argwhere(~np.isfinite(w.toarray() if sp.issparse(w) else w))[:3]
            raise NetworkError(f"projection {self.name!r}: weights contain NaN or inf at (post, pre) {bad.tolist()}")
        self.weights = w
        d = np.asarray(self.delay)
        if d.dtype.kind not in "iu" and not (d.dtype.kind == "f" and np.all(d == np.round(d))):
            raise NetworkError(f"projection {self.name!r}: delay must be integer steps, got {d.dtype}")
        if d.ndim and d.shape != w.shape:
            raise NetworkError(f"projection {self.name!r}: delay has shape {d.shape}, weights {w.shape}: "
                               "give one delay or one per synapse")
        if np.any(d < 0) or np.any(d > MAX_DELAY):
            raise NetworkError(f"projection {self.name!r}: delays must lie in [0, {MAX_DELAY}], "
                               f"got range [{d.min()}, {d.max()}]")
        self.delay = d.astype(np.int64)

    @property
    def shape(self) -> tuple[int, int]:
        return self.weights.shape

    def synapses(self, fixed_point: bool, plastic: bool = False):
        """(post, pre, weight, delay) of every synapse, in (post, pre) order, zeros dropped.

        In fixed point the weights are Lava's effective weights and must be integers.
        `plastic`: every entry of a dense matrix (every stored entry of a sparse one) is a
        synapse, zeros too, since learning may grow it, and signs are mixed.
        Compact dtypes: ids int32 (`id_dtype`), weights int16 in fixed point (an effective
        weight lies in [-256, 255]), float64 in float, delays int8.
        A CSR matrix with sorted indices (`fan_in_weights` builds one) is read without copies
        of its indices.
        """
        w = self.weights
        ids = id_dtype(max(w.shape))
        if sp.isspmatrix_csr(w) and w.has_sorted_indices:   # already in (post, pre) order
            post = np.repeat(np.arange(w.shape[0], dtype=ids), np.diff(w.indptr))
            pre, val = w.indices.astype(ids, copy=False), w.data
        elif sp.issparse(w):
            coo = w.tocoo()
            post, pre, val = coo.row.astype(ids), coo.col.astype(ids), coo.data
            order = np.lexsort((pre, post))
            post, pre, val = post[order], pre[order], val[order]
        else:
            post, pre = (a.astype(ids) for a in np.nonzero(np.ones(w.shape, bool) if plastic else w))
            val = w[post, pre]
        if fixed_point:
            if val.dtype.kind == "f" and np.any(val != np.round(val)):
                raise NetworkError(f"projection {self.name!r}: fixed-point weights must be integers; "
                                   "quantize first (neurochip.mapping.quantize) or use FloatLIF populations")
            mode = "mixed" if plastic else sign_mode(val)   # the absent (zero) entries change no mode
            val = self._effective(val, mode)
            keep = None if plastic or np.all(val != 0) else val != 0
        else:
            val = val.astype(np.float64)
            keep = None
        d = self.delay
        dly = d[post, pre].astype(np.int8) if d.ndim else np.full(post.size, int(d), dtype=np.int8)
        if keep is None:
            return post, pre, val, dly
        return post[keep], pre[keep], val[keep], dly[keep]

    def _effective(self, val: np.ndarray, mode: str) -> np.ndarray:
        """`effective_weights` as int16, a chunk at a time (no int64 copy of all weights); warns
        how many changed."""
        if val.dtype.kind in "iu" and val.size:   # integers that all keep their value: one cast
            lo, hi = int(val.min()), int(val.max())
            span = np.arange(lo, hi + 1) if hi - lo < 2**16 else None
            if span is not None and np.array_equal(effective_weights(span, self.num_weight_bits, mode), span):
                return val.astype(np.int16)
        out = np.empty(val.size, np.int16)
        changed, top, total = 0, 0, 0
        for lo in range(0, val.size, _CHUNK):
            v = val[lo:lo + _CHUNK]
            eff = effective_weights(v, self.num_weight_bits, mode)
            diff = np.abs(eff - v)
            changed, top, total = changed + np.count_nonzero(diff), max(top, diff.max()), total + diff.sum()
            out[lo:lo + _CHUNK] = eff
        if changed:
            warnings.warn(f"projection {self.name!r}: {changed} of {val.size} weights changed to fit "
                          f"{self.num_weight_bits}-bit {mode} synapses (max change {top}, mean {total / changed:.3g})",
                          WeightClipWarning, stacklevel=4)
        return out


_CHUNK = 1 << 22   # synapses a pass converts at once: bounds the int64 temporaries


def id_dtype(n: int):
    """The dtype of neuron and synapse ids below n: int32, or int64 from 2**31."""
    return np.int32 if n < 2**31 else np.int64


def fan_in_weights(pre: np.ndarray, weights, n_pre: int, dtype=np.int8) -> sp.csr_matrix:
    """The (n_post, n_pre) CSR weight matrix of a fixed fan-in: post neuron i has synapses
    from pre[i, 0..k-1] (distinct) with `weights`: one value (then `pre` is sorted row by row
    in place), or one per entry of `pre` (then each row of `pre` must be increasing).

    Built without dense or int64 intermediates: the indices are `pre` itself if it is int32,
    data `dtype` (int8 holds Loihi's 8-bit mantissas), indptr int32, so a network of 100 M
    synapses costs 5 bytes a synapse here. The recipe for large sparse networks: fill an
    int32 (n_post, k) `pre` (in chunks of rows if it is drawn at random), then pass this
    matrix to `Network.connect` (benchmarks/scale.py does so for 100 M synapses).
    """
    pre = np.asarray(pre)
    if pre.ndim != 2 or pre.dtype.kind not in "iu":
        raise NetworkError(f"fan_in_weights: pre must be a 2-D integer array (n_post, fan_in), got {pre.dtype} "
                           f"of shape {pre.shape}")
    n_post, k = pre.shape
    if pre.size and (pre.min() < 0 or pre.max() >= n_pre):
        raise NetworkError(f"fan_in_weights: pre ids must lie in [0, {n_pre}), got range [{pre.min()}, {pre.max()}]")
    if pre.size >= 2**31:
        raise NetworkError(f"fan_in_weights: {pre.size} synapses; a CSR with int32 indices holds at most 2**31 - 1")
    pre = pre.astype(np.int32, copy=False)
    if np.ndim(weights) == 0:
        pre.sort(axis=1)
    bad = np.flatnonzero(np.any(pre[:, 1:] <= pre[:, :-1], axis=1)) if k > 1 else []
    if len(bad):
        what = "repeats a pre neuron" if np.ndim(weights) == 0 else "is not increasing (sort it with its weights)"
        raise NetworkError(f"fan_in_weights: row {bad[0]} of pre {what}: {pre[bad[0]].tolist()[:10]}")
    data = np.empty(pre.size, dtype)
    data[:] = np.asarray(weights).ravel() if np.ndim(weights) else weights
    indptr = (np.arange(n_post + 1, dtype=np.int64) * k).astype(np.int32)
    m = sp.csr_matrix((data, pre.ravel(), indptr), shape=(n_post, n_pre), copy=False)
    m.has_sorted_indices = True
    return m


@dataclass
class Network:
    """Populations (by name) and projections. Fixed point and float LIF do not mix."""

    populations: dict = field(default_factory=dict)
    projections: list = field(default_factory=list)

    def add(self, pop):
        if not isinstance(pop, NeuronModel) or type(pop).__name__ not in NEURON_MODELS:
            raise NetworkError(f"unknown population type {type(pop).__name__}; use one of {list(NEURON_MODELS)} "
                               "(neurochip.model.neurons.register adds a model)")
        if pop.name in self.populations:
            raise NetworkError(f"population name {pop.name!r} is used twice")
        self.populations[pop.name] = pop
        return pop

    def connect(self, pre: str, post: str, weights, **kw) -> Projection:
        for end, name in (("pre", pre), ("post", post)):
            if name not in self.populations:
                raise NetworkError(f"projection {pre}->{post}: {end} population {name!r} does not exist; "
                                   f"populations are {list(self.populations)}")
        if not self.populations[post].on_chip:
            raise NetworkError(f"projection {pre}->{post}: {post!r} is a {type(self.populations[post]).__name__} "
                               "and takes no synapses")
        proj = Projection(pre, post, weights, **kw)
        want = (self.populations[post].n, self.populations[pre].n)
        if proj.shape != want:
            raise NetworkError(f"projection {proj.name!r}: weights have shape {proj.shape}, expected "
                               f"(n_post, n_pre) = {want}")
        self.projections.append(proj)
        return proj

    @property
    def fixed_point(self) -> bool:
        models = {fixed: sorted({type(p).__name__ for p in self.populations.values() if p.on_chip
                                 and p.fixed_point == fixed}) for fixed in (True, False)}
        if models[True] and models[False]:
            raise NetworkError(f"the network mixes {', '.join(models[True])} (fixed point) and "
                               f"{', '.join(models[False])} (float) populations; use one kind")
        return not models[False]

    def neurons(self) -> list[str]:
        """Names of the populations that live on cores (all but spike sources)."""
        return [k for k, p in self.populations.items() if p.on_chip]

    def sources(self) -> list[str]:
        return [k for k, p in self.populations.items() if not p.on_chip]
