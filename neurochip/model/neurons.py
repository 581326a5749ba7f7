"""Neuron populations: what a population computes, apart from how the kernels run it.

Fields are named as the symbols in the equations of each docstring. Time steps t = 0, 1, ...;
a[t] is the synaptic input that arrives at step t (see `Projection` for when it arrives).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurochip.model.errors import NetworkError
from neurochip.model.fixed import (BIAS_EXP_RANGE, BIAS_MANT_BITS, DECAY_BITS, DECAY_ONE, U_MAX, V_LIMIT, VTH_BITS,
                                   VTH_SHIFT, shift)

NEURON_MODELS: dict = {}
RESETS = ("zero", "subtract")   # what a spike does to v


def register(cls):
    """Add a neuron model to the registry that the network, the compiler and the exporters read."""
    NEURON_MODELS[cls.__name__] = cls
    return cls


class NeuronModel:
    """What every neuron model declares besides its parameters (a dataclass whose docstring
    holds its equations, with fields `n` and `name`):

    on_chip         False for host-side sources (their spikes are injected)
    fixed_point     True (integer state), False (float), None (no state: a source)
    kernel          the chip kernel that updates it: "lif", "b1", "graded" or "graded_relu"
                    (`neurochip.chip.kernels`)
    sends_payloads  True if its spikes are graded: each carries a payload that the synapse
                    multiplies by its weight (only on chips with graded spikes)
    kernel_arrays() per-neuron arrays of that kernel, named as the `Program` fields they fill
                    (lif: du_fac, dv_fac, bias, vth, sub, u0, v0; b1: ramp_start, ramp_steps,
                    ramp_slope, vth)
    float_view()    (du, dv, vth, bias) of the float CUBA LIF that computes the same, for
                    NIR and Lava export
    lava_lif()      the keywords of the Lava process `lava_process` that computes the same, for
                    the Lava exports: LIF (du, dv, vth, bias_mant[, bias_exp], u, v), or
                    GradedVec / GradedReluVec (vth)
    nir_nodes       NIR neuron node types that NIR import turns into this model (given the
                    float LIF fields du, dv, vth, bias, v0, reset, v_sub)
    quantizes_to    the fixed-point model that `quantize` makes of it (from the same LIF fields)
    """

    on_chip = True
    fixed_point: bool | None = None
    kernel = "lif"
    sends_payloads = False
    lava_process = "LIF"
    nir_nodes: tuple = ()
    quantizes_to = None

    def kernel_arrays(self) -> dict:
        raise NotImplementedError

    def float_view(self) -> tuple:
        raise NetworkError(f"population {self.name!r}: {type(self).__name__} has no float LIF equivalent to export")

    def lava_lif(self) -> dict:
        raise NetworkError(f"population {self.name!r}: {type(self).__name__} has no Lava process to export to")


def _check_range(pop: str, name: str, value, lo, hi):
    arr = np.asarray(value)
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise NetworkError(f"population {pop!r}: {name} contains NaN or inf")
    bad = (arr < lo) | (arr > hi)
    if np.any(bad):
        where = np.flatnonzero(np.broadcast_to(bad, arr.shape))[:5] if arr.ndim else []
        raise NetworkError(f"population {pop!r}: {name} must lie in [{lo}, {hi}], got "
                           f"{arr[bad].ravel()[:5].tolist()}" + (f" at neurons {where.tolist()}" if len(where) else ""))


def _check_int(pop: str, name: str, value):
    arr = np.asarray(value)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            raise NetworkError(f"population {pop!r}: {name} contains NaN or inf")
        if np.any(arr != np.round(arr)):
            raise NetworkError(f"population {pop!r}: {name} must be integer for the fixed-point LIF, "
                               f"got non-integer values such as {arr[arr != np.round(arr)].ravel()[:3].tolist()}")
    elif arr.dtype.kind not in "iub":
        raise NetworkError(f"population {pop!r}: {name} must be numeric, got dtype {arr.dtype}")


def _check_reset(pop: str, reset):
    if reset not in RESETS:
        raise NetworkError(f"population {pop!r}: reset must be 'zero' or 'subtract', got {reset!r}")


def _per_neuron(pop: str, name: str, value, n: int, dtype) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim == 0:
        return np.full(n, arr, dtype=dtype)
    if arr.shape != (n,):
        raise NetworkError(f"population {pop!r}: {name} has shape {arr.shape}, expected a scalar or ({n},)")
    return arr.astype(dtype)


# The always-on one-channel source through which biases arrive where a neuron bias would not be
# exact (NIR import under "framework" timing); learning folds it back into biases.
BIAS_SOURCE = "bias"


@register
@dataclass
class SpikeSource(NeuronModel):
    """Input spike source: `n` channels whose spikes are given to `Simulator.run(inputs=...)`.

    s_i[t] in {0, 1}, supplied by the host; it sits off-chip and enters the mesh at tile (0, 0).
    """

    n: int
    name: str = "input"

    on_chip = False

    def __post_init__(self):
        if not isinstance(self.n, (int, np.integer)) or self.n < 1:
            raise NetworkError(f"population {self.name!r}: n must be a positive integer, got {self.n!r}")


@register
@dataclass
class GradedSource(NeuronModel):
    """Analog input (direct encoding: an image as an input current at every step): `n`
    channels whose real values x_i[t] the host supplies; each non-zero x_i[t] is a graded
    spike whose payload the synapse multiplies by its weight:

        a_post[t + 1 + delay] += W x[t]                           (float networks)
        a_post[t + 1 + delay] += (W q[t]) << weight_exp           (fixed point, the sum shifted)
        q = clip(rint(x / scale), -2**(b-1), 2**(b-1) - 1)        (`payload`)

    b is the chip's `graded_payload_bits`; `scale` is the value of one payload LSB, set by
    `neurochip.mapping.graded.grade` after quantization. On a chip without graded spikes
    the host computes the same sums itself (`neurochip.chip.simulator`).
    """

    n: int
    name: str = "input"
    scale: float = 1.0

    on_chip = False
    sends_payloads = True

    def __post_init__(self):
        SpikeSource.__post_init__(self)
        if isinstance(self.scale, bool) or not isinstance(self.scale, (int, float, np.integer, np.floating)) \
                or not 0 < self.scale < np.inf:
            raise NetworkError(f"population {self.name!r}: scale (one payload LSB) must be finite and > 0, "
                               f"got {self.scale!r}")

    def payload(self, x: np.ndarray, bits: int) -> tuple[np.ndarray, int, float]:
        """(q, how many values were clipped, the largest |x| clipped) for fixed point."""
        lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        q = np.rint(np.asarray(x, dtype=np.float64) / self.scale)
        out = (q < lo) | (q > hi)
        return np.clip(q, lo, hi).astype(np.int64), int(out.sum()), float(np.abs(x[out]).max()) if out.any() else 0.0


@register
@dataclass
class LoihiLIF(NeuronModel):
    """Current-based LIF in Loihi fixed point, bit-exact with Lava's `PyLifModelBitAcc`.

        u[t] = wrap24( trunc0(u[t-1] * (4096 - (du + 1)) / 2**12) + (a[t] << 6) )
        v[t] = clip( trunc0(v[t-1] * (4096 - dv) / 2**12) + u[t] + (bias_mant << bias_exp),
                     -(2**23 - 1), 2**23 - 1 )
        s[t] = v[t] > (vth << 6);   v[t] = 0 where s[t]      (u is not reset)
        (reset="subtract": v[t] = v[t] - (v_sub << 6) where s[t] instead, v_sub defaulting
        to max(vth, 1); not in Lava)

    trunc0 truncates toward zero; products are int64; the sum u + a << 6 is int32 (wraps
    as Lava's numpy does); wrap24 wraps once: u > 2**23 -> u - 2**24, u <= -2**23 -> u + 2**24.
    Note the hidden +1 on du: du = 0 still decays by 1/4096, du = -1 means no decay.
    A negative bias_exp shifts right (floor), as Lava does.

    du in [-1, 4095], dv in [0, 4096], vth in [0, 2**17 - 1], bias_mant in [-4096, 4095],
    bias_exp in [-7, 7]; bias_mant, bias_exp, u0 and v0 are scalars or one value a neuron.
    An integrate-and-fire neuron is du = 4095 (no current memory), dv = 0 (no leak).
    """

    n: int
    du: int
    dv: int
    vth: int
    bias_mant: int | np.ndarray = 0
    bias_exp: int | np.ndarray = 0
    u0: int | np.ndarray = 0
    v0: int | np.ndarray = 0
    name: str = "lif"
    reset: str = "zero"
    v_sub: int | None = None

    fixed_point = True

    def __post_init__(self):
        SpikeSource.__post_init__(self)
        _check_reset(self.name, self.reset)
        for f in ("du", "dv", "vth", "bias_mant", "bias_exp", "u0", "v0"):
            _check_int(self.name, f, getattr(self, f))
        for f in ("du", "dv", "vth"):
            if np.ndim(getattr(self, f)) != 0:
                raise NetworkError(f"population {self.name!r}: {f} is one value for the population "
                                   f"(as in Lava's LIF), got shape {np.shape(getattr(self, f))}")
        _check_range(self.name, "du", self.du, -1, 2**DECAY_BITS - 1)
        _check_range(self.name, "dv", self.dv, 0, 2**DECAY_BITS)
        _check_range(self.name, "vth", self.vth, 0, 2**VTH_BITS - 1)
        self.v_sub = int(max(self.vth, 1) if self.v_sub is None else self.v_sub)
        _check_range(self.name, "v_sub", self.v_sub, 1, 2**VTH_BITS - 1)
        _check_range(self.name, "bias_mant", self.bias_mant, -(2 ** (BIAS_MANT_BITS - 1)), 2 ** (BIAS_MANT_BITS - 1) - 1)
        _check_range(self.name, "bias_exp", self.bias_exp, *BIAS_EXP_RANGE)
        _check_range(self.name, "u0", self.u0, -U_MAX + 1, U_MAX)
        _check_range(self.name, "v0", self.v0, -V_LIMIT, V_LIMIT)
        self.bias_mant = _per_neuron(self.name, "bias_mant", self.bias_mant, self.n, np.int64)
        self.bias_exp = _per_neuron(self.name, "bias_exp", self.bias_exp, self.n, np.int64)
        self.u0 = _per_neuron(self.name, "u0", self.u0, self.n, np.int64)
        self.v0 = _per_neuron(self.name, "v0", self.v0, self.n, np.int64)

    @property
    def bias(self) -> np.ndarray:
        """Effective bias bias_mant << bias_exp (right shift, floor, for negative exponents)."""
        return shift(self.bias_mant, self.bias_exp)

    def kernel_arrays(self) -> dict:
        return dict(du_fac=DECAY_ONE - (int(self.du) + 1), dv_fac=DECAY_ONE - int(self.dv), bias=self.bias,
                    vth=int(self.vth) << VTH_SHIFT, u0=self.u0, v0=self.v0,
                    sub=(int(self.v_sub) << VTH_SHIFT) if self.reset == "subtract" else 0)

    def float_view(self) -> tuple:
        vth = float(int(self.vth) << VTH_SHIFT) or 1.0
        return (self.du + 1) / DECAY_ONE, self.dv / DECAY_ONE, 1.0, self.bias / vth

    def lava_lif(self) -> dict:
        if self.reset != "zero":  # Lava's LIF has no subtractive reset
            raise NetworkError(f"population {self.name!r}: Lava's LIF resets to zero; reset={self.reset!r} "
                               "cannot be exported")
        return dict(du=int(self.du), dv=int(self.dv), vth=int(self.vth), bias_mant=self.bias_mant,
                    bias_exp=self.bias_exp, u=self.u0, v=self.v0)


@register
@dataclass
class FloatLIF(NeuronModel):
    """The same LIF in floating point, as Lava's `PyLifModelFloat`.

        u[t] = u[t-1] * (1 - du) + a[t]
        v[t] = v[t-1] * (1 - dv) + u[t] + bias
        s[t] = v[t] > vth;   v[t] = 0 where s[t]   (reset="subtract": v[t] -= v_sub, default vth)

    du, dv in [0, 1]; weights are used as given (no weight_exp, no bit truncation).
    """

    n: int
    du: float
    dv: float
    vth: float
    bias: float | np.ndarray = 0.0
    u0: float | np.ndarray = 0.0
    v0: float | np.ndarray = 0.0
    name: str = "lif"
    reset: str = "zero"
    v_sub: float | None = None

    fixed_point = False
    nir_nodes = ("LIF", "CubaLIF", "IF", "LI", "CubaLI", "I", "Threshold")
    quantizes_to = LoihiLIF

    def __post_init__(self):
        SpikeSource.__post_init__(self)
        _check_reset(self.name, self.reset)
        for f in ("du", "dv", "vth"):
            if np.ndim(getattr(self, f)) != 0:
                raise NetworkError(f"population {self.name!r}: {f} is one value for the population, "
                                   f"got shape {np.shape(getattr(self, f))}")
        _check_range(self.name, "du", self.du, 0.0, 1.0)
        _check_range(self.name, "dv", self.dv, 0.0, 1.0)
        for f in ("vth", "bias", "u0", "v0"):
            _check_range(self.name, f, getattr(self, f), -np.inf, np.inf)
        self.v_sub = float(self.vth if self.v_sub is None else self.v_sub)
        if self.reset == "subtract" and not self.v_sub > 0:
            raise NetworkError(f"population {self.name!r}: v_sub (the amount a spike subtracts) must be > 0, "
                               f"got {self.v_sub}")
        self.bias = _per_neuron(self.name, "bias", self.bias, self.n, np.float64)
        self.u0 = _per_neuron(self.name, "u0", self.u0, self.n, np.float64)
        self.v0 = _per_neuron(self.name, "v0", self.v0, self.n, np.float64)

    def kernel_arrays(self) -> dict:
        return dict(du_fac=1 - float(self.du), dv_fac=1 - float(self.dv), bias=self.bias, vth=float(self.vth),
                    u0=self.u0, v0=self.v0, sub=self.v_sub if self.reset == "subtract" else 0.0)

    def float_view(self) -> tuple:
        return self.du, self.dv, self.vth, np.asarray(self.bias, dtype=np.float64)

    def lava_lif(self) -> dict:
        if self.reset != "zero":  # Lava's LIF has no subtractive reset
            raise NetworkError(f"population {self.name!r}: Lava's LIF resets to zero; reset={self.reset!r} "
                               "cannot be exported")
        return dict(du=float(self.du), dv=float(self.dv), vth=float(self.vth), bias_mant=self.bias, u=self.u0,
                    v=self.v0)


@register
@dataclass
class B1(NeuronModel):
    """Time-to-first-spike neuron with a fixed slope after its window start ("B1" of Stanojevic
    et al., Nat. Commun. 2024), in float. At step t, with k = t - start the tick of its window:

        k <= 0:  u[t] = u[t-1] + a[t];   v[t] = v[t-1] + u[t]    (integrate: the slope is the input current)
        k > 0:   u[t] = u[t-1];          v[t] = v[t-1] + a[t]    (the slope no longer follows inputs)
        s[t] = 0 <= k < steps  and  v[t] + k slope >= theta;   v[t] = -inf where s[t]  (fires once)

    The ramp v + k slope is evaluated at each tick, not accumulated, so that it rounds as the
    closed form V(t_min) + k dt does. A TTFS layer with window [t_min, t_max) of `steps` ticks
    has slope = dt = (t_max - t_min) / steps, theta_i = (t_max - t_min) - b_i and inputs
    weighted W_ij dt_in; theta = NEVER_VTH_FLOAT makes a readout that never fires (v at its
    start is W x); slope 0 and theta under the input weights make a unit that fires at the
    first input of its window (min-pooling). start, steps and slope are one value a
    population, theta a scalar or one a neuron.
    """

    n: int
    start: int
    steps: int
    slope: float
    theta: float | np.ndarray
    name: str = "b1"

    fixed_point = False
    kernel = "b1"

    def __post_init__(self):
        SpikeSource.__post_init__(self)
        for f, lo in (("start", 0), ("steps", 1)):
            if not isinstance(getattr(self, f), (int, np.integer)) or getattr(self, f) < lo:
                raise NetworkError(f"population {self.name!r}: {f} must be an integer >= {lo}, got {getattr(self, f)!r}")
        _check_range(self.name, "slope", self.slope, -np.inf, np.inf)
        _check_range(self.name, "theta", self.theta, -np.inf, np.inf)
        self.theta = _per_neuron(self.name, "theta", self.theta, self.n, np.float64)

    def kernel_arrays(self) -> dict:
        return dict(ramp_start=self.start, ramp_steps=self.steps, ramp_slope=float(self.slope), vth=self.theta)


@dataclass
class _GradedNeuron(NeuronModel):
    """What Lava's two graded-spike vectors share (see `GradedVec`, `GradedReluVec`)."""

    n: int
    vth: int = 1
    name: str = "graded"

    fixed_point = True
    sends_payloads = True

    def __post_init__(self):
        SpikeSource.__post_init__(self)
        _check_int(self.name, "vth", self.vth)
        if np.ndim(self.vth) != 0:
            raise NetworkError(f"population {self.name!r}: vth is one value for the population (as in Lava's "
                               f"{self.lava_process}), got shape {np.shape(self.vth)}")
        _check_range(self.name, "vth", self.vth, 0, V_LIMIT)   # Lava's vth is a 24-bit Var
        self.vth = int(self.vth)

    def kernel_arrays(self) -> dict:
        return dict(vth=self.vth)

    def lava_lif(self) -> dict:
        return dict(vth=self.vth)


@register
@dataclass
class GradedVec(_GradedNeuron):
    """A graded-spike neuron without dynamics, Lava 0.10's `lava.proc.graded.GradedVec` in fixed
    point (`PyGradedVecModelFixed`): each step it sends its input on as a graded spike,

        v[t] = wrap32(a[t])                  (the step's summed input, int32 as Lava's ports)
        s[t] = v[t] * (|v[t]| > vth)         (|-2**31| stays -2**31 in int32, as numpy's abs)

    and keeps nothing (Lava zeroes v after the send). A non-zero s[t] is a graded spike whose
    payload each synapse multiplies by its weight, as a `GradedSource`'s:
    a_post[t + 1 + delay] += (W s[t]) << weight_exp. The simulator reports s[t] as v (u is 0).

    Only on chips with graded spikes (`graded_payload_bits` > 0). Lava passes any int32 on;
    a payload wider than the chip's graded_payload_bits is refused at the step it is sent
    (the chip could not carry it). vth in [0, 2**23 - 1].
    """

    kernel = "graded"
    lava_process = "GradedVec"


@register
@dataclass
class GradedReluVec(_GradedNeuron):
    """`GradedVec` that sends only positive inputs above the threshold, Lava 0.10's
    `lava.proc.graded.GradedReluVec` in fixed point (`PyGradedReluVecModelFixed`):

        v[t] = wrap32(a[t]);   s[t] = v[t] * (v[t] > vth)

    Otherwise as `GradedVec` (payloads, chips, limits).
    """

    kernel = "graded_relu"
    lava_process = "GradedReluVec"
