"""Loihi fixed-point arithmetic, the one home of its widths and operations.

Verified against lava-nc 0.10 (`PyLifModelBitAcc`, `PyDenseModelBitAcc`; DESIGN.md):

    trunc0(x)          truncation toward zero: sign(x) * (|x| >> 12) after a product
    decay(x, d)        trunc0(x * (2**12 - d) / 2**12), the product in int64
    wrap24(u)          u > 2**23 -> u - 2**24;  u <= -2**23 -> u + 2**24 (once)
    clip_v(v)          v clipped to [-(2**23 - 1), 2**23 - 1]
    a << 6, vth << 6   synaptic input and threshold are MSB-aligned
    bias               bias_mant << bias_exp (a negative exponent shifts right, floor)
    weights            8-bit mantissas, `effective_weights` (clip, drop LSBs by sign mode)

Scalar functions are Numba kernels (usable from compiled code and from Python); array
functions are numpy. Stochastic rounding draws from a splitmix64 stream whose state the
caller passes in (a one-element uint64 array), so a run is reproducible and resumable.
"""
from __future__ import annotations

import numpy as np

from neurochip.model.numba_config import njit

UV_BITS = 24            # u and v registers
DECAY_BITS = 12         # du, dv are 12-bit fractions of 2**12
DECAY_ONE = 2**DECAY_BITS
ACT_SHIFT = 6           # synaptic input is MSB-aligned: a << 6
VTH_SHIFT = 6           # threshold is MSB-aligned: vth << 6
VTH_BITS = 17           # unsigned threshold mantissa
BIAS_MANT_BITS = 13     # signed bias mantissa
BIAS_EXP_RANGE = (-7, 7)
U_MAX = 2 ** (UV_BITS - 1)   # u wraps once when > U_MAX or <= -U_MAX
V_LIMIT = U_MAX - 1          # v is clipped to [-V_LIMIT, V_LIMIT]
WEIGHT_BITS = 8              # weight mantissa bits (sign excluded)
WEIGHT_EXP_RANGE = (-8, 7)
DELAY_BITS = 6
MAX_DELAY = 2**DELAY_BITS - 2   # 6-bit synaptic delay field; a chip's delay_bits may allow less
NEVER_VTH = 2**VTH_BITS - 1     # the largest threshold: a compartment that never spikes (a readout)
NEVER_VTH_FLOAT = float(np.finfo(np.float64).max)   # the same in float

_WRAP24 = 2 * U_MAX
_TWO32 = 1 << 32
_TWO31 = 1 << 31


@njit
def wrap_int32(x):
    """Two's-complement wrap of an int64 to int32 range (what numpy int32 arithmetic does)."""
    return ((x + _TWO31) & (_TWO32 - 1)) - _TWO31


@njit
def decay_trunc0(x, factor):
    """trunc0(x * factor / 2**12): the product in int64, truncated toward zero."""
    p = x * factor
    m = abs(p) >> DECAY_BITS
    return -m if p < 0 else m


@njit
def wrap24(x):
    """Lava's single wrap of u into 24 bits."""
    x = x - _WRAP24 if x > U_MAX else x
    return x + _WRAP24 if x <= -U_MAX else x


@njit
def clip_v(x):
    return min(max(x, -V_LIMIT), V_LIMIT)


@njit
def uniform(rng):
    """splitmix64: the next float in [0, 1) from the state rng[0]."""
    rng[0] += np.uint64(0x9E3779B97F4A7C15)
    z = rng[0]
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit
def round_stochastic(q, rng):
    """floor(q) + 1 with probability frac(q): unbiased rounding to an integer."""
    f = np.floor(q)
    return f + 1.0 if uniform(rng) < q - f else f


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@njit
def mix64(z):
    """splitmix64's finaliser: a bijective scramble of a uint64."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit
def uniform_at(seed, stream, index, step):
    """A float in [0, 1) that depends only on (seed, stream, index, step): counter-based
    draws, so a synapse's rounding does not depend on which core visits it, or when."""
    z = mix64(np.uint64(seed) * _GOLDEN + np.uint64(stream))
    z = mix64(z ^ (np.uint64(index) * _GOLDEN))
    z = mix64(z ^ (np.uint64(step) * _GOLDEN + np.uint64(1)))
    return (z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit
def round_stochastic_at(q, seed, stream, index, step):
    """floor(q) + 1 with probability frac(q), drawn by `uniform_at`."""
    f = np.floor(q)
    return f + 1.0 if uniform_at(seed, stream, index, step) < q - f else f


def dyadic(x: float, bits: int = 16) -> float:
    """x rounded to `bits` significant bits: a mantissa times a power of two, as Loihi's
    learning engine scales its products (so a product with an integer stays exact)."""
    if x == 0:
        return 0.0
    e = int(np.floor(np.log2(abs(x))))
    return float(np.ldexp(np.rint(np.ldexp(x, bits - 1 - e)), e - bits + 1))


def shift(mant, exp):
    """mant << exp, or >> -exp (floor) for a negative exponent: Lava's bias and weight_exp."""
    mant, exp = np.asarray(mant, dtype=np.int64), np.asarray(exp, dtype=np.int64)
    return np.where(exp >= 0, mant << np.maximum(exp, 0), mant >> np.maximum(-exp, 0))


def sign_mode(w: np.ndarray) -> str:
    """Lava's `determine_sign_mode`: all >= 0 excitatory, all <= 0 inhibitory, else mixed."""
    if w.size == 0 or w.min() >= 0:
        return "excitatory"
    if w.max() <= 0:
        return "inhibitory"
    return "mixed"


def weight_range(mode: str) -> tuple[int, int]:
    """The 8-bit mantissa range of a sign mode: [0, 255], [-255, 0] or [-256, 255]."""
    top = 2**WEIGHT_BITS - 1
    return {"excitatory": (0, top), "inhibitory": (-top, 0), "mixed": (-top - 1, top)}[mode]


def effective_weights(w: np.ndarray, num_weight_bits: int, mode: str | None = None) -> np.ndarray:
    """The weights Lava's bit-accurate Dense uses: clip to 8 bits, drop 8 - bits (+1 if mixed) LSBs.

    Excitatory [0, 255], inhibitory [-255, 0] (on the magnitude), mixed [-256, 255]; the
    truncation is an arithmetic shift (floor; on the magnitude for inhibitory matrices).
    """
    mode = mode or sign_mode(w)
    w = np.asarray(w, dtype=np.int64)
    mixed = mode == "mixed"
    mag = -w if mode == "inhibitory" else w
    mag = np.clip(mag, -(2**WEIGHT_BITS) if mixed else 0, 2**WEIGHT_BITS - 1)
    k = WEIGHT_BITS - num_weight_bits + int(mixed)
    mag = (mag >> k) << k
    return -mag if mode == "inhibitory" else mag
