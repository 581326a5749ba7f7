"""Loihi's learning engine as data, and a float emulation of it (Lava's `LearningDense`).

A rule is a sum of products, each a coefficient times a dependency times trace factors:

    dw = sum_k  c_k * D_k * f_k1 * f_k2 ...      (dt, the tag, the same way)

D is x0 (evaluated at each presynaptic spike of the epoch), y0 (at each postsynaptic
spike) or u0 (once per epoch); factors are the traces x1, x2 (pre), y1, y2, y3 (post),
evaluated at the dependency's spike time, or the synaptic variables w and t (tag).
Coefficients are m * 2**e with an integer mantissa, as Loihi's microcode holds them, so
Lava's string form (`LoihiRule.string`) is exact. Traces: x_k <- exp(-1/tau) x_k each step,
+ impulse at each spike; the learning phase runs every `t_epoch` steps. `third_factor`
rules take y1..y3 from the postsynaptic neuron instead (Lava's Loihi3FLearningRule).

`simulate` reproduces the floating-point semantics of lava-nc 0.10's
`PyLearningDenseModelFloat` step for step (spike-time recording within an epoch, trace
histories, the order of the spiking and learning phases), for a plastic projection from
spike inputs onto float LIF neurons whose spikes are the back-propagating action potential.
The neurons (here and in `rules.loihi_fixed`) are the chip's LIF kernel.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from neurochip.chip.kernels import SPIKED, lif_fixed_update, lif_float_update
from neurochip.model.neurons import FloatLIF
from neurochip.rules.rule import RuleError

DEPENDENCIES = ("x0", "y0", "u0")
THIRD_FACTOR_TAU = 2**16 - 1  # Loihi3FLearningRule's fixed decay of the y traces between learning phases
FACTORS = ("x1", "x2", "y1", "y2", "y3", "w", "t")


@dataclass(frozen=True)
class Product:
    coef: float
    dependency: str
    factors: tuple = ()

    def __post_init__(self):
        if self.dependency not in DEPENDENCIES:
            raise RuleError(f"product {self}: dependency must be one of {DEPENDENCIES}")
        bad = [f for f in self.factors if f not in FACTORS]
        if bad:
            raise RuleError(f"product {self}: unknown factors {bad}; factors are {FACTORS}")
        f = Fraction(self.coef).limit_denominator(2**20)
        if f != Fraction(self.coef) or f.denominator & (f.denominator - 1) or abs(f.numerator) >= 2**8 * f.denominator \
                and f.denominator != 1:
            raise RuleError(f"product {self}: the coefficient must be m * 2**e with an integer mantissa m "
                            f"(Loihi's format), got {self.coef}")

    def string(self) -> str:
        f = Fraction(self.coef)
        e = -(f.denominator.bit_length() - 1)
        coef = f"({f.numerator})" + (f" * 2 ^ {e}" if e else "")
        return " * ".join([coef, self.dependency, *self.factors])


@dataclass(frozen=True)
class LoihiRule:
    """A rule for Loihi's learning engine (see module doc). Impulses and taus per trace;
    tau = 0 keeps a trace off."""

    dw: tuple
    dt: tuple = ()
    x1_impulse: float = 0.0
    x1_tau: float = 0.0
    x2_impulse: float = 0.0
    x2_tau: float = 0.0
    y1_impulse: float = 0.0
    y1_tau: float = 0.0
    y2_impulse: float = 0.0
    y2_tau: float = 0.0
    y3_impulse: float = 0.0
    y3_tau: float = 0.0
    t_epoch: int = 1
    third_factor: bool = False
    name: str = field(default="loihi_rule", compare=False)

    def __post_init__(self):
        if not isinstance(self.t_epoch, int) or self.t_epoch < 1:
            raise RuleError(f"{self.name}: t_epoch must be a positive integer, got {self.t_epoch}")
        for p in self.dw + self.dt:
            if not isinstance(p, Product):
                raise RuleError(f"{self.name}: dw and dt are tuples of Product, got {p!r}")

    def string(self, which: str = "dw") -> str | None:
        products = getattr(self, which)
        return " + ".join(p.string() for p in products) if products else None

    @property
    def label(self) -> str:
        return self.name


def stdp(learning_rate=1.0, A_plus=2**-2, A_minus=-(2**-2), tau_plus=10.0, tau_minus=10.0,
         x1_impulse=16.0, y1_impulse=16.0, t_epoch=1) -> LoihiRule:
    """Pair-based STDP as Lava's `STDPLoihi` writes it:
    dw = lr A_minus x0 y1 + lr A_plus y0 x1 (depression at pre spikes, potentiation at post)."""
    return LoihiRule(dw=(Product(learning_rate * A_minus, "x0", ("y1",)), Product(learning_rate * A_plus, "y0", ("x1",))),
                     x1_impulse=x1_impulse, x1_tau=tau_plus, y1_impulse=y1_impulse, y1_tau=tau_minus,
                     t_epoch=t_epoch, name="STDP")


def r_stdp(learning_rate=1.0, A_plus=2**-2, A_minus=-(2**-2), tau_plus=10.0, x1_impulse=16.0, t_epoch=1) -> LoihiRule:
    """Reward-modulated STDP (Lava's `RewardModulatedSTDP` form): the STDP pairing goes into
    the tag t (an eligibility trace), and dw = u0 t y2 with the reward sent as y2 by the
    postsynaptic neuron (a third-factor rule), which also sends its own post trace y1."""
    return LoihiRule(dw=(Product(1.0, "u0", ("t", "y2")),),
                     dt=(Product(learning_rate * A_minus, "x0", ("y1",)), Product(learning_rate * A_plus, "y0", ("x1",))),
                     x1_impulse=x1_impulse, x1_tau=tau_plus, t_epoch=t_epoch, third_factor=True, name="R-STDP")


# -- float emulation of lava-nc 0.10's LearningDense --------------------------------------------

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
