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
        """
        w = self.weights
        if sp.issparse(w):
            coo = w.tocoo()
            post, pre, val = coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data
            order = np.lexsort((pre, post))
            post, pre, val = post[order], pre[order], val[order]
            full_sign_source = val if val.size == np.prod(w.shape) else np.append(val, 0)
        else:
            post, pre = np.nonzero(np.ones(w.shape, bool) if plastic else w)
            val = w[post, pre]
            full_sign_source = w
        if fixed_point:
            if val.dtype.kind == "f" and np.any(val != np.round(val)):
                raise NetworkError(f"projection {self.name!r}: fixed-point weights must be integers; "
                                   "quantize first (neurochip.mapping.quantize) or use FloatLIF populations")
            mode = "mixed" if plastic else sign_mode(np.asarray(full_sign_source))
            eff = effective_weights(val, self.num_weight_bits, mode)
            changed = eff != val
            if np.any(changed):
                diff = np.abs(eff - val)[changed]
                warnings.warn(f"projection {self.name!r}: {changed.sum()} of {val.size} weights changed to fit "
                              f"{self.num_weight_bits}-bit {mode} synapses (max change {diff.max()}, mean {diff.mean():.3g})",
                              WeightClipWarning, stacklevel=3)
            val = eff
            keep = np.ones(val.size, dtype=bool) if plastic else val != 0
        else:
            val = val.astype(np.float64)
            keep = np.ones(val.size, dtype=bool)
        d = self.delay
        dly = d[post, pre] if d.ndim else np.full(post.size, int(d), dtype=np.int64)
        return post[keep], pre[keep], val[keep], dly[keep].astype(np.int64)


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
