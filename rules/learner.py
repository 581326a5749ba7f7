"""Learning on the chip: a rule attached to a network placed on simulated cores.

`Learner` is a front over `neurochip.chip.simulator.Simulator` built with plasticity: the
weights live in the cores' synapse memory, every sample is learned there step by step
(`chip.plastic`), and the counters of the learning phases and of the forward pass come from
the chip, apart. Build it from layer sizes (a chain with a readout, as the digits study
does) or from a network the user brings (`Learner.from_network`, e.g. imported from NIR).
Checkpoints hold everything needed to resume bit-identically and refuse another run's state.
"""
from __future__ import annotations

import hashlib
import json
import zipfile
import zlib
from dataclasses import asdict, dataclass, fields

import numpy as np
import scipy.sparse as sp
from tqdm import tqdm

from neurochip.chip.placement import Placement
from neurochip.chip.plastic import BPTT_SG, MIRROR, MPD_ED, OTTT_A, OTTT_O, RANDOM, STD_ED, Plasticity, chain
from neurochip.chip.simulator import Simulator, learn, weights
from neurochip.chip.spec import ChipSpec, Profile, loihi1
from neurochip.chip.synapses import index
from neurochip.model.errors import NetworkError
from neurochip.model.events import ALL_EVENTS, EVENTS
from neurochip.model.files import save_npz_atomic
from neurochip.model.fixed import (BIAS_EXP_RANGE, BIAS_MANT_BITS, DECAY_ONE, NEVER_VTH, NEVER_VTH_FLOAT, VTH_BITS,
                                   VTH_SHIFT, WEIGHT_BITS, effective_weights, weight_range)
from neurochip.model.network import Network
from neurochip.model.neurons import BIAS_SOURCE as BIAS
from neurochip.model.neurons import FloatLIF, LoihiLIF, SpikeSource
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
        if not (1 <= self.vth < 2**VTH_BITS and 0 <= self.weight_exp <= 7 and 0 <= self.dv <= DECAY_ONE):
            raise NetworkError(f"Format: vth in [1, 2**17), weight_exp in [0, 7], dv in [0, 4096]; got {self}")

    @property
    def lam(self) -> float:
        return 1.0 - self.dv / DECAY_ONE

    @property
    def unit(self) -> float:
        return 2.0**self.weight_exp / self.vth


def _rint(w):
    """Integer mantissas of a dense or sparse (structure kept) weight matrix."""
    if sp.issparse(w):
        w = w.copy()
        w.data = np.rint(w.data)
        return w.astype(np.int64)
    return np.rint(w).astype(np.int64)


def chain_network(sizes, *, fixed: bool, fmt: Format = Format(), lam: float = 0.875, theta: float = 1.0,
                  weights=None, recurrent: dict | None = None, reset: str = "subtract",
                  spiking_readout: bool = False) -> Network:
    """in -> h1 -> ... -> out: soft-reset LIF layers without current memory and a readout
    compartment that never spikes (v = o), or spikes like the hidden layers
    (`spiking_readout`, the event-driven rules). `weights`: (n_post, n_pre) float matrices in
    threshold units (fixed point: quantized to the even mantissa grid); `recurrent`:
    {hidden depth: (n, n) matrix}. reset="zero" gives Lava's reset (for the Lava export)."""
    sizes = [int(n) for n in sizes]
    net = Network()
    net.add(SpikeSource(sizes[0], name="in"))
    names = ["in"] + [f"h{d}" for d in range(1, len(sizes) - 1)] + ["out"]

    def mantissas(w):
        if sp.issparse(w):   # its stored entries are the synapses (zeros too: they learn)
            w = sp.csr_matrix(w, dtype=np.float64, copy=True)
            w.data = mantissas(w.data).astype(np.float64)
            return w.astype(np.int64) if fixed else w
        w = np.asarray(w, np.float64)
        return np.clip(np.round(w / fmt.unit / W_LSB) * W_LSB, W_MIN, W_MAX).astype(np.int64) if fixed else w

    for d in range(1, len(sizes)):
        n, last = sizes[d], d == len(sizes) - 1 and not spiking_readout
        if fixed:
            pop = LoihiLIF(n, du=DECAY_ONE - 1, dv=DECAY_ONE if last else fmt.dv, vth=NEVER_VTH if last else fmt.vth,
                           reset=reset, v_sub=fmt.vth, name=names[d])
        else:
            pop = FloatLIF(n, du=1.0, dv=1.0 if last else 1.0 - lam, vth=NEVER_VTH_FLOAT if last else theta,
                           reset=reset, v_sub=theta, name=names[d])
        net.add(pop)
        kw = dict(weight_exp=fmt.weight_exp, num_weight_bits=WEIGHT_BITS) if fixed else {}
        net.connect(names[d - 1], names[d], mantissas(weights[d - 1]), **kw)
        if recurrent and d in recurrent:
            net.connect(names[d], names[d], mantissas(recurrent[d]), **kw)
    return net


