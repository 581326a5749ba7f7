"""Emulations of lava-nc 0.10's learning engine (`LearningDense`): the references the Lava
export of learning rules is checked against (tests/test_lava_learning*.py,
tests/test_loihi_rule.py); the neurons are the chip's LIF kernel.

Float (`simulate`): reproduces the floating-point semantics of lava-nc 0.10's
`PyLearningDenseModelFloat` step for step (spike-time recording within an epoch, trace
histories, the order of the spiking and learning phases), for a plastic projection from
spike inputs onto float LIF neurons whose spikes are the back-propagating action potential.
The neurons (here and in `rules.loihi_fixed`) are the chip's LIF kernel.

Fixed point (`simulate_fixed`): `simulate_fixed` reproduces `PyLearningDenseModelBitApproximate` (lava/proc/dense/models.py, on
`LearningConnectionModelBitApproximate` in lava/magma/core/model/py/connection.py and
`LearningRuleApplierBitApprox` in lava/magma/core/learning/learning_rule_applier.py) driving
Lava's fixed-point LIF (`PyLifModelBitAcc`), **bit-exactly**, random streams included. It is
bit-exact rather than "same distribution" because Lava's random streams are fully determined:
numpy `default_rng` generators with fixed seeds, a known number of draws per step, and ONE scalar
draw shared by every trace / synapse (no per-synapse or per-process entropy). We create the same
generators with the same seeds and draw in the same order (tests/test_lava_learning_fixed.py
checks equality of the final integer weights and of every post spike against Lava, per seed).

Random streams (lava/magma/core/learning/random.py), for `rng_seed = seed` of the learning rule:
- x traces: `TraceRandom(decay seed = seed, impulse seed = seed + 1)`; y traces: seeds
  seed + 2, seed + 3. Decay draws are `rng.random(1)[0]` in [0, 1); impulse draws are
  `rng.integers(0, 2**7)` (W_TRACE = 7). One draw each at construction, then `advance()` draws
  one more of each TWICE per time step (after the pre spikes and after the post spikes).
- synaptic variables: `ConnVarRandom(seed = 2)`, **fixed, independent of rng_seed**; one draw
  at construction and one more at the start of every learning phase. So the weight rounding
  stream is the same for every rng_seed; only the trace rounding changes with the seed.

Per time step t (1-based; ts = t mod t_epoch, or t_epoch):
- LIF: the chip's kernel of `LoihiLIF` (DESIGN.md), reset to zero, on the activation `a` the
  projection buffered at step t - 1.
- Projection: at the first step the weights are truncated once (`truncate_weights`, as
  `effective_weights`); never again (learned weights keep all 8 bits). a = (W @ s_pre) << weight_exp
  (>> -weight_exp, floor, if negative).
- Pre spikes: a pre neuron already spiking in this epoch (tx > 0) gets its x1, x2 impulse now:
  x = clip(x + I_int + [0 < I_frac], 0, 127), I_int = floor(I), I_frac = round(frac(I) 2^8).
  tx = ts. Then both trace streams advance.
- Post spikes: likewise with the y impulse draw r_y: y = clip(y + I_int + [r_y < I_frac], 0, 127)
  (r_y in [0, 128) against I_frac in [0, 256): Lava's own scale mismatch, reproduced).
  ty = ts. Then both trace streams advance.
- Learning phase (t mod t_epoch = 0): the synaptic stream advances (draw r_w); x0 = tx > 0,
  y0 = ty > 0. Trace histories h[0] = trace, for k = 1..t_epoch:
  h[k] = floor(exp(-1/tau) h[k-1]) + [r_decay < frac(exp(-1/tau) h[k-1])] (0 if tau = 0),
  then + impulse (rounded with r_impulse as above, clipped to 7 bits) where the spike time is k.
  The same two draws (the stream's current values) serve every trace and every k of the epoch.
  Traces become h[t_epoch]; factors are read at the dependency's spike time (h[tx], h[ty],
  h[t_epoch] for u0).
- Each target (w, t) in 16-bit signed accumulator units: acc = var << 7 (7 = W_ACCUMULATOR_S 16
  - W_SYN_VAR_S 9). Each product with Lava's scaling m * 2^e (|m| < 8; Lava halves even
  mantissas > 7, e in [-7, 8]) gives, in int32, p = dep * prod_f clip(f, -2^wf, 2^wf - 1) * m,
  wf = 7 for traces, 9 for w and t; p >>= max(0, sum(wf) + 4 - 15); p <<= e + 7;
  p = clip(p, -2^15 - 1, 2^15 - 1); acc = clip(acc + p, -2^15 - 1, 2^15 - 1).
  Then sign mode (excitatory: max(acc, 0); inhibitory: min(acc, 0); weights only), stochastic
  rounding to the 8-bit grid with the single draw r_w: q = acc / 2^7, q = floor(q) + [r_w < frac(q)],
  var = q (i.e. (q 2^7) >> 7), saturated: weights to [-256, 255] (mixed), [0, 255], [-255, 0];
  tag to [-257, 255]. All targets use the traces/weights from before this phase. Then tx = ty = 0.

With 1-bit dependencies and 7-bit traces a one-trace product needs no right shift (7 + 4 <= 15),
so for STDP dw = m 2^e * trace exactly, in units of 2^-7 weight LSB, before the stochastic rounding.
"""
from fractions import Fraction

