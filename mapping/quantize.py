"""Float networks to Loihi fixed point, with a report of what the rounding cost.

Each population p gets a scale s_p (fixed-point units of u and v per float unit):
    vth_mant = s_p vth / 2**6,   bias_mant << bias_exp = s_p bias,   u0, v0 = s_p u0, s_p v0
and each projection into p its own weight exponent, so its weights use the 8-bit range:
    w_mant << (weight_exp + 6) = s_p w        (mixed-sign matrices keep even mantissas,
                                               as Lava's 8-bit mixed Dense drops the LSB)
By default s_p puts the threshold at vth_mant = 2**16 (half the 17-bit range, leaving
head room below the 24-bit v), or lower if the largest incoming weight would not fit;
pass `vth={pop: mantissa}` to choose. Non-spiking
populations are scaled from their largest incoming weight instead.
Decays: du = round(du_f 4096) - 1 (Loihi's hidden +1), dv = round(dv_f 4096) by default;
`decays="nir_paper"` uses int(x 4095) for both, the convention of the NIR paper's Lava runs.
`method="percentile"` sets each projection's range from the given percentile of |w| and
lets the rest saturate (counted in the report).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from neurochip.model.errors import NetworkError
from neurochip.model.fixed import (ACT_SHIFT, BIAS_EXP_RANGE, BIAS_MANT_BITS, DECAY_ONE, NEVER_VTH, NEVER_VTH_FLOAT,
                                   U_MAX, V_LIMIT, VTH_BITS, VTH_SHIFT, WEIGHT_BITS, WEIGHT_EXP_RANGE,
                                   effective_weights, sign_mode, weight_range)
from neurochip.model.network import Network, Projection

DEFAULT_VTH = 2 ** (VTH_BITS - 1)
BIAS_MAX = 2 ** (BIAS_MANT_BITS - 1) - 1
# largest weight in u units: the largest even (mixed-sign) mantissa at the largest weight_exp
W_MAX_UNITS = (weight_range("mixed")[1] - 1) << (WEIGHT_EXP_RANGE[1] + ACT_SHIFT)


@dataclass
class LayerReport:
    name: str
    scale: float                 # float value of one weight LSB
    weight_exp: int
    num_weight_bits: int
    rel_error: float             # ||W_q - W|| / ||W|| (Frobenius)
    saturated: int               # weights clipped to the range
    n_weights: int


@dataclass
class PopulationReport:
    name: str
    scale: float                 # s_p: fixed-point units per float unit of v
    vth: int
    du: int
    dv: int
    bias_exp: int
    bias_saturated: int


@dataclass
class QuantReport:
    layers: list = field(default_factory=list)
    populations: list = field(default_factory=list)

    def table(self) -> str:
        rows = ["| projection | LSB value | weight_exp | bits | rel. error | saturated |", "|---|---|---|---|---|---|"]
        rows += [f"| {r.name} | {r.scale:.4g} | {r.weight_exp} | {r.num_weight_bits} | {r.rel_error:.3%} | "
                 f"{r.saturated} of {r.n_weights} |" for r in self.layers]
        return "\n".join(rows)


def dense_weights(proj: Projection) -> np.ndarray:
    """The weights of `proj` as a dense array (float64 unless sparse)."""
    return proj.weights.toarray() if sp.issparse(proj.weights) else np.asarray(proj.weights, dtype=np.float64)


def _round(x, rounding):
    return np.floor(x + 1e-9) if rounding == "floor" else np.round(x)


def _decay(x: float, kind: str, decays: str) -> int:
    if decays == "nir_paper":
        return int(x * (DECAY_ONE - 1))
    du = kind == "du"
    return int(np.clip(round(x * DECAY_ONE) - du, -du, DECAY_ONE - du))


def quantize(net: Network, *, method: str = "max", percentile: float = 99.9, vth=None, num_weight_bits: int = 8,
             rounding: str = "round", decays: str = "loihi") -> tuple[Network, QuantReport]:
    """A fixed-point copy of a float network and the quantization report (see module doc)."""
    if method not in ("max", "percentile"):
        raise NetworkError(f"quantize: method must be 'max' or 'percentile', got {method!r}")
    if rounding not in ("round", "floor") or decays not in ("loihi", "nir_paper"):
        raise NetworkError("quantize: rounding is 'round' or 'floor'; decays is 'loihi' or 'nir_paper'")
    if any(p.fixed_point for p in net.populations.values()):
        raise NetworkError("quantize: the network is already in fixed point")
    vth = vth or {}
    report = QuantReport()
    scales = {}
    out = Network()
    for name, pop in net.populations.items():
        if not pop.on_chip:
            out.add(pop)
            continue
        if pop.quantizes_to is None:
            raise NetworkError(f"quantize: population {name!r} is {type(pop).__name__}, which declares no "
                               "fixed-point model (quantizes_to)")
        wmax = max((np.abs(dense_weights(p)).max() for p in net.projections if p.post == name), default=0.0)
        if name in vth:
            v_mant = vth[name]
            s = v_mant * 2**VTH_SHIFT / pop.vth
        elif pop.vth < NEVER_VTH_FLOAT / 2:  # vth at 2**16 unless the largest weight would not fit at weight_exp 7
            s = min(DEFAULT_VTH * 2**VTH_SHIFT / pop.vth, W_MAX_UNITS / wmax if wmax > 0 else np.inf)
            v_mant = int(round(s * pop.vth / 2**VTH_SHIFT))
        else:  # never spikes: scaled from the largest incoming weight
            s, v_mant = weight_range("excitatory")[1] * 2**ACT_SHIFT / (wmax or 1.0), NEVER_VTH
        if not np.isfinite(s) or s <= 0:
            raise NetworkError(f"quantize: population {name!r} has threshold {pop.vth}; it must be positive")
        scales[name] = s
        b = s * pop.bias
        bmax = np.abs(b).max() if b.size else 0
        bexp = int(np.clip(np.ceil(np.log2(bmax / BIAS_MAX)) if bmax > BIAS_MAX else 0, 0, BIAS_EXP_RANGE[1]))
        bm = _round(b / 2**bexp, rounding)
        sat = int(np.sum(np.abs(bm) > BIAS_MAX))
        du, dv = _decay(pop.du, "du", decays), _decay(pop.dv, "dv", decays)
        v_sub = int(np.clip(round(s * pop.v_sub / 2**VTH_SHIFT), 1, NEVER_VTH)) if pop.reset == "subtract" else None
        out.add(pop.quantizes_to(pop.n, du=du, dv=dv, vth=int(min(v_mant, NEVER_VTH)), name=name, reset=pop.reset,
                                 v_sub=v_sub, bias_mant=np.clip(bm, -BIAS_MAX - 1, BIAS_MAX).astype(np.int64),
                                 bias_exp=bexp, u0=np.clip(_round(s * pop.u0, rounding), -U_MAX + 1, U_MAX).astype(np.int64),
                                 v0=np.clip(_round(s * pop.v0, rounding), -V_LIMIT, V_LIMIT).astype(np.int64)))
        report.populations.append(PopulationReport(name, s, int(min(v_mant, NEVER_VTH)), du, dv, bexp, sat))

    for proj in net.projections:
        s = scales[proj.post]
        w = dense_weights(proj)
        ws = w * s / 2**ACT_SHIFT
        nz = np.abs(ws[ws != 0])
        top = (np.percentile(nz, percentile) if method == "percentile" else nz.max()) if nz.size else 1.0
        mode = sign_mode(w)
        step = 2 ** (WEIGHT_BITS - num_weight_bits + (mode == "mixed"))  # mantissas are multiples of this
        limit = 2**WEIGHT_BITS - step                                    # largest representable magnitude
        wexp = int(np.clip(np.ceil(np.log2(top / limit)) if top > 0 else 0, *WEIGHT_EXP_RANGE))
        mant = _round(ws / 2**wexp / step, rounding) * step
        clipped = effective_weights(mant, num_weight_bits, mode)  # multiples of step already: only clips
        sat = int(np.count_nonzero(clipped != mant))
        mant = clipped
        lsb = 2**wexp * 2**ACT_SHIFT / s
        err = np.linalg.norm(mant * lsb - w) / (np.linalg.norm(w) or 1.0)
        out.projections.append(Projection(proj.pre, proj.post, sp.csr_matrix(mant) if sp.issparse(proj.weights) else mant,
                                          weight_exp=wexp, num_weight_bits=num_weight_bits, delay=proj.delay,
                                          name=proj.name))
        report.layers.append(LayerReport(proj.name, lsb, wexp, num_weight_bits, float(err), sat, int(np.count_nonzero(w))))
    return out, report