def learnable(net: Network, fixed: bool) -> Network:
    """A network a user brings, made ready for the chip's learning engines: the last
    population becomes the readout (a memoryless compartment that never spikes, keeping its
    weights and bias: o is its summed input, the logits), and in fixed point every layer is
    quantized to one shared format (`Format`: the plastic projections share one weight unit),
    with dv = round(4096 dv), vth chosen so the largest weight uses the 8-bit range, and
    biases as 13-bit mantissas with an exponent. Takes float (FloatLIF) networks, e.g. from
    NIR; the hidden layers must share dv and vth and keep no synaptic current (du = 1), and
    no projection may have a delay (`chip.plastic.chain` says what else). The always-on bias
    channel NIR import adds under "framework" timing becomes neuron biases (`_fold_bias`),
    with initial potentials that keep every step of the hidden layers as it was (`_start`)."""
    if not all(isinstance(p, FloatLIF) for p in net.populations.values() if p.on_chip):
        raise RuleError("learnable: give the float network (FloatLIF populations, e.g. NIR imported with --float); "
                        "it is quantized for learning with one shared format")
    given = net
    net, added = _fold_bias(net)
    source, layers, _, _ = chain(net)
    pops = [net.populations[k] for k in layers]
    hidden = pops[:-1]
    for p in hidden:
        if p.du != 1.0:
            raise RuleError(f"population {p.name!r}: keeps a synaptic current (du = {p.du:g}); the chip's learning "
                            "rules take hidden layers without one (du = 1)")
        if p.reset == "subtract" and p.v_sub != p.vth:
            raise RuleError(f"population {p.name!r}: subtracts v_sub = {p.v_sub:g} at a spike, not its threshold "
                            f"{p.vth:g} (snnTorch's late reset imports so); the chip's learning rules reset by the "
                            "threshold or to zero: import with --reset zero, or without --reset-delay")
    for p in hidden[1:]:
        if p.dv != hidden[0].dv or p.vth != hidden[0].vth:
            raise RuleError(f"population {p.name!r}: dv {p.dv} and vth {p.vth} differ from {hidden[0].name!r}'s "
                            f"({hidden[0].dv}, {hidden[0].vth}); the hidden layers share one leak and threshold")
    projections = list(net.projections)
    for proj in projections:
        if np.any(np.asarray(proj.delay) != 0):
            raise RuleError(f"projection {proj.name!r}: has a delay (up to {int(np.max(proj.delay))} steps); the "
                            "presynaptic traces of the learning rules assume none")
    theta = float(hidden[0].vth)
    w_max = max(float(np.abs(_dense(p.weights)).max()) for p in projections) / theta
    fmt = None
    if fixed:
        vth = int(np.clip(np.floor(W_MAX / max(w_max, 1e-12)), 1, 2**VTH_BITS - 1))
        fmt = Format(vth=vth, weight_exp=0, dv=int(np.clip(round(hidden[0].dv * DECAY_ONE), 0, DECAY_ONE)))
    out = Network()
    out.add(net.populations[source])
    for depth, p in enumerate(pops, start=1):
        last = p is pops[-1]
        bias = np.broadcast_to(np.asarray(p.bias, np.float64), (p.n,)) / theta
        given_p, extra = given.populations[p.name], added.get(p.name)
        if fixed:
            mant, exp = _bias_fixed(bias * (fmt.vth << VTH_SHIFT))
            v0 = 0 if last else _start(given_p, depth, extra, theta, mant << exp, fmt)
            out.add(LoihiLIF(p.n, du=DECAY_ONE - 1, dv=DECAY_ONE if last else fmt.dv,
                             vth=NEVER_VTH if last else fmt.vth, bias_mant=mant, bias_exp=exp, v0=v0,
                             reset="subtract" if last else p.reset, v_sub=fmt.vth, name=p.name))
        else:
            v0 = 0.0 if last else _start(given_p, depth, extra, theta, bias, None)
            out.add(FloatLIF(p.n, du=1.0, dv=1.0 if last else p.dv, vth=NEVER_VTH_FLOAT if last else 1.0,
                             bias=bias, v0=v0, reset="subtract" if last else p.reset, v_sub=1.0, name=p.name))
    for proj in projections:
        w = _dense(proj.weights) / theta
        if fixed:
            w = np.clip(np.round(w / fmt.unit / W_LSB) * W_LSB, W_MIN, W_MAX).astype(np.int64)
        out.connect(proj.pre, proj.post, w, name=proj.name,
                    **(dict(weight_exp=0, num_weight_bits=WEIGHT_BITS) if fixed else {}))
    return out