import numpy as np

from neurochip.chip.kernels import SPIKED, lif_fixed_update, lif_float_update
from neurochip.model.fixed import effective_weights, shift, weight_range
from neurochip.model.neurons import FloatLIF, LoihiLIF
from neurochip.rules.loihi_rule import LoihiRule
from neurochip.rules.rule import RuleError

THIRD_FACTOR_TAU = 2**16 - 1  # Loihi3FLearningRule's fixed decay of the y traces between learning phases

W_TRACE = 7
W_TRACE_FRAC = 8
W_ACC_U = 15
SHIFT = 7  # W_ACCUMULATOR_S (16) - W_SYN_VAR_S (9): synaptic variable -> accumulator
W_S_MANT = 4
FACTOR_WIDTH = {"x1": 7, "x2": 7, "y1": 7, "y2": 7, "y3": 7, "w": 9, "t": 9}
ACC_MIN, ACC_MAX = -(2**W_ACC_U) - 1, 2**W_ACC_U - 1
SIGN_MODES = ("mixed", "excitatory", "inhibitory")


def lava_scaling(coef) -> tuple[int, int]:
    """(mantissa, exponent) Lava's ProductSeries keeps for `coef` (m * 2**e, |m| < 8)."""
    f = Fraction(coef)
    e = -(f.denominator.bit_length() - 1)
    m = f.numerator
    while abs(m) > 7 and m % 2 == 0 and e < 8:
        m, e = m // 2, e + 1
    if not -8 <= m < 8 or not -7 <= e < 9:
        raise RuleError(f"coefficient {coef}: Lava's fixed-point engine needs m * 2**e with -8 <= m < 8 and "
                        f"-7 <= e <= 8 (got m={m}, e={e}); use a power-of-two learning rate")
    return m, e


class _Stream:
    """Lava's scalar draws: `rng.random(1)[0]` or `rng.integers(0, 2**7, size=1, dtype=int)[0]`."""

    def __init__(self, seed, kind):
        self.rng, self.kind = np.random.default_rng(seed), kind
        self.advance()

    def advance(self):
        if self.kind == "float":
            self.value = self.rng.random(1)[0]
        else:
            self.value = self.rng.integers(0, 2**W_TRACE, size=1, dtype=int)[0]


def _impulse_parts(impulses):
    imp = np.asarray(impulses, dtype=float)
    i = np.floor(imp)
    return i.astype(int)[:, None], np.round((imp - i) * 2**W_TRACE_FRAC).astype(int)[:, None]


def _add_impulse(tr, rnd, i_int, i_frac):
    return np.clip((tr + i_int + (rnd < i_frac).astype(int)).astype(int), 0, 2**W_TRACE - 1)


def _decay(tr, taus, rnd):
    d = np.exp(-1 / taus) * tr
    return (np.floor(d) + (rnd < d % 1).astype(int)).astype(int)


def _history(tr, taus, t_spk, E, r_decay, r_imp, i_int, i_frac):
    h = np.zeros((E + 1,) + tr.shape, dtype=int)
    h[0] = tr
    on = taus != 0
    for k in range(1, E + 1):
        h[k][on] = _decay(h[k - 1][on], taus[on][:, None], r_decay)
        ids = np.where(t_spk == k)[0]
        h[k][:, ids] = _add_impulse(h[k][:, ids], r_imp, i_int, i_frac)
    return h


