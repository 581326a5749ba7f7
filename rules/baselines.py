"""Time-step surrogate-gradient (BPTT-SG) training as cost models, off this chip (issue 13,
baselines 2 and 3): a dense time-step accelerator (`TimeStepAccelerator`) and a GPU estimate
(`GPUEstimate`). BPTT-SG on the chip itself runs on its plastic cores:
`neurochip.rules.learner.Learner(sizes, BPTT(...))`, measured by the chip's counters.

The network is the layered one of `rules.rule`: sizes = [n0, n1, ..., nL, C], input spikes,
hidden soft-reset LIF layers (optionally with a recurrent projection, `recurrent[l - 1]` for
hidden layer l) and a memoryless readout o = W_L s_L; the loss is computed at every step.
Matrices, in this order (it is also the order weights are placed in SRAM): the forward ones
m = 0 .. L (layer m -> m + 1, |W_m| = n_m n_(m+1)), then the recurrent ones (l -> l, n_l^2)
for each flagged hidden layer, from l = 1. |W| is their sum, N = n1 + ... + nL the hidden
neurons. "Transposed" matrices are those whose presynaptic layer is hidden: every matrix but
W_0 (the input needs no error). S_p = a_p n_p T is the spike count of layer p over a sample,
a_p = activity[p] its mean spikes per neuron per step (p = 0 the input).

Every model has `counts(sizes, T, activity, recurrent)` (operations per sample, by kind),
`energy_pj(counts)` (pJ by kind, with "forward", "learning_phase" = total - forward, "total"),
`assumptions()` (every parameter and price: value, unit, source) and `name`. The forward is
what an inference of the sample would cost; everything else (stored state included) is the
learning phase. Counts are exact rationals when T, sizes, activity and byte sizes are
(ints or `fractions.Fraction`), so tests compare them with ==.

All cost constants live in `constants()`: Horowitz's ISSCC 2014 numbers that
`neurochip/chip/profiles/horowitz45nm.toml` already holds are read from it; the rest are in
`_PUBLISHED` below, each with its source and basis ("published" or "derived: how").
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields
from fractions import Fraction
from functools import lru_cache

from neurochip.chip.spec import Profile
from neurochip.rules.rule import RuleError

KB = 1024
HOROWITZ = "Horowitz, 'Computing's energy problem', ISSCC 2014, Fig. 1.1.9 table (45 nm, 0.9 V)"


@dataclass(frozen=True)
class Constant:
    value: float
    unit: str
    basis: str      # "published", or "derived: <how>"
    source: str


# Constants not in the horowitz45nm profile. Energies at 45 nm unless stated.
_PUBLISHED = {
    "add_int16_pj": Constant(0.05, "pJ", "published", HOROWITZ + ": 16-bit add"),
    "add_int32_pj": Constant(0.1, "pJ", "published", HOROWITZ + ": 32-bit add"),
    "add_fp16_pj": Constant(0.4, "pJ", "published", HOROWITZ + ": 16-bit FP add"),
    "mult_int8_pj": Constant(0.2, "pJ", "published", HOROWITZ + ": 8-bit mult"),
    "mult_int16_pj": Constant(0.8, "pJ", "derived: 8-bit mult 0.2 pJ x (16/8)^2 (array multiplier energy grows "
                              "with bits^2; the geometric mean of Horowitz's 8- and 32-bit mults, 0.79, agrees)",
                              HOROWITZ),
    "mult_int32_pj": Constant(3.1, "pJ", "published", HOROWITZ + ": 32-bit mult"),
    "mult_fp16_pj": Constant(1.1, "pJ", "published", HOROWITZ + ": 16-bit FP mult"),
    "sram_8kb_64bit_pj": Constant(10.0, "pJ per 64-bit access", "published", HOROWITZ + ": 8 KB cache"),
    "sram_1mb_64bit_pj": Constant(100.0, "pJ per 64-bit access", "published", HOROWITZ + ": 1 MB cache"),
    "dram_64bit_pj": Constant(1300.0, "pJ per 64-bit access", "published",
                              HOROWITZ + ": DRAM 1.3-2.6 nJ; the low end, which favours the baseline"),
    "eyeriss_glb_bytes": Constant(108 * KB, "bytes", "published",
                                  "Chen et al., 'Eyeriss', IEEE JSSC 52(1) 2017: 108 KB global buffer"),
    "v100_fp32_flops": Constant(15.7e12, "FLOP/s", "published", "NVIDIA Tesla V100 (SXM2) datasheet: 15.7 TFLOPS "
                                "single precision"),
    "v100_fp16_flops": Constant(125e12, "FLOP/s", "published", "NVIDIA Tesla V100 (SXM2) datasheet: 125 TFLOPS "
                                "tensor (fp16 multiply, fp32 accumulate)"),
    "v100_watts": Constant(300.0, "W", "published", "NVIDIA Tesla V100 (SXM2) datasheet: 300 W max power"),
    "v100_l2_bytes": Constant(6 * KB * KB, "bytes", "published", "NVIDIA Tesla V100 whitepaper (2017): 6144 KB L2"),
}

# Composite operations in units of one MAC (mult + accumulate) and one accumulator-width add,
# on the horowitz45nm profile's bases (its neuron_updates_active and surrogate_evals rows).
OPS = {
    "neuron_update": (1, 1, "leak multiply-accumulate + threshold compare (horowitz45nm neuron_updates_active)"),
    "surrogate": (4, 0, "about four multiply-accumulates (horowitz45nm surrogate_evals)"),
    "readout_error": (4, 0, "softmax term by about four multiply-accumulates, as a surrogate (derived)"),
}
ARITHMETIC = {"fp32": 32, "fp16": 16, "int16": 16, "int8": 8}   # operand (weight) bits
ACC_BITS = 32   # accumulators and gradients (Micikevicius et al., ICLR 2018: fp32 accumulation)
GPU_ARITHMETIC = ("fp32", "fp16")


@lru_cache(maxsize=1)
def constants() -> dict:
    """Every cost constant: the horowitz45nm profile's (same facts, read, not copied), then
    `_PUBLISHED`, then those derived from both."""
    p = Profile.preset("horowitz45nm")
    ev = p.events
    c = {
        "mac_fp32_pj": Constant(ev["syn_ops"].energy_pj, "pJ", f"profile horowitz45nm syn_ops ({ev['syn_ops'].basis})",
                                ev["syn_ops"].source),
        "add_fp32_pj": Constant(ev["dendrite_accums"].energy_pj, "pJ", "profile horowitz45nm dendrite_accums",
                                ev["dendrite_accums"].source),
        "add_int8_pj": Constant(ev["spikes_out"].energy_pj, "pJ", "profile horowitz45nm spikes_out",
                                ev["spikes_out"].source),
        "sram_32kb_64bit_pj": Constant(ev["state_read_bytes"].energy_pj * 8, "pJ per 64-bit access",
                                       "derived: profile horowitz45nm state_read_bytes x 8",
                                       ev["state_read_bytes"].source),
    }
    c["mult_fp32_pj"] = Constant(c["mac_fp32_pj"].value - c["add_fp32_pj"].value, "pJ",
                                 "derived: fp32 MAC - fp32 add (profile horowitz45nm)", HOROWITZ + ": 32-bit FP mult")
    c.update(_PUBLISHED)
    for a, flops in (("fp32", "v100_fp32_flops"), ("fp16", "v100_fp16_flops")):
        c[f"v100_{a}_pj_per_flop"] = Constant(c["v100_watts"].value / c[flops].value * 1e12, "pJ/FLOP",
                                              f"derived: max power / peak {a} FLOP/s (all-in, at peak use)",
                                              c[flops].source)
    return c


def mac_pj(arithmetic: str) -> float:
    """One multiply-accumulate: an operand-width mult plus a 32-bit (ACC_BITS) accumulate."""
    c = constants()
    mult = {"fp32": "mult_fp32_pj", "fp16": "mult_fp16_pj", "int16": "mult_int16_pj", "int8": "mult_int8_pj"}
    return c[mult[arithmetic]].value + acc_add_pj(arithmetic)


def acc_add_pj(arithmetic: str) -> float:
    return constants()["add_fp32_pj" if arithmetic.startswith("fp") else "add_int32_pj"].value


def op_pj(op: str, arithmetic: str) -> float:
    macs, adds, _ = OPS[op]
    return macs * mac_pj(arithmetic) + adds * acc_add_pj(arithmetic)


def sram_pj_per_byte(capacity_bytes) -> float:
    """Energy per byte of an SRAM of `capacity_bytes`: Horowitz's 64-bit access energies of 8 KB,
    32 KB and 1 MB, interpolated as a power law between neighbours (E ~ size^k), the 8 KB value
    below 8 KB, the last segment's law above 1 MB; divided by 8 bytes."""
    c = constants()
    pts = [(8 * KB, c["sram_8kb_64bit_pj"].value), (32 * KB, c["sram_32kb_64bit_pj"].value),
           (KB * KB, c["sram_1mb_64bit_pj"].value)]
    size = max(float(capacity_bytes), pts[0][0])
    (s0, e0), (s1, e1) = pts[0:2] if size <= pts[1][0] else pts[1:3]
    k = math.log(e1 / e0) / math.log(s1 / s0)
    return e0 * (size / s0) ** k / 8