def _fold_bias(net: Network) -> tuple:
    """`net` without the NIR importer's always-on bias channel (`model.neurons.BIAS_SOURCE`,
    a one-channel spike source beside the data input, on at every step of a sample: see
    `Imported.inputs_for`), its weights added to the biases of the populations it feeds:
    (network, {population: bias added}); `net` itself if it has no such channel. Exact where
    the channel's input is a bias: the population keeps no synaptic current (du = 1, so an
    input b at every step is a bias b; `learnable` checks that of the hidden layers, and makes
    the readout memoryless) and the channel's step t reaches it at its own step t, chip step
    t + depth in the chain, i.e. through a delay of depth - 1 (as "framework" timing gives
    it); the steps before that are `_start`'s. Otherwise RuleError says what breaks it."""
    from dataclasses import replace


    sources = net.sources()
    if BIAS not in sources or len(sources) == 1:
        return net, {}
    if net.populations[BIAS].n != 1:
        raise RuleError(f"spike source {BIAS!r} has {net.populations[BIAS].n} channels: not NIR import's always-on "
                        f"bias channel (one channel); learning on the chip takes one data source, the network has "
                        f"{sources}")
    rest = Network({k: p for k, p in net.populations.items() if k != BIAS},
                   [p for p in net.projections if p.pre != BIAS])
    depth = {k: d for d, k in enumerate(chain(rest)[1], start=1)}
    added = {}
    for proj in net.projections:
        if proj.pre != BIAS:
            continue
        d = depth[proj.post]
        if np.any(np.asarray(proj.delay) != d - 1):
            raise RuleError(f"projection {proj.name!r}: delay {np.unique(proj.delay).tolist()}; the always-on bias "
                            f"channel is a bias of {proj.post!r} (depth {d} in the chain) only if its step t arrives "
                            f"at {proj.post!r}'s step t, with delay {d - 1} (NIR import's \"framework\" timing)")
        added[proj.post] = added.get(proj.post, 0.0) + _dense(proj.weights)[:, 0]
    for k, b in added.items():
        rest.populations[k] = replace(rest.populations[k], bias=rest.populations[k].bias + b)
    return rest, added