def _apply(products, acc, dep, at, W, tag):
    shape = acc.shape
    for p in products:
        m, e = lava_scaling(p.coef)
        cur = np.ones(shape, dtype=np.int32)
        cur *= dep[p.dependency]
        width = W_S_MANT
        for f in p.factors:
            wf = FACTOR_WIDTH[f]
            width += wf
            val = W if f == "w" else tag if f == "t" else at[p.dependency][f]
            cur *= np.clip(val, -(2**wf), 2**wf - 1).astype(np.int32)
        cur *= m
        cur = np.right_shift(cur, max(0, width - W_ACC_U))
        cur = np.left_shift(cur, e + 7)
        cur = np.clip(cur, ACC_MIN, ACC_MAX)
        acc = np.clip(acc + cur, ACC_MIN, ACC_MAX)
    return acc


def _round(acc, r_w):
    q = acc / 2**SHIFT
    q = np.floor(q) + (r_w < q % 1).astype(int)
    return ((q * 2**SHIFT).astype(acc.dtype)) >> SHIFT


def simulate_fixed(rule: LoihiRule, weights_int, x, *, du, dv, vth, bias_mant=0, bias_exp=0, num_weight_bits=8,
                   weight_exp=0, seed=0, sign_mode="mixed"):
    """Run a plastic projection (integer weights (n_post, n_pre)) from spike inputs x (steps,
    n_pre) onto Lava's fixed-point LIF neurons, as lava-nc 0.10's `LearningDense` in
    `Loihi2SimCfg(select_tag="fixed_pt")` with the learning rule's `rng_seed=seed` and the
    projection's `sign_mode` (Lava's LearningDense defaults to mixed whatever the weights).
    Bit-exact with Lava (see the module doc for every equation, width and shift).
    Returns (weights, tag, post spikes), weights and tag as int arrays."""
    if rule.third_factor:
        raise RuleError(f"{rule.name}: simulate_fixed runs two-factor rules (the bAP from a LIF); "
                        "third-factor rules need the neuron process that sends y1..y3")
    if sign_mode not in SIGN_MODES:
        raise RuleError(f"sign_mode must be one of {SIGN_MODES}, got {sign_mode!r}")
    for p in rule.dw + rule.dt:
        lava_scaling(p.coef)
    W = np.array(weights_int)
    if not np.issubdtype(W.dtype, np.integer):
        if not np.array_equal(W, np.round(W)):
            raise RuleError("weights_int must be integers (Lava's fixed-point weights)")
        W = W.astype(np.int64)
    x = np.asarray(x, dtype=bool)
    steps, n_pre = x.shape
    n_post = W.shape[0]
    if W.shape[1] != n_pre:
        raise RuleError(f"weights {W.shape} do not match inputs with {n_pre} channels")
    lo, hi = weight_range(sign_mode)
    if W.size and not lo <= W.min() <= W.max() <= hi:
        raise RuleError(f"weights_int lie in [{W.min()}, {W.max()}]; {sign_mode} 8-bit mantissas are in [{lo}, {hi}]")
    W = effective_weights(W, num_weight_bits, sign_mode).astype(np.int32)  # Lava truncates once, at its first step
    tag = np.zeros(W.shape, dtype=np.int64)
    x_dec, x_imp = _Stream(seed, "float"), _Stream(seed + 1, "int")
    y_dec, y_imp = _Stream(seed + 2, "float"), _Stream(seed + 3, "int")
    w_rnd = _Stream(2, "float")
    xi_int, xi_frac = _impulse_parts([rule.x1_impulse, rule.x2_impulse])
    yi_int, yi_frac = _impulse_parts([rule.y1_impulse, rule.y2_impulse, rule.y3_impulse])
    xt = np.array([rule.x1_tau, rule.x2_tau], dtype=float)
    yt = np.array([rule.y1_tau, rule.y2_tau, rule.y3_tau], dtype=float)
    xtr, ytr = np.zeros((2, n_pre), int), np.zeros((3, n_post), int)
    tx, ty = np.zeros(n_pre, int), np.zeros(n_post, int)
    post = PostNeurons(LoihiLIF(n_post, du=du, dv=dv, vth=vth, bias_mant=bias_mant, bias_exp=bias_exp, name="post"))
    a_buff = np.zeros(n_post, np.int64)
    spikes = np.zeros((steps, n_post), bool)
    E = rule.t_epoch
    for step in range(1, steps + 1):
        s_post = spikes[step - 1] = post.step(a_buff)  # PyLifModelBitAcc, as the chip's kernel
        # projection: buffer this step's input
        s_pre = x[step - 1]
        a_buff = shift(W[:, s_pre].astype(np.int64).sum(axis=1), weight_exp)
        ts = step % E or E
        multi = (tx > 0) & s_pre
        xtr[:, multi] = _add_impulse(xtr[:, multi], 0, xi_int, xi_frac)
        tx[s_pre] = ts
        for s in (x_dec, x_imp, y_dec, y_imp):
            s.advance()
        multi = (ty > 0) & s_post
        ytr[:, multi] = _add_impulse(ytr[:, multi], y_imp.value, yi_int, yi_frac)
        ty[s_post] = ts
        for s in (x_dec, x_imp, y_dec, y_imp):
            s.advance()
        if step % E:
            continue
        # learning phase
        w_rnd.advance()
        x0, y0 = tx > 0, ty > 0
        xh = _history(xtr, xt, tx, E, x_dec.value, x_imp.value, xi_int, xi_frac)
        yh = _history(ytr, yt, ty, E, y_dec.value, y_imp.value, yi_int, yi_frac)
        xtr, ytr = xh[-1].copy(), yh[-1].copy()
        at = traces_at(xh, yh, tx, ty)
        dep = {"x0": x0[None, :], "y0": y0[:, None], "u0": 1}
        W_old, tag_old = W, tag
        if rule.dw:
            accw = _apply(rule.dw, W_old << SHIFT, dep, at, W_old, tag_old)
            if sign_mode == "excitatory":
                accw = np.maximum(0, accw)
            elif sign_mode == "inhibitory":
                accw = np.minimum(0, accw)
            wq = _round(accw, w_rnd.value)
            W = np.clip(wq, lo, hi).astype(np.int32)
        if rule.dt:
            acct = _apply(rule.dt, tag_old << SHIFT, dep, at, W_old, tag_old)
            tag = np.clip(_round(acct, w_rnd.value), -(2**8) - 1, 2**8 - 1)
        tx[:] = 0
        ty[:] = 0
    return W.astype(np.int64), tag, spikes


