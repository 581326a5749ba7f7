"""Analog input on a fixed-point network: the payload scale of each `GradedSource` and the weight
exponents of its projections.

`quantize` treats an input of value 1 as a spike: a projection from a source gets mantissas M and
an exponent e with (M << e) << 6 = s_post W (s_post: the target's fixed-point units per float
unit). A graded source sends q = rint(x 2**k) instead (scale 2**-k, `GradedSource.payload`), and
its projections take the exponent e - k with the same mantissas:

    a = (M q) >> (k - e)  ~  (M << e) x          (the sum shifted, floor, as Lava's Dense does)

k is as large as the weight exponent's range and the payload allow, for the finest input:
    k = min(min over its projections of e - WEIGHT_EXP_RANGE[0],  bits - 1 - ceil(log2 x_max))
with `bits` the chip's `graded_payload_bits` (or `HOST_PAYLOAD_BITS` on a chip without graded
spikes, where the host computes the same sums) and x_max the largest |x| to carry unclipped.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from neurochip.chip.spec import HOST_PAYLOAD_BITS, ChipSpec
from neurochip.model.errors import NetworkError
from neurochip.model.fixed import WEIGHT_EXP_RANGE
from neurochip.model.network import Network
from neurochip.model.neurons import GradedSource


@dataclass(frozen=True)
class GradedReport:
    source: str
    bits: int          # payload width, signed
    frac_bits: int     # k: the payload is rint(x 2**k)
    x_max: float       # the largest |x| carried unclipped: (2**(bits-1) - 1) 2**-k
    on_host: bool      # the chip has no graded spikes: the host computes the sums

    @property
    def scale(self) -> float:
        return 2.0 ** -self.frac_bits

    def describe(self, chip: str) -> str:
        how = (f"{chip} has no graded spikes: the host computes the first layer's input W x in fixed point "
               f"({self.bits}-bit x at scale 2^{-self.frac_bits}) and writes it into its compartments every step"
               if self.on_host else
               f"graded spikes on {chip}: a {self.bits}-bit signed payload rint(x 2^{self.frac_bits}) a value, "
               "multiplied by the weight at the synapse")
        return f"{self.source}: {how} (|x| up to {self.x_max:g} unclipped)"


def grade(net: Network, chip: ChipSpec, x_max: float = 1.0) -> tuple[Network, list[GradedReport]]:
    """A copy of the fixed-point `net` whose graded sources carry payloads of the chip's width
    (see module doc), and a report per graded source. Networks without one come back as they are."""
    if not net.fixed_point:
        raise NetworkError("grade: the network is in float; graded payloads are for fixed point (quantize first)")
    if not (isinstance(x_max, (int, float)) and 0 < x_max < math.inf):
        raise NetworkError(f"grade: x_max must be a finite number > 0 (the largest |x| to carry), got {x_max!r}")
    bits = chip.core.graded_payload_bits or HOST_PAYLOAD_BITS
    lo, hi = WEIGHT_EXP_RANGE
    pops, projs, reports = dict(net.populations), list(net.projections), []
    for name, pop in net.populations.items():
        if not isinstance(pop, GradedSource):
            continue
        mine = [i for i, p in enumerate(projs) if p.pre == name]
        fit = bits - 1 - math.ceil(math.log2(x_max * (1 + 1e-12)))
        k = min([fit] + [projs[i].weight_exp - lo for i in mine])
        over = [projs[i].name for i in mine if projs[i].weight_exp - k > hi]
        if over:
            raise NetworkError(f"grade: source {name!r}: inputs up to |x| = {x_max:g} need a payload scale 2^{-k} "
                               f"that projections {over} cannot take (weight_exp above {hi}); scale the input down")
        for i in mine:
            projs[i] = replace(projs[i], weight_exp=projs[i].weight_exp - k)
        pops[name] = GradedSource(pop.n, name=name, scale=2.0**-k)
        reports.append(GradedReport(name, bits, k, (2 ** (bits - 1) - 1) * 2.0**-k, chip.core.graded_payload_bits == 0))
    return Network(pops, projs), reports