def _start(pop, depth: int, added, theta: float, bias, fmt: Format | None):
    """The initial potential of hidden population `pop` (at `depth` in the chain) in the
    learning network's units (threshold units, or Loihi's integer v in format `fmt`), where
    its bias is now `bias` (per neuron, in those units; `pop` is the population before the
    fold). A population runs from chip step 0, but its input arrives at step `depth`, and so
    did the bias channel's; folded into the bias (`added`; None: nothing folded) it acts in
    those steps too. The
    start is then the one from which they end where `pop`'s own steps end (its own bias, from
    its v0), so every step from its input on is the original's, in fixed point to the bit.
    RuleError if the neurons would spike before their input arrives."""
    v0 = np.broadcast_to(np.asarray(pop.v0, np.float64), (pop.n,)) / theta
    scale = None if fmt is None else fmt.vth << VTH_SHIFT
    if added is None:
        return v0 if fmt is None else np.rint(v0 * scale).astype(np.int64)
    lam, own = 1.0 - float(pop.dv), np.asarray(pop.bias, np.float64) / theta
    target = v0
    for step in range(depth):  # `pop` before its input: its own bias only
        target = lam * target + own
        if np.any(target > 1.0):
            raise RuleError(f"population {pop.name!r}: spikes from its own bias before its input arrives (chip step "
                            f"{step}); learning takes layers that wait for their input")
    if fmt is None:
        x = v0 if lam == 0 else (target - bias * sum(lam**j for j in range(depth))) / lam**depth
    else:
        f = DECAY_ONE - fmt.dv
        x = np.rint(target * scale).astype(np.int64)
        for _ in range(depth if f else 0):  # back through v -> trunc0(v f / 4096) + bias, which reaches every integer
            z = x - bias
            x = np.sign(z) * ((np.abs(z) * DECAY_ONE + f - 1) // f)
    v = x
    for step in range(depth):  # those steps as the chip runs them
        v = (lam * v if fmt is None else np.sign(v) * (np.abs(v * f) // DECAY_ONE)) + bias
        if np.any(v > (1.0 if fmt is None else scale)):
            raise RuleError(f"population {pop.name!r}: its bias, with NIR import's bias channel folded in, would make "
                            f"it spike before its input arrives (chip step {step}), when the channel had not reached "
                            "it yet; the fold would change the network")
    return x


def _dense(w) -> np.ndarray:
    return w.toarray() if hasattr(w, "toarray") else np.asarray(w, np.float64)


def _bias_fixed(b: np.ndarray) -> tuple:
    """Per-neuron biases (v units) as (mantissa, exponent): one exponent that fits the largest."""
    top = 2 ** (BIAS_MANT_BITS - 1) - 1
    exp = int(np.clip(np.ceil(np.log2(max(float(np.abs(b).max()), 1.0) / top)), 0, BIAS_EXP_RANGE[1]))
    return np.clip(np.rint(b / 2**exp), -top - 1, top).astype(np.int64), exp


class Learner:
    """A network learning on the chip with OTTT (a memoryless readout) or an event-driven
    rule (STD-ED, MPD-ED: the readout spikes; STD-ED makes every layer integrate-and-fire).

    `Learner(sizes, rule, fixed=..., seed=...)` builds the chain `chain_network` builds, with
    seeded Gaussian weights (std init_gain / sqrt(n_pre)) unless `weights` are given, and
    `recurrent` hidden depths (std 0.5 / sqrt(n)); `Learner.from_network(net, rule)` takes
    any network `chip.plastic.chain` accepts. `chip` (default loihi1) and `placement`
    (default: `per_core` neurons a core, all of a core's compartments if None) say where it
    runs; `profile` prices latency (default: the chip's).
    """

    def __init__(self, sizes, rule, *, fixed: bool = False, lam: float = 0.875, theta: float = 1.0,
                 fmt: Format = Format(), seed: int = 0, weights=None, init_gain: float = 2.0, recurrent=(),
                 chip: ChipSpec | None = None, per_core: int | None = None):
        sizes = [int(n) for n in sizes]
        if len(sizes) < 3 or min(sizes) < 1:
            raise RuleError(f"sizes {sizes}: a rule needs an input, at least one hidden layer and a readout "
                            "(>= 3 positive layer sizes)")
        if not fixed and not (0 < lam <= 1 and theta > 0):
            raise RuleError(f"lam must be in (0, 1] and theta > 0, got lam={lam}, theta={theta}")
        event = isinstance(rule, EventDriven)
        if event and rule.kind == "STD-ED":   # integrate-and-fire
            lam, fmt = 1.0, Format(vth=fmt.vth, weight_exp=fmt.weight_exp, dv=0)
        rng = np.random.default_rng(seed)
        if weights is None:
            weights = [rng.normal(0, init_gain / np.sqrt(a), (b, a)) for a, b in zip(sizes, sizes[1:])]
        rec = {int(d): rng.normal(0, 0.5 / np.sqrt(sizes[d]), (sizes[d], sizes[d])) for d in recurrent}
        self.config = dict(sizes=sizes, fixed=bool(fixed), lam=lam, theta=theta, fmt=asdict(fmt),
                           recurrent=sorted(rec), init_gain=init_gain, per_core=per_core,
                           sparse=[int(w.nnz) if sp.issparse(w) else None for w in weights])
        net = chain_network(sizes, fixed=fixed, fmt=fmt, lam=lam, theta=theta, weights=weights, recurrent=rec,
                            spiking_readout=event)
        self._attach(net, rule, seed, chip, None if per_core is None else "per_core", per_core)

    @classmethod
    def from_network(cls, net: Network, rule, *, seed: int = 0, chip: ChipSpec | None = None,
                     placement: Placement | None = None) -> "Learner":
        """Attach `rule` to a network the user brings (a chain `chip.plastic.chain` accepts:
        one spike source, LIF layers, a memoryless readout that never spikes)."""
        self = cls.__new__(cls)
        self.config = dict(network=True)
        self._attach(net, rule, seed, chip, placement, None)
        return self

    def _attach(self, net, rule, seed, chip, placement, per_core):
        if not isinstance(rule, (OTTT, EventDriven, BPTT)):
            raise RuleError(f"{getattr(rule, 'label', type(rule).__name__)}: the chip's learning engines run OTTT, "
                            "STD-ED, MPD-ED and the BPTT-SG baseline")
        self.rule, self.seed, self.net = rule, int(seed), net
        self.chip = chip or loihi1()
        if placement == "per_core":
            placement = Placement.sequential(net, self.chip, per_core=per_core)
        self.fixed = net.fixed_point
        source, layers, forward, _ = chain(net)
        self.layers, self.source = layers, source
        rng = np.random.default_rng([self.seed, 1])
        feedback = {p.name: rng.normal(0, 1 / np.sqrt(net.populations[p.post].n),
                                       (net.populations[p.pre].n, net.populations[p.post].n)) for p in forward[1:]}
        if isinstance(rule, EventDriven):
            self.plasticity = Plasticity(STD_ED if rule.kind == "STD-ED" else MPD_ED, rule.eta, rule.gamma,
                                         rule.alpha, MIRROR, None, self.seed, rule.s_min, rule.readout_scale,
                                         rule.kappa, rule.rate, rule.thr_lo, rule.thr_hi)
        elif isinstance(rule, BPTT):
            self.plasticity = Plasticity(BPTT_SG, rule.eta, rule.gamma, rule.alpha, MIRROR, None, self.seed,
                                         reset_full=rule.reset_grad == "full")
        else:
            self.plasticity = Plasticity(OTTT_A if rule.mode == "A" else OTTT_O, rule.eta, rule.gamma, rule.alpha,
                                         MIRROR if rule.feedback == "transpose" else RANDOM, feedback, self.seed)
        self.sim = Simulator(net, self.chip, placement, plasticity=self.plasticity)
        p = self.sim.program
        self.learn_counts = np.zeros((p.n_rows, len(ALL_EVENTS)), np.int64)
        self.infer_counts = np.zeros((p.n_rows, len(EVENTS)), np.int64)
        self.sample_ns = np.zeros(3)
        self.samples_learned = 0
        self.unknown_latency: list = []
        self.history: list[dict] = []
        self._progress = (0, 0)
        self._loss_sum = 0.0

    @property
    def progress(self) -> tuple:
        """(epoch, position in the epoch) that `fit` has reached."""
        return self._progress

    @property
    def sizes(self) -> list[int]:
        return [self.net.populations[k].n for k in [self.source] + self.layers]

    # -- weights ---------------------------------------------------------------------------
    def _matrices(self) -> dict:
        return weights(self.sim)

    @property
    def unit(self) -> float:
        """Float weight of one stored unit (fixed point: a mantissa unit in threshold units)."""
        if not self.fixed:
            return 1.0
        lp = self.sim.plastic
        return 2.0 ** (lp.wexp + VTH_SHIFT) / lp.theta

    @property
    def weights(self) -> list[np.ndarray]:
        """Float weights (n_post, n_pre) of the forward projections, in chain order."""
        got = self._matrices()
        return [got[p.name] * self.unit for p in chain(self.net)[2]]

    @property
    def int_weights(self) -> list[np.ndarray]:
        if not self.fixed:
            raise RuleError("int_weights: the learner is in float mode")
        got = self._matrices()
        return [_rint(got[p.name]) for p in chain(self.net)[2]]

    def to_network(self, reset: str = "subtract") -> Network:
        """The network with its learned weights (reset="zero": Lava's reset, for the Lava
        export; not the network that learned)."""
        if reset not in ("subtract", "zero"):
            raise RuleError(f"to_network: reset must be 'subtract' or 'zero', got {reset!r}")
        got = self._matrices()
        net = Network()
        slices = index(self.net)[0]
        for name, pop in self.net.populations.items():
            kw = {"reset": reset} if name in self.layers else {}
            if name in self.layers and isinstance(self.rule, EventDriven):
                kw.update(self._thresholds(name, slices[name]))
            net.add(type(pop)(**{**_fields(pop), **kw}))
        for proj in self.net.projections:
            w = _rint(got[proj.name]) if self.fixed else got[proj.name]
            net.connect(proj.pre, proj.post, w, weight_exp=proj.weight_exp, num_weight_bits=proj.num_weight_bits,
                        name=proj.name)
        return net

    def _thresholds(self, name: str, rows: slice) -> dict:
        """A population's adapted thresholds as neuron parameters (vth, and v_sub if the
        reset subtracts them); fixed point needs them on the vth << 6 grid."""
        thr = self.sim.program.vth[rows]
        if self.fixed:   # LoihiLIF holds one vth mantissa per population
            if np.any(thr != thr[0]) or thr[0] % (1 << VTH_SHIFT):
                raise RuleError(f"to_network: population {name!r} has adapted thresholds {thr.min()} .. {thr.max()}; "
                                f"a LoihiLIF population holds one vth << {VTH_SHIFT}; run the learner itself "
                                "(predict, readout) instead")
            thr = int(thr[0]) >> VTH_SHIFT
        else:
            thr = thr.astype(np.float64)
        return {"vth": thr, "v_sub": thr} if self.net.populations[name].reset == "subtract" else {"vth": thr}

    # -- learning and inference ------------------------------------------------------------------
    def _check(self, X) -> np.ndarray:
        X = np.asarray(X)
        n = self.sizes[0]
        if X.ndim != 3 or X.shape[2] != n or X.shape[1] < 1:
            raise RuleError(f"samples must be (samples, T, {n}) spikes, got shape {X.shape}")
        if X.dtype.kind == "f" and not np.all(np.isfinite(X)):
            raise RuleError("input has NaN or infinite values")
        if not np.all((X == 0) | (X == 1)):
            raise RuleError("the chip takes spike inputs (0/1) only; encode currents as spikes")
        return X

    def learn_samples(self, X, Y) -> np.ndarray:
        """Learn the samples in order; returns their losses."""
        Y = np.asarray(Y)
        C = self.sizes[-1]
        bad = Y[(Y < 0) | (Y >= C)]
        if len(bad):
            raise RuleError(f"label {bad[0]} is outside [0, {C})")
        res = learn(self.sim, self._check(X), Y)
        self.learn_counts += res.learn_counters
        self.infer_counts += res.infer_counters
        self.sample_ns += res.sample_ns.sum(0)
        self.samples_learned += len(res.losses)
        self.unknown_latency = res.unknown_latency
        return res.losses

    def learn_sample(self, x, y: int) -> float:
        return float(self.learn_samples(np.asarray(x)[None], [y])[0])

    def readout(self, X) -> np.ndarray:
        """(samples, T, C) readout of each logical step, inference only (not counted): o of
        OTTT's memoryless readout; the event-driven rules' readout spikes, weighted (T - t) / T
        for STD-ED."""
        X = self._check(X)
        L, T = len(self.layers), X.shape[1]
        out = self.layers[-1]
        if isinstance(self.rule, EventDriven):
            res = self.sim.run_samples([{self.source: x} for x in X], steps=T + L, record=["spikes"],
                                       populations=[out])
            s = res.spikes[out][:, L:L + T].astype(np.float64)
            return s * ((T - np.arange(T)) / T)[:, None] if self.rule.kind == "STD-ED" else s
        res = self.sim.run_samples([{self.source: x} for x in X], steps=T + L, record=["v"], populations=[out])
        v = res.v[out][:, L:L + T].astype(np.float64)
        return v / self.sim.plastic.theta if self.fixed else v

    def predict(self, X) -> np.ndarray:
        return self.readout(X).sum(1).argmax(1)

    def accuracy(self, X, Y) -> float:
        return float(np.mean(self.predict(X) == np.asarray(Y)))

    def fit(self, X, Y, epochs: int, *, eval_set=None, checkpoint=None, checkpoint_every: int = 0,
            stop_after: int | None = None, progress: bool = False) -> list[dict]:
        """Learn for `epochs` epochs (order: a permutation seeded by seed and epoch), from
        where a restored checkpoint stopped. Every `checkpoint_every` samples (and at each
        epoch end) the state is saved to `checkpoint`. `stop_after` stops after that many
        samples (an interruption, for tests). Returns the history."""
        X, Y = self._check(X), np.asarray(Y)
        if len(X) != len(Y) or len(X) == 0:
            raise RuleError(f"fit: {len(X)} samples and {len(Y)} labels")
        epoch, pos = self._progress
        done = 0
        bar = tqdm(total=epochs * len(X), initial=epoch * len(X) + pos, desc=self.rule.label, unit="sample",
                   disable=not progress)
        while epoch < epochs:
            order = np.random.default_rng([self.seed, epoch]).permutation(len(X))
            while pos < len(X):
                chunk = len(X) - pos
                for limit in (checkpoint_every and checkpoint and checkpoint_every - pos % checkpoint_every,
                              None if stop_after is None else stop_after - done):
                    chunk = min(chunk, limit) if limit else chunk
                idx = order[pos:pos + chunk]
                for loss in self.learn_samples(X[idx], Y[idx]):  # one by one: the sum does not depend on chunks
                    self._loss_sum += float(loss)
                pos, done = pos + chunk, done + chunk
                bar.update(chunk)
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

    # -- counts ------------------------------------------------------------------------------------
    def counts(self, phase: str = "learn") -> dict:
        """Totals per event kind over the samples learned: phase "learn" (the learning
        phases: traces, errors, their packets and hops, weight writes) or "infer" (the
        forward pass of those samples)."""
        if phase == "learn":
            return dict(zip(ALL_EVENTS, (int(v) for v in self.learn_counts.sum(0))))
        return dict(zip(EVENTS, (int(v) for v in self.infer_counts.sum(0))))

    def state_bytes(self, T: int) -> int:
        """Bytes of learning state held on the cores for samples of T steps (traces,
        surrogates, errors, tags; not the weights): constant in T but for BPTT-SG, which
        stores every step's spike bits, surrogates and readout errors."""
        lp = self.sim.plastic
        tags = len(self.sim.tag) * self.chip.core.tag_bits // 8 if self.plasticity.rule != OTTT_O else 0
        stored = int(((T * lp.step_state_bits + 7) // 8).sum())
        return int(lp.state_bytes.sum()) + tags + stored

    def latency_us(self) -> dict:
        """Mean per sample learned: forward steps, learning phases and whole steps, in µs."""
        n = max(1, self.samples_learned)
        return dict(zip(("forward_us", "learning_us", "total_us"), (self.sample_ns / n / 1e3).tolist()))

    # -- checkpoints -------------------------------------------------------------------------------
    _ARRAYS = ("syn_w", "fb_w", "vth", "sub", "steps_learned", "learn_counts", "infer_counts", "sample_ns")

    def _identity(self) -> dict:
        """What a checkpoint must match to be resumed here: the run's configuration."""
        return dict(rule=type(self.rule).__name__, rule_args=asdict(self.rule), seed=self.seed, chip=self.chip.name,
                    config=self.config, sizes=self.sizes, projections=[p.name for p in self.net.projections],
                    fingerprint=_fingerprint(self.net))

    def _arrays(self) -> dict:
        p = self.sim.program   # vth, sub: the event-driven rules' adapted thresholds
        return dict(syn_w=p.syn_w, fb_w=self.sim.plastic.fb_w, vth=p.vth, sub=p.sub, steps_learned=self.sim.steps_learned,
                    learn_counts=self.learn_counts, infer_counts=self.infer_counts, sample_ns=self.sample_ns)

    def save(self, path) -> None:
        """Everything needed to resume bit-identically, written atomically through a
        temporary file of its own (a checkpoint is never half written)."""
        meta = dict(identity=self._identity(), progress=list(self._progress), loss_sum=self._loss_sum,
                    history=self.history, samples_learned=self.samples_learned,
                    options=getattr(self, "options", None))   # the caller's record (e.g. neurochip learn's options)
        save_npz_atomic(path, RuleError, meta=np.array(json.dumps(meta)), **self._arrays())

    def owns(self, path) -> bool:
        """True if `path` is a checkpoint of this same run configuration (resumable here)."""
        try:
            return _read(path)[0]["identity"] == json.loads(json.dumps(self._identity()))
        except RuleError:
            return False

    def restore(self, path) -> None:
        """Continue from a checkpoint `save` wrote for this same configuration (rule, seed,
        network, chip). Anything else, or a damaged file, raises RuleError naming the file
        and what differs; the learner is then unchanged."""
        meta, arrays = _read(path)
        mine = json.loads(json.dumps(self._identity()))
        theirs = meta.get("identity", {})
        if theirs != mine:
            diff = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
            raise RuleError(f"{path}: a checkpoint of another run (it differs in {', '.join(diff)}: "
                            + "; ".join(f"{k} {theirs.get(k)!r} there, {mine.get(k)!r} here" for k in diff[:3])
                            + "); resume with the options it was started with, or choose another checkpoint")
        for k, want in self._arrays().items():
            got = arrays[k]
            if got.shape != want.shape or got.dtype != want.dtype:
                raise RuleError(f"{path}: array {k!r} is {got.dtype} {got.shape}, expected {want.dtype} {want.shape}; "
                                "the checkpoint is damaged")
            if got.dtype.kind == "f" and not np.all(np.isfinite(got)):
                raise RuleError(f"{path}: array {k!r} holds NaN or inf; the checkpoint is damaged")
            if k in ("steps_learned", "learn_counts", "infer_counts", "sample_ns") and np.any(got < 0):
                raise RuleError(f"{path}: array {k!r} holds a negative count ({got.min()}); the checkpoint is damaged")
        if self.fixed and np.any(arrays["fb_w"] != np.rint(arrays["fb_w"])):
            raise RuleError(f"{path}: feedback weights off the integer grid; the checkpoint is damaged")
        if self.fixed and len(arrays["syn_w"]) and not W_MIN <= arrays["syn_w"].min() <= arrays["syn_w"].max() <= W_MAX:
            raise RuleError(f"{path}: weights {arrays['syn_w'].min()} .. {arrays['syn_w'].max()} outside the 8-bit "
                            f"mantissa range [{W_MIN:g}, {W_MAX:g}]; the checkpoint is damaged")
        progress, loss_sum, history, learned = _progress_of(path, meta)
        for k, want in self._arrays().items():
            want[...] = arrays[k]
        self._progress, self._loss_sum, self.history, self.samples_learned = progress, loss_sum, history, learned

    @classmethod
    def load(cls, path, **kw) -> "Learner":
        """A learner built from the configuration a checkpoint of `Learner(sizes, ...)` holds,
        restored to it (`kw`: `chip`, as when it was saved)."""
        meta, _ = _read(path)
        try:
            ident = meta["identity"]
            cfg = ident["config"]
            rule = {"EventDriven": EventDriven, "BPTT": BPTT}.get(ident["rule"], OTTT)(**ident["rule_args"])
            if cfg.get("network"):
                raise RuleError(f"{path}: the checkpoint of a network brought by the user; build the learner with "
                                "Learner.from_network(net, rule) and call restore(path)")
            if any(n is not None for n in cfg.get("sparse", [])):
                raise RuleError(f"{path}: the checkpoint of a network with sparse projections (e.g. an unrolled "
                                "convolution); build the learner with the same weights and call restore(path)")
            self = cls(cfg["sizes"], rule, fixed=cfg["fixed"], lam=cfg["lam"], theta=cfg["theta"],
                       fmt=Format(**cfg["fmt"]), seed=ident["seed"], init_gain=cfg["init_gain"],
                       recurrent=cfg["recurrent"], per_core=cfg["per_core"], **kw)
        except (KeyError, TypeError) as e:
            raise RuleError(f"{path}: not a neurochip learning checkpoint (its configuration lacks {e})") from None
        except RuleError:
            raise
        except (NetworkError, ValueError, AttributeError) as e:   # a configuration no learner can be built from
            raise RuleError(f"{path}: the checkpoint's configuration is damaged ({e})") from None
        self.restore(path)
        return self


def checkpoint_options(path) -> dict:
    """What the run that wrote checkpoint `path` recorded of its options (`Learner.options`,
    e.g. neurochip learn's); {} if it recorded none. RuleError if the file is not a checkpoint."""
    opts = _read(path)[0].get("options")
    if opts is not None and not isinstance(opts, dict):
        raise RuleError(f"{path}: its recorded options are a {type(opts).__name__}, not a table; the checkpoint is "
                        "damaged")
    return opts or {}


def _progress_of(path, meta: dict) -> tuple:
    """(progress, loss_sum, history, samples_learned) of a checkpoint's metadata, checked."""
    def bad(what):
        return RuleError(f"{path}: its metadata {what}; the checkpoint is damaged")

    def count(v):
        return isinstance(v, int) and not isinstance(v, bool) and v >= 0

    progress, loss_sum = meta.get("progress"), meta.get("loss_sum")
    history, learned = meta.get("history"), meta.get("samples_learned")
    if not (isinstance(progress, list) and len(progress) == 2 and all(count(v) for v in progress)):
        raise bad(f"'progress' is {progress!r}, not [epoch, sample] of two whole numbers >= 0")
    if isinstance(loss_sum, bool) or not isinstance(loss_sum, (int, float)) or not np.isfinite(loss_sum):
        raise bad(f"'loss_sum' is {loss_sum!r}, not a finite number")
    if not (isinstance(history, list) and all(isinstance(r, dict) for r in history)):
        raise bad(f"'history' is {_short(history)}, not a list of epoch records")
    if not count(learned):
        raise bad(f"'samples_learned' is {learned!r}, not a whole number >= 0")
    if meta.get("options") is not None and not isinstance(meta["options"], dict):
        raise bad(f"'options' is {_short(meta['options'])}, not a table of the run's options")
    return tuple(progress), float(loss_sum), history, learned


def _short(v) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _read(path) -> tuple[dict, dict]:
    where = f"{path}: not a neurochip learning checkpoint"
    try:
        with np.load(path, allow_pickle=False) as d:
            if "meta" not in d.files:
                raise RuleError(f"{where} (no 'meta' entry; it has {d.files})")
            meta = json.loads(str(d["meta"]))
            arrays = {k: d[k] for k in Learner._ARRAYS if k in d.files}
    except RuleError:
        raise
    except FileNotFoundError:
        raise RuleError(f"{path}: no such checkpoint file") from None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error, AttributeError) as e:
        raise RuleError(f"{where} ({type(e).__name__}: {e}); it may be truncated or damaged") from None
    missing = [k for k in Learner._ARRAYS if k not in arrays]
    if missing or not isinstance(meta, dict):
        raise RuleError(f"{where}: missing {missing or 'its metadata'}")
    return meta, arrays


def _fields(pop) -> dict:
    return {f.name: getattr(pop, f.name) for f in fields(pop)}


def _fingerprint(net: Network) -> str:
    """A hash of a network's description (populations, parameters, projection shapes)."""
    h = hashlib.sha256()
    for name, pop in net.populations.items():
        h.update(f"{name}:{type(pop).__name__}:{sorted((k, repr(v)) for k, v in _fields(pop).items())}".encode())
    for p in net.projections:
        h.update(f"{p.name}:{p.shape}:{p.weight_exp}:{p.num_weight_bits}".encode())
    return h.hexdigest()


def learning_profile() -> Profile:
    """Loihi's published costs (Davies et al. 2018), unknown learning costs from Horowitz 2014."""
    return Profile.preset("loihi1_davies2018").filled(Profile.preset("horowitz45nm"))