class PostNeurons:
    """The postsynaptic population of a plastic projection (a `FloatLIF` or `LoihiLIF`, reset
    to zero), stepped by the chip's LIF kernel; `u` and `v` are its state."""

    def __init__(self, pop):
        dtype = np.int64 if pop.fixed_point else np.float64
        self.kernel = lif_fixed_update if pop.fixed_point else lif_float_update
        arrays = pop.kernel_arrays()
        self.params = [np.full(pop.n, arrays[k], dtype) for k in ("du_fac", "dv_fac", "bias", "vth", "sub")]
        self.u, self.v, self.dend = np.zeros(pop.n, dtype), np.zeros(pop.n, dtype), np.zeros((1, pop.n), dtype)
        self.flags = np.zeros(pop.n, np.uint8)

    def step(self, a) -> np.ndarray:
        """One update with input a (what the projection buffered at the step before); the spikes."""
        self.dend[0] = a
        self.kernel(0, self.dend, self.u, self.v, *self.params, self.flags)
        return (self.flags & SPIKED) != 0


def _evaluate(products, dep, traces_at, w, tag, u):
    total = 0.0
    for p in products:
        term = p.coef * (dep[p.dependency] if p.dependency != "u0" else u)
        for f in p.factors:
            term = term * (w if f == "w" else tag if f == "t" else traces_at[p.dependency][f])
        total = total + term
    return total


def traces_at(xh, yh, tx, ty) -> dict:
    """Each trace as a product sees it: x0 terms at every presynaptic spike time of the epoch,
    y0 terms at every postsynaptic one, u0 terms at the epoch's end (xh, yh: the epoch's
    trace histories (E + 1, traces, neurons); tx, ty: spike times within it, 0 for none)."""
    return {
        "x0": {"x1": xh[tx, 0].diagonal()[None, :], "x2": xh[tx, 1].diagonal()[None, :],
               "y1": yh[tx, 0].T, "y2": yh[tx, 1].T, "y3": yh[tx, 2].T},
        "y0": {"x1": xh[ty, 0], "x2": xh[ty, 1], "y1": yh[ty, 0].diagonal()[:, None],
               "y2": yh[ty, 1].diagonal()[:, None], "y3": yh[ty, 2].diagonal()[:, None]},
        "u0": {"x1": xh[-1, 0][None, :], "x2": xh[-1, 1][None, :], "y1": yh[-1, 0][:, None],
               "y2": yh[-1, 1][:, None], "y3": yh[-1, 2][:, None]},
    }


