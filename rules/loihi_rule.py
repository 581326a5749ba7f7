"""Loihi's learning engine as data: the rules Lava's `LearningDense` runs.

A rule is a sum of products, each a coefficient times a dependency times trace factors:

    dw = sum_k  c_k * D_k * f_k1 * f_k2 ...      (dt, the tag, the same way)

D is x0 (evaluated at each presynaptic spike of the epoch), y0 (at each postsynaptic
spike) or u0 (once per epoch); factors are the traces x1, x2 (pre), y1, y2, y3 (post),
evaluated at the dependency's spike time, or the synaptic variables w and t (tag).
Coefficients are m * 2**e with an integer mantissa, as Loihi's microcode holds them, so
Lava's string form (`LoihiRule.string`) is exact. Traces: x_k <- exp(-1/tau) x_k each step,
+ impulse at each spike; the learning phase runs every `t_epoch` steps. `third_factor`
rules take y1..y3 from the postsynaptic neuron instead (Lava's Loihi3FLearningRule).

The Lava export (`neurochip.mapping.lava.learning`) runs these rules in Lava's engine;
tests/reference/lava_learning.py emulates that engine, float and fixed point, bit-exactly.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from neurochip.rules.rule import RuleError

DEPENDENCIES = ("x0", "y0", "u0")
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