# -- the network -------------------------------------------------------------------------------

def _div(a, b):
    """a / b, exact when both are rational."""
    if isinstance(a, numbers.Rational) and isinstance(b, numbers.Rational):
        return Fraction(a) / Fraction(b)
    return a / b


def _int_at_least(where: str, value, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise RuleError(f"{where} must be an integer >= {low}, got {value!r}")


def network(sizes, T, activity=None, recurrent=None, need_activity=False):
    """Validated (sizes, T, activity, recurrent, matrices); matrices are (pre, post, n_pre, n_post)
    layer indices and sizes in the module's order."""
    sizes = list(sizes)
    if len(sizes) < 3:
        raise RuleError(f"sizes {sizes}: need an input, at least one hidden layer and a readout (>= 3 sizes)")
    for i, n in enumerate(sizes):
        _int_at_least(f"sizes[{i}]", n, 1)
    _int_at_least("T (steps per sample)", T, 1)
    L = len(sizes) - 2
    recurrent = [False] * L if recurrent is None else list(recurrent)
    if len(recurrent) != L or not all(isinstance(r, (bool, int)) and r in (0, 1) for r in recurrent):
        raise RuleError(f"recurrent must be {L} flags (one per hidden layer), got {recurrent!r}")
    if activity is None:
        if need_activity:
            raise RuleError("backward='event' needs activity: mean spikes per neuron per step for the input "
                            f"and each hidden layer ({L + 1} numbers in [0, 1])")
    else:
        activity = list(activity)
        if len(activity) != L + 1:
            raise RuleError(f"activity needs {L + 1} rates (input and {L} hidden layers), got {len(activity)}")
        for i, a in enumerate(activity):
            if isinstance(a, bool) or not isinstance(a, numbers.Real) or not 0 <= a <= 1:
                raise RuleError(f"activity[{i}] = {a!r} is out of range; allowed: 0 <= rate <= 1 spikes per "
                                "neuron per step")
    mats = [(m, m + 1, sizes[m], sizes[m + 1]) for m in range(L + 1)]
    mats += [(l, l, sizes[l], sizes[l]) for l in range(1, L + 1) if recurrent[l - 1]]
    return sizes, T, activity, recurrent, mats


def _choice(model, name, allowed):
    if getattr(model, name) not in allowed:
        raise RuleError(f"{type(model).__name__}: {name} = {getattr(model, name)!r} is not allowed; "
                        f"allowed: {list(allowed)}")


def _real_at_least(model, name, low, strict=False):
    v = getattr(model, name)
    bad = isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or v < low or (
        strict and v == low)
    if bad:
        raise RuleError(f"{type(model).__name__}: {name} = {v!r} is out of range; allowed: a finite number "
                        f"{'>' if strict else '>='} {low}")


def _assumptions(model, units: dict, sources: dict, prices: dict) -> dict:
    out = {f.name: {"value": getattr(model, f.name), "unit": units[f.name], "source": sources[f.name]}
           for f in fields(model)}
    for k, (v, unit, src) in prices.items():
        out[k] = {"value": v, "unit": unit, "source": src}
    return out


_RESET_SOURCE = "rules.rule.BPTT default; 'full' adds the reset path of Yang 2020"
_BATCH_SOURCE = "the on-chip rules update after every sample"


def _dram_source() -> str:
    dram = constants()["dram_64bit_pj"]
    return f"derived: {dram.value} pJ per 64-bit access / 8 ({dram.source})"


def _energy(counts: dict, prices: dict, forward: tuple) -> dict:
    unknown = [k for k in counts if k not in prices]
    if unknown:
        raise RuleError(f"energy_pj: unknown count kind(s) {unknown}; known: {list(prices)}")
    out = {k: float(counts[k]) * prices[k] for k in counts}
    out["total"] = sum(out[k] for k in counts)
    out["forward"] = sum(out[k] for k in counts if k in forward)
    out["learning_phase"] = out["total"] - out["forward"]
    return out


# -- baseline 2: the dense time-step accelerator -------------------------------------------------

@dataclass(frozen=True)
class TimeStepAccelerator:
    """A time-step SG training accelerator: every neuron and synapse at every step, forward and
    backward through time, with its stored state placed by footprint in SRAM or DRAM.

    Per sample (dense; w = ARITHMETIC bits, g = ACC_BITS, b = state_bits):
      forward_macs    = T |W|                     event: sum over matrices of S_pre n_post
      neuron_updates  = T N
      readout_errors  = T C                       (dL/do[t], one per readout unit and step)
      backward_macs   = T sum of transposed |W_m| (error transpose g_s = W^T delta, always dense)
      gradient_macs   = forward_macs              (grad += s_pre delta; event skips s_pre = 0)
      surrogate_evals = T N,  temporal_macs = T N (delta[t] += lam delta[t+1])
      reset_macs      = T N for reset_term "full" (dL/ds[t] -= lam theta delta[t+1], Yang 2020), else 0
      update_macs     = |W| / B                   (w -= eta grad, once per batch)
    Memory (bytes, each split _sram / _dram by where it lives):
      forward_weight_bytes  = w/8 per forward MAC, backward_weight_bytes = w/8 per backward MAC
      gradient_bytes        = gradient_accumulator "register" (default): |W| g/8, each
                              synapse's gradient summed over the T steps in a PE register
                              (output stationary) and written to its buffer once per sample;
                              "memory": 2 g/8 per gradient MAC (accumulator read and write)
      update_bytes          = |W| (2w + g)/8 / B  (read weight and gradient, write weight)
      state_write_bytes = state_read_bytes = T (n0 + N (b + 1) + C b) / 8: input spikes (1 bit),
        hidden membrane potential (b bits) and spike (1 bit), readout error (b bits), written
        in the forward, read once in the backward.
    Placement: weights with their gradient accumulators, matrix by matrix in the module's
    order, in `weight_sram_bytes` while each whole matrix fits, else in DRAM; state bits in
    write order (step by step) in `sram_bytes`, the rest in DRAM: min(state, sram_bytes) of it
    is SRAM traffic. Event convention: a spike is processed once per pass when it happens (a
    recurrent spike of the last step is still delivered), so event MACs are S_pre n_post.
    gradient_accumulator names the weight-gradient dataflow (Chen et al., 'Eyeriss', ISCA 2016;
    Sze et al., 'Efficient Processing of Deep Neural Networks', Proc. IEEE 2017): "register"
    is output stationary, the partial sum stays in the PE for all T steps and leaves once
    (the write is the same whether or not an event engine skipped the synapse's MACs);
    "memory" keeps it in the weight buffer, read and written by every gradient MAC. Either
    way the gradient MACs are the same and the update reads the accumulator from the buffer.
    SRAM energy per byte follows each buffer's size (`sram_pj_per_byte`); live neuron state
    and the backward carry sit in registers (not priced).
    """

    reset_term: str = "detached"
    backward: str = "dense"
    arithmetic: str = "fp32"
    state_bits: int = 16
    sram_bytes: int = int(_PUBLISHED["eyeriss_glb_bytes"].value)
    weight_sram_bytes: int = int(_PUBLISHED["eyeriss_glb_bytes"].value)
    batch: int = 1
    dram_pj_per_byte: float = _PUBLISHED["dram_64bit_pj"].value / 8
    gradient_accumulator: str = "register"

    FORWARD = ("forward_macs", "neuron_updates", "forward_weight_bytes_sram", "forward_weight_bytes_dram")

    def __post_init__(self):
        _choice(self, "reset_term", ("detached", "full"))
        _choice(self, "backward", ("dense", "event"))
        _choice(self, "arithmetic", tuple(ARITHMETIC))
        if isinstance(self.state_bits, bool) or not isinstance(self.state_bits, numbers.Integral) or \
                not 1 <= self.state_bits <= 64:
            raise RuleError(f"TimeStepAccelerator: state_bits = {self.state_bits!r} is out of range; allowed: "
                            "an integer from 1 to 64")
        _real_at_least(self, "sram_bytes", 0)
        _real_at_least(self, "weight_sram_bytes", 0)
        _int_at_least("TimeStepAccelerator: batch", self.batch, 1)
        _real_at_least(self, "dram_pj_per_byte", 0, strict=True)
        _choice(self, "gradient_accumulator", ("register", "memory"))

    @property
    def name(self) -> str:
        return (f"time-step SG accelerator ({self.backward} backward, {self.reset_term} reset, {self.arithmetic}, "
                f"gradients in {self.gradient_accumulator})")

    def footprint(self, sizes, T, recurrent=None) -> dict:
        """Bytes of weights (with gradients) per matrix and where each lives; state bytes and
        the SRAM share of them."""
        sizes, T, _, _, mats = network(sizes, T, recurrent=recurrent)
        w, g, b = ARITHMETIC[self.arithmetic], ACC_BITS, self.state_bits
        levels, used = [], 0
        for _, _, n_pre, n_post in mats:
            unit = _div(n_pre * n_post * (w + g), 8)
            fits = used + unit <= self.weight_sram_bytes
            used += unit if fits else 0
            levels.append("sram" if fits else "dram")
        state = _div(T * (sizes[0] + sum(sizes[1:-1]) * (b + 1) + sizes[-1] * b), 8)
        return {"matrix_bytes": [_div(p * q * (w + g), 8) for _, _, p, q in mats], "matrix_levels": levels,
                "state_bytes": state, "state_sram_bytes": min(state, self.sram_bytes)}

    def counts(self, sizes, T, activity=None, recurrent=None) -> dict:
        sizes, T, activity, recurrent, mats = network(sizes, T, activity, recurrent, self.backward == "event")
        fp = self.footprint(sizes, T, recurrent)
        N, C, B = sum(sizes[1:-1]), sizes[-1], self.batch
        w, g = ARITHMETIC[self.arithmetic], ACC_BITS
        c = dict.fromkeys(("forward_macs", "backward_macs", "gradient_macs"), 0)
        for k in ("forward_weight", "backward_weight", "gradient", "update"):
            c[f"{k}_bytes_sram"] = c[f"{k}_bytes_dram"] = 0
        for (pre, _, n_pre, n_post), level in zip(mats, fp["matrix_levels"]):
            fwd = T * n_pre * n_post if self.backward == "dense" else activity[pre] * n_pre * T * n_post
            bwd = T * n_pre * n_post if pre >= 1 else 0
            c["forward_macs"] += fwd
            c["backward_macs"] += bwd
            c["gradient_macs"] += fwd
            c[f"forward_weight_bytes_{level}"] += _div(fwd * w, 8)
            c[f"backward_weight_bytes_{level}"] += _div(bwd * w, 8)
            if self.gradient_accumulator == "register":
                c[f"gradient_bytes_{level}"] += _div(n_pre * n_post * g, 8)
            else:
                c[f"gradient_bytes_{level}"] += _div(fwd * 2 * g, 8)
            c[f"update_bytes_{level}"] += _div(n_pre * n_post * (2 * w + g), 8 * B)
        W = sum(p * q for _, _, p, q in mats)
        sram = fp["state_sram_bytes"]
        c.update(neuron_updates=T * N, readout_errors=T * C, surrogate_evals=T * N, temporal_macs=T * N,
                 reset_macs=T * N if self.reset_term == "full" else 0, update_macs=_div(W, B),
                 state_write_bytes_sram=sram, state_write_bytes_dram=fp["state_bytes"] - sram,
                 state_read_bytes_sram=sram, state_read_bytes_dram=fp["state_bytes"] - sram)
        return c

    def prices(self) -> dict:
        """pJ per unit of each count kind."""
        a = self.arithmetic
        mac, wsram, ssram = mac_pj(a), sram_pj_per_byte(self.weight_sram_bytes), sram_pj_per_byte(self.sram_bytes)
        p = {k: mac for k in ("forward_macs", "backward_macs", "gradient_macs", "temporal_macs", "reset_macs",
                              "update_macs")}
        p.update(neuron_updates=op_pj("neuron_update", a), surrogate_evals=op_pj("surrogate", a),
                 readout_errors=op_pj("readout_error", a))
        for k in ("forward_weight", "backward_weight", "gradient", "update"):
            p[f"{k}_bytes_sram"], p[f"{k}_bytes_dram"] = wsram, self.dram_pj_per_byte
        for k in ("state_write", "state_read"):
            p[f"{k}_bytes_sram"], p[f"{k}_bytes_dram"] = ssram, self.dram_pj_per_byte
        return p

    def energy_pj(self, counts: dict) -> dict:
        return _energy(counts, self.prices(), self.FORWARD)

    def assumptions(self) -> dict:
        c = constants()
        glb = f"{c['eyeriss_glb_bytes'].source} (derived: the same size for this buffer)"
        units = {"reset_term": "", "backward": "", "arithmetic": "", "state_bits": "bits", "sram_bytes": "bytes",
                 "weight_sram_bytes": "bytes", "batch": "samples per weight update", "dram_pj_per_byte": "pJ/byte",
                 "gradient_accumulator": ""}
        sources = {
            "reset_term": _RESET_SOURCE,
            "backward": "issue 13: every neuron and synapse at every step",
            "arithmetic": "horowitz45nm prices the project's learning arithmetic in fp32",
            "state_bits": "derived: a 16-bit membrane potential, the width of the chip's error register "
                          "(CoreSpec.error_bits)",
            "sram_bytes": c["eyeriss_glb_bytes"].source, "weight_sram_bytes": glb,
            "batch": _BATCH_SOURCE, "dram_pj_per_byte": _dram_source(),
            "gradient_accumulator": (
                "register: output-stationary weight-gradient dataflow, the partial sum kept in the PE over the "
                "T steps and written to the buffer once per sample (Chen et al., 'Eyeriss', ISCA 2016, dataflow "
                "taxonomy; Sze et al., 'Efficient Processing of Deep Neural Networks', Proc. IEEE 2017); "
                "memory: every gradient MAC reads and writes its accumulator in the weight buffer")}
        prices = {
            "mac_pj": (mac_pj(self.arithmetic), "pJ", f"derived: {self.arithmetic} mult + {ACC_BITS}-bit accumulate, "
                       + HOROWITZ),
            "neuron_update_pj": (op_pj("neuron_update", self.arithmetic), "pJ", "derived: " + OPS["neuron_update"][2]),
            "surrogate_pj": (op_pj("surrogate", self.arithmetic), "pJ", "derived: " + OPS["surrogate"][2]),
            "readout_error_pj": (op_pj("readout_error", self.arithmetic), "pJ", "derived: " + OPS["readout_error"][2]),
            "state_sram_pj_per_byte": (sram_pj_per_byte(self.sram_bytes), "pJ/byte",
                                       "derived: sram_pj_per_byte(sram_bytes), " + HOROWITZ),
            "weight_sram_pj_per_byte": (sram_pj_per_byte(self.weight_sram_bytes), "pJ/byte",
                                        "derived: sram_pj_per_byte(weight_sram_bytes), " + HOROWITZ),
            "accumulator_bits": (ACC_BITS, "bits", "Micikevicius et al., ICLR 2018 (fp32 accumulation)"),
        }
        return _assumptions(self, units, sources, prices)


# -- baseline 3: the GPU estimate ---------------------------------------------------------------

@dataclass(frozen=True)
class GPUEstimate:
    """BPTT-SG on a GPU, step by step as an eager framework runs it (snnTorch-style loop over
    t), priced from FLOPs and DRAM bytes: E = FLOPs x pJ/FLOP + DRAM bytes x pJ/byte.

    Per sample, e = bytes per element (fp32 4, fp16 2), gradients 4 bytes; the weights and
    gradients are cache-resident when |W| (e + 4) <= cache_bytes. FLOPs (a MAC is 2):
      forward_mac_flops  = 2 T |W|,  neuron_flops = 3 T N (leak MAC + compare)
      backward_mac_flops = 2 T sum of transposed |W_m|,  gradient_mac_flops = 2 T |W|
      surrogate_flops = 8 T N,  temporal_flops = 2 T N,  reset_flops = 2 T N ("full") or 0
      readout_error_flops = 8 T C,  update_flops = 2 |W| / B
    DRAM bytes:
      forward_weight_bytes  = |W| e / B if resident, else T |W| e / B (weights read every step,
                              once per batch of B samples in lockstep)
      activation_bytes      = T e (n0 + 4 N + 2 C): input read; membrane and spikes of every
                              hidden neuron written and read; readout written and read
      state_read_bytes      = T e (n0 + 2 N): the saved input, membrane and spikes read back
      error_bytes           = T e (2 C + 4 N): readout errors, dL/du and dL/ds written and read
      backward_weight_bytes = 0 if resident, else T e (transposed |W|) / B
      gradient_bytes        = 0 if resident, else 2 T 4 |W| / B (read and write every step)
      update_bytes          = |W| e / B if resident (write back), else |W| (2 e + 4) / B
    pJ/FLOP is board power over peak FLOP/s (V100): all-in at full use, so optimistic for
    small kernels; DRAM bytes are priced on top. Dense only: GPU GEMMs do not skip zeros, so
    `activity` is validated and not used.
    """

    reset_term: str = "detached"
    arithmetic: str = "fp32"
    batch: int = 1
    cache_bytes: int = int(_PUBLISHED["v100_l2_bytes"].value)
    dram_pj_per_byte: float = _PUBLISHED["dram_64bit_pj"].value / 8
    pj_per_flop: float | None = None   # None: the V100's for `arithmetic`

    FORWARD = ("forward_mac_flops", "neuron_flops", "forward_weight_bytes", "activation_bytes")

    def __post_init__(self):
        _choice(self, "reset_term", ("detached", "full"))
        _choice(self, "arithmetic", GPU_ARITHMETIC)
        _int_at_least("GPUEstimate: batch", self.batch, 1)
        _real_at_least(self, "cache_bytes", 0)
        _real_at_least(self, "dram_pj_per_byte", 0, strict=True)
        if self.pj_per_flop is not None:
            _real_at_least(self, "pj_per_flop", 0, strict=True)

    @property
    def name(self) -> str:
        return f"GPU estimate (V100, {self.arithmetic}, batch {self.batch}, {self.reset_term} reset)"

    @property
    def flop_pj(self) -> float:
        if self.pj_per_flop is not None:
            return self.pj_per_flop
        return constants()[f"v100_{self.arithmetic}_pj_per_flop"].value

    def counts(self, sizes, T, activity=None, recurrent=None) -> dict:
        sizes, T, activity, recurrent, mats = network(sizes, T, activity, recurrent)
        e, g, B = ARITHMETIC[self.arithmetic] // 8, ACC_BITS // 8, self.batch
        n0, N, C = sizes[0], sum(sizes[1:-1]), sizes[-1]
        W = sum(p * q for _, _, p, q in mats)
        Wt = sum(p * q for pre, _, p, q in mats if pre >= 1)
        resident = W * (e + g) <= self.cache_bytes
        return {
            "forward_mac_flops": 2 * T * W, "neuron_flops": 3 * T * N,
            "forward_weight_bytes": _div(W * e * (1 if resident else T), B),
            "activation_bytes": T * e * (n0 + 4 * N + 2 * C),
            "readout_error_flops": 8 * T * C, "backward_mac_flops": 2 * T * Wt, "gradient_mac_flops": 2 * T * W,
            "surrogate_flops": 8 * T * N, "temporal_flops": 2 * T * N,
            "reset_flops": 2 * T * N if self.reset_term == "full" else 0, "update_flops": _div(2 * W, B),
            "state_read_bytes": T * e * (n0 + 2 * N), "error_bytes": T * e * (2 * C + 4 * N),
            "backward_weight_bytes": 0 if resident else _div(T * e * Wt, B),
            "gradient_bytes": 0 if resident else _div(2 * T * g * W, B),
            "update_bytes": _div(W * e, B) if resident else _div(W * (2 * e + g), B),
        }

    def prices(self) -> dict:
        return {k: (self.flop_pj if k.endswith("_flops") else self.dram_pj_per_byte)
                for k in ("forward_mac_flops", "neuron_flops", "forward_weight_bytes", "activation_bytes",
                          "readout_error_flops", "backward_mac_flops", "gradient_mac_flops", "surrogate_flops",
                          "temporal_flops", "reset_flops", "update_flops", "state_read_bytes", "error_bytes",
                          "backward_weight_bytes", "gradient_bytes", "update_bytes")}

    def energy_pj(self, counts: dict) -> dict:
        return _energy(counts, self.prices(), self.FORWARD)

    def assumptions(self) -> dict:
        c = constants()
        flop = c[f"v100_{self.arithmetic}_pj_per_flop"]
        units = {"reset_term": "", "arithmetic": "", "batch": "samples per weight update", "cache_bytes": "bytes",
                 "dram_pj_per_byte": "pJ/byte", "pj_per_flop": "pJ/FLOP"}
        sources = {
            "reset_term": _RESET_SOURCE, "arithmetic": "PyTorch's default dtype", "batch": _BATCH_SOURCE,
            "cache_bytes": c["v100_l2_bytes"].source,
            "dram_pj_per_byte": _dram_source() + "; a GPU's HBM2 costs less per byte",
            "pj_per_flop": "given" if self.pj_per_flop is not None else (
                f"{flop.basis}: {c['v100_watts'].value} W / {c[f'v100_{self.arithmetic}_flops'].value:.4g} "
                f"FLOP/s ({flop.source})")}
        out = _assumptions(self, units, sources, {})
        out["pj_per_flop"]["value"] = self.flop_pj
        return out


def baseline_table(models) -> list[dict]:
    """One row per model for a report: its name and every parameter with value, unit, source."""
    return [{"name": m.name, "parameters": m.assumptions()} for m in models]