def simulate(rule: LoihiRule, weights, x, *, du=1.0, dv=0.0, vth=1.0, bias=0.0, third=None, sign_mode="mixed"):
    """Run a plastic projection (weights (n_post, n_pre)) from spike inputs x (steps, n_pre)
    onto float LIF neurons (`FloatLIF`, Lava's floating_pt LIF: u = u (1 - du) + a; v = v (1 - dv)
    + u + bias; spike if v > vth; v = 0), the post spikes fed back as bAP; `third(t, s_post, u)`
    gives the (y1, y2, y3) arrays a third-factor neuron sends at step t (u: its input current).
    Returns (weights, tag, post spikes)."""
    W = np.array(weights, dtype=np.float64)
    x = np.asarray(x, dtype=bool)
    steps, n_pre = x.shape
    n_post = W.shape[0]
    if W.shape[1] != n_pre:
        raise RuleError(f"weights {W.shape} do not match inputs with {n_pre} channels")
    tag = np.zeros_like(W)
    xtr, ytr = np.zeros((2, n_pre)), np.zeros((3, n_post))
    xi = np.array([rule.x1_impulse, rule.x2_impulse])[:, None]
    yi = np.array([rule.y1_impulse, rule.y2_impulse, rule.y3_impulse])[:, None]
    xt = np.array([rule.x1_tau, rule.x2_tau])
    yt = np.array([rule.y1_tau, rule.y2_tau, rule.y3_tau])
    if rule.third_factor:  # the neuron owns y1..y3; the engine only decays them (Lava: tau 2**16 - 1)
        yi, yt = np.zeros((3, 1)), np.full(3, float(THIRD_FACTOR_TAU))
    tx, ty = np.zeros(n_pre, int), np.zeros(n_post, int)
    post, a_buff = PostNeurons(FloatLIF(n_post, du=du, dv=dv, vth=vth, bias=bias, name="post")), np.zeros(n_post)
    spikes = np.zeros((steps, n_post), bool)
    E = rule.t_epoch
    for step in range(1, steps + 1):
        s_post = spikes[step - 1] = post.step(a_buff)  # the activation the projection buffered last step
        # projection: buffer this step's input, record spike times within the epoch
        s_pre = x[step - 1]
        a_buff = W[:, s_pre].sum(axis=1)
        ts = step % E or E
        multi = (tx > 0) & s_pre
        xtr[:, multi] += xi
        tx[s_pre] = ts
        multi = (ty > 0) & s_post
        if rule.third_factor:  # Lava adds impulses, then overwrites y1..y3 with the neuron's values
            ytr[:] = np.stack(third(step - 1, s_post, post.u.copy())) if third else 0.0
        else:
            ytr[:, multi] += yi
        ty[s_post] = ts
        if step % E:
            continue
        # learning phase: trace histories over the epoch, then the rules, then reset
        x0, y0 = tx > 0, ty > 0
        xh = np.full((E + 1, 2, n_pre), np.nan)
        yh = np.full((E + 1, 3, n_post), np.nan)
        xh[0], yh[0] = xtr, ytr
        for t in range(1, E + 1):
            xh[t][xt != 0] = np.exp(-1.0 / xt[xt != 0])[:, None] * xh[t - 1][xt != 0]
            yh[t][yt != 0] = np.exp(-1.0 / yt[yt != 0])[:, None] * yh[t - 1][yt != 0]
            xh[t][:, tx == t] += xi
            yh[t][:, ty == t] += yi
        xtr = xh[-1].copy()
        if not rule.third_factor:
            ytr = yh[-1].copy()
        at = traces_at(xh, yh, tx, ty)
        dep = {"x0": x0[None, :], "y0": y0[:, None]}
        W_old, tag_old = W, tag  # every rule sees the synaptic variables of before the phase, as in Lava
        if rule.dw:
            W = W_old + _evaluate(rule.dw, dep, at, W_old, tag_old, 1)
            if sign_mode == "excitatory":
                W = np.maximum(W, 0)
            elif sign_mode == "inhibitory":
                W = np.minimum(W, 0)
        if rule.dt:
            tag = tag_old + _evaluate(rule.dt, dep, at, W_old, tag_old, 1)
        tx[:] = 0
        ty[:] = 0
    return W, tag, spikes
