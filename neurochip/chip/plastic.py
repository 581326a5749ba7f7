"""Plastic cores: a learning rule compiled onto a placed network, where the synapses live.

A rule (`neurochip.rules`) is data; `compile_plasticity` turns it, for one placed network,
into the arrays the learning engines of the cores run (`chip.plastic_kernels`), next to the
compiled forward program (`chip.program`). The forward pass is the chip's own, unchanged.

The network: one spike source at depth 0 and a chain of populations p_1 .. p_L; p_d gets a
forward projection from p_{d-1} and may have a recurrent projection p_d -> p_d (d < L).
Hidden layers (d < L) are LIF that reset to zero or by theta (v_sub = vth), no current
memory (du = 4095, float du = 1), one dv and one vth for all of them. The readout p_L is
memoryless and never spikes (du = 4095, dv = 4096, vth = NEVER_VTH; float du = dv = 1):
its v is this step's input, and o = v / theta (float: o = v), theta = vth << 6 of the
hidden layers. Every projection is plastic; delays must be 0; fixed point: one weight_exp
>= 0 for all (the program stores w = mant << weight_exp), 8-bit mixed-sign weights whose
grid is even mantissas (LSB 2) in [-256, 254].

Timeline (one step per projection, as on the chip): the logical step t of depth d runs at
chip step t + d; a sample of T steps is presented at chip steps 0 .. T-1 and learns for
S = T + 2L - 1 chip steps, from the reset state. Per chip step tau, in this order:

 1. traces (at the destination core of every input axon that feeds a plastic synapse): the
    sender (depth d_s, 0 for the source; global id: neuron id, or N + channel) whose
    packets arrived in the previous step's delivery is at logical t_s = tau - 1 - d_s; if
    t_s >= 0: A[t_s] = R_trace(A[t_s - 1] * lam) + I_tr * arrived, capped at A_MAX, and
    B[t_s] = arrived (spike bit); both kept in rings of H = 2L - 1 slots (slot t mod H;
    A[-1] = 0). lam = (4096 - dv) / 4096 of the hidden layers. Counted: one trace update
    per axon with A[t_s - 1] != 0 or arrived, on the destination core.
 2. neuron update, spike routing and delivery of the forward pass (chip.kernels); hidden
    neuron j at depth d with logical t = tau - d in [0, T) stores S_j[t] = surrogate of its
    potential before the spike test, vpre (any reset): fixed LUT[clip((vpre - theta) >> sh, -K, K)
    + K], float sg(vpre - theta) with sg(x) = alpha sig(alpha x)(1 - sig(alpha x)) and sig
    from math.exp; one surrogate evaluation each, on its core.
 3. learning phase; depth d works on logical t_d = tau - 2L + d, only if 0 <= t_d < T:
    a. errors. Readout: o_k as above, e = loss_grad(o, y) (L = (1 - gamma) CE + gamma MSE
       as rules.rule says; exp by math.exp); E_k = Q(e_k / T * 2**F_e) (float: e_k / T);
       one error op per readout compartment. Hidden j: E_j = Q(c_e * (G_j * S_j[t_d]))
       (float: G_j * S_j[t_d]) where G_j is the feedback sum received in the previous
       step; one error op per j with G_j != 0. Q is stochastic rounding (stream ERROR,
       index j, step n) clipped to +-E_MAX. Then G = 0.
    b. errors down: every neuron i of depth >= 2 with E_i != 0 sends E_i as a graded spike
       (a packet with a payload) on each of its feedback axons (one per core holding its
       feedback synapses; packets and hops from its core, counted on its core; an axon-in
       on the receiving core); each feedback synapse i -> j (at j's core) does
       G_next_j += b_ij * E_i: one feedback synaptic op there.
       b_ij: feedback "mirror": the current forward weight of j -> i (mantissa; float: the
       weight); "random": a fixed matrix (fixed point: rint(B / unit) clipped to [-256, 255]).
    c. updates: every plastic synapse j -> i (i at depth d, i's E_i != 0) with pre term P !=
       0, P = A_j[t_d] (recurrent synapse: A_j[t_d - 1], 0 if t_d = 0), or P = I_tr * B_j[t_d]
       if i is the readout (its trace is the spike itself: lam = 0; float: B_j[t_d]).
       OTTT_O: mant += LSB * R_weight(-c_w * (P * E_i) / LSB), clipped to [W_MIN, W_MAX]
       (float: w += -eta * P * E_i); a weight write (read-modify-write) on the synapse's
       core, and with mirror feedback one more write of the mirror on its core.
       OTTT_A: tag += P * E_i, saturating at +-TAG_MAX (float: tag += -eta * P * E_i); a
       tag update.
    G_next becomes G.
 End of sample (after chip step S - 1), OTTT_A: every synapse with tag != 0 is written as
 OTTT_O writes d = -c_w * tag (float: w += tag), then tag = 0. Step counter n: a global
 count of chip steps learned (samples seen x S + tau); the end-of-sample write uses the n
 of the sample's last step.

Fixed-point constants (widths from `CoreSpec`: trace_bits, error_bits, surrogate_bits,
tag_bits): A_MAX = 2**trace_bits - 1; F_t the largest integer with 2**F_t / (1 - lam) <=
A_MAX (trace_bits - 1 if lam = 0; 0 if lam = 1: the trace saturates), I_tr = 2**F_t; F_e = error_bits - 2, E_MAX = 2**(error_bits
- 1) - 1; F_s = surrogate_bits - 1, LUT[k + K] = min(rint(sg(k 2**sh / theta) 2**F_s),
2**surrogate_bits - 1) for k in [-K, K], K = 256, sh = max(0, floor(log2 theta) - 6);
TAG_MAX = 2**(tag_bits - 1) - 1; unit = 2**(weight_exp + 6) / theta (the float weight of one
mantissa unit); c_e = dyadic(unit / 2**F_s); c_w = dyadic(eta / (unit 2**(F_t + F_e))).
dyadic(x) keeps 16 significant bits, so every product is exact and rounding is Loihi's
(stochastic, on integers with random bits). R_trace, R_weight are stochastic rounding with
streams TRACE (index: sender id) and WEIGHT (index: the synapse's place in the network's
synapse table, independent of placement). Every draw is `fixed.uniform_at(seed, stream,
index, n)`: counter-based, so weights do not depend on how the network is placed.

OTTT_A's weights are those of offline OTTT (Xiao et al. 2022) on the same network: the
pipeline only delays each layer. OTTT_O writes hidden layers 2(L - d) - 1 steps after the
step they learn from (the error needs that long to come down), as pipelined hardware does.

Event-driven rules (STD_ED, MPD_ED: `rules.rule.EventDriven`, Wei et al. 2024, our stated
operational definitions). The network as above, except that the readout p_L is a spiking LIF
like the hidden layers (same dv, vth, reset; STD_ED: dv = 0, integrate-and-fire) and every
population's threshold adapts: the compartment's threshold register thr_i (the program's vth
and, with reset by threshold, its v_sub; fixed: v units, starting at theta = vth << 6; float:
starting at theta) is learned state, kept across samples. Traces as above, in rings of H = 2
slots; the readout's synapses use the trace A too (no spike bits). A sample of T steps runs
the forward pass for T + L chip steps, then a learning epoch of L + 1 phases. Per chip step
tau < T + L:

 1. traces, as above.
 2. neuron update, routing and delivery (chip.kernels). Every neuron i at depth d >= 1 with
    logical t = tau - d in [0, T): if it spiked, phi_i = fixed LUT[...] / float phi (below,
    from its vpre and from v_last, its v after the previous step), one surrogate evaluation;
    G_i += phi_i and c_i += 1 (MPD_ED) or T - t (STD_ED), saturating at TAG_MAX. Then
    (spiked or not) thr_i += Q_thr(kappa theta (s_i - rate)) clipped to [thr_min, thr_max]
    (fixed: Q_thr stochastic rounding, stream THRESH, index i, step n; bounds ceil(thr_lo
    theta), floor(thr_hi theta); float: no rounding, bounds thr_lo theta, thr_hi theta); one
    trace update on i's core. phi uses the threshold from before this update.
    MPD_ED phi: fixed LUT_E[clip((vpre - thr_i) >> sh, -K, K) + K] with LUT_E the OTTT LUT
    at F_phi fraction bits; float sg((vpre - thr_i) / theta) (in threshold units, as the LUT).
    STD_ED phi: fixed LUT_E[clip((vpre - v_last_i) >> sh, 0, 2K)], LUT_E[k] = min(rint(
    2**F_phi / max(k 2**sh / theta, s_min)), 2**surrogate_bits - 1); float 1 / max((vpre -
    v_last_i) / theta, s_min).
 3. eligibility, at the synapses of the neurons that spiked in 2: every synapse j -> i into
    depth d with t_d = tau - d in [0, T), i spiked at t_d and pre term P = A_j[t_d] (recurrent:
    A_j[t_d - 1], 0 if t_d = 0) != 0: tag += phi_i P (fixed: saturating at +-TAG_MAX); one
    tag update on the synapse's core.
Learning epoch, after chip step T + L - 1; phase p runs at step number n = n0 + T + L + p:
 p = 0: the readout, o_k = readout_scale c_k (MPD_ED) or readout_scale c_k / T (STD_ED);
    e = loss_grad(o, y); D_k = Q(e_k readout_scale 2**F_E) clipped to +-E_MAX (float: e_k
    readout_scale); one error op per readout compartment.
 p = L - d for hidden depth d = L-1 .. 1: D_j = Q(c_d Gin_j) (float: Gin_j) for every j with
    c_j != 0, else D_j = 0; one error op per j with c_j != 0. (Q: stream ERROR, index j, step n.)
 In phase L - d, after the D of depth d, every i at depth d >= 2 with c_i != 0 and D_i != 0
    sends E_i = Q(c_p D_i G_i / c_i) (MPD_ED; STD_ED: Q(c_p D_i G_i)), clipped to +-E_MAX
    (float: D_i G_i psi / c_i, psi = 1 for MPD_ED, 1 / T and no division by c_i for STD_ED;
    one error op; Q: stream PAYLOAD, index i, step n), as a graded spike on its feedback axons (packets,
    hops, axons in, counted as for OTTT); every feedback synapse i -> j: Gin_j += b_ij E_i
    (mirror feedback only: b_ij the forward weight's mantissa; float the weight), one feedback
    synaptic op on j's core.
 p = L: writes: every synapse j -> i with tag != 0 and D_i != 0 gets the OTTT_O write of d =
    -c_w D_i tag (float: w += -eta psi D_i tag), step n; with its mirror. Then every tag, G,
    c, Gin and D is 0.
 Each phase is timed as a learning phase (slowest core), plus the barrier. step_no advances
 by T + 2L + 1 per sample.
Constants: F_phi = floor(log2((2**surrogate_bits - 1) / phi_max)), phi_max = alpha / 4
(MPD_ED) or 1 / s_min (STD_ED); F_E = error_bits - 4 (errors up to +-8); c_d = dyadic(unit);
c_p = dyadic(psi / 2**F_phi); c_w = dyadic(eta psi / (unit 2**(F_E + F_phi + F_t))).
Inference reads the readout's spikes at logical t in [0, T): the class with the largest
count (MPD_ED) or sum of (T - t) (STD_ED).

BPTT-SG (BPTT_SG: `rules.rule.BPTT`, the time-step baseline, on the chip). The network as
for OTTT, without recurrence, with mirrored feedback. A sample runs the forward pass for
T + L chip steps and stores every step's state for the backward pass: the spike bit
B_j[t] of every input axon (1 bit, at the axon's core), the surrogate S_j[t] of every hidden
compartment (OTTT's step 2; surrogate_bits) and the readout error E_k[t] (OTTT's 3a at t =
tau - L, step number n = n0 + tau; error_bits); counted once per sample as state_write_bytes
of each core (ceil(T x its bits per step / 8)), and read back (state_read_bytes) by the
backward pass. Backward through time, r = 0 .. T-1, t = T - 1 - r, step n = n0 + T + L + r,
one phase per depth d = L .. 1 (timed as a learning phase plus the barrier):
 - d = L: D_k = E_k[t]. d < L: hidden j: D_j = Q(((c_u G_j - rho lam Dn_j) S_j[t]) 2**-F_s
   + lam Dn_j) (float: ((G_j - rho lam theta Dn_j) S_j[t]) + lam Dn_j) if G_j != 0 or Dn_j
   != 0, else 0; G_j is the feedback sum from depth d + 1 (then 0), Dn_j the D_j of step
   t + 1 (0 at t = T - 1), rho = 1 with reset_grad "full" (Yang 2020's reset path), 0
   "detached". Error ops: 1 for G_j != 0, and 1 (rho = 1: 2) for Dn_j != 0. Q: stream
   ERROR, index j, step n.
 - tags: every synapse j -> i into depth d with B_j[t] = 1 and D_i != 0: tag += I_tr D_i,
   saturating at +-TAG_MAX (float: tag += -eta D_i); a tag update.
 - d >= 2: every i at depth d with D_i != 0 sends D_i down as OTTT's 3b does.
End of sample (step n0 + 2T + L - 1): OTTT_A's writes of every tag != 0, with mirrors.
step_no advances by 2T + L. Constants: OTTT's, and c_u = dyadic(unit).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from neurochip.chip.placement import Placement
from neurochip.chip.program import Program, check_fit
from neurochip.chip.spec import ChipSpec
from neurochip.chip.synapses import SynapseTable, index
from neurochip.model.errors import NetworkError
from neurochip.model.fixed import (ACT_SHIFT, DECAY_ONE, NEVER_VTH, NEVER_VTH_FLOAT, VTH_SHIFT, WEIGHT_BITS,
                                   dyadic)
from neurochip.model.network import Network

OTTT_O, OTTT_A, STD_ED, MPD_ED, BPTT_SG = 0, 1, 2, 3, 4   # rule codes of the learning engines
EVENT_RULES = (STD_ED, MPD_ED)
MIRROR, RANDOM = 0, 1          # feedback kinds
TRACE, ERROR, WEIGHT, THRESH, PAYLOAD = 1, 2, 3, 4, 5  # streams of the rounding draws (fixed.uniform_at)
SEG_FORWARD, SEG_RECURRENT, SEG_READOUT = 0, 1, 2   # a synapse's pre term: A[t], A[t - 1], I_tr B[t]
LUT_HALF = 256                 # K: the surrogate LUT covers |vpre - theta| <= 4 theta
LUT_STEPS = 6                  # 2**6 LUT entries per theta


class PlasticityError(NetworkError):
    """A rule cannot be compiled onto this network or chip; the message says why."""


@dataclass(frozen=True)
class Plasticity:
    """What the learning engines run: `rule` (OTTT_O, OTTT_A, STD_ED, MPD_ED or BPTT_SG), learning
    rate `eta`, loss mix `gamma`, surrogate slope `alpha`, `feedback` (MIRROR or RANDOM;
    random matrices in `random_feedback`, (n_pre, n_post) float per forward projection name
    between hidden layers; the event-driven rules take MIRROR), the `seed` of the rounding
    draws, the event-driven rules' constants (`rules.rule.EventDriven`), and BPTT_SG's
    `reset_full` (the reset path's gradient). Built by `neurochip.rules`."""

    rule: int
    eta: float
    gamma: float
    alpha: float
    feedback: int = MIRROR
    random_feedback: dict | None = None
    seed: int = 0
    s_min: float = 0.1
    readout_scale: float = 0.5
    kappa: float = 0.002
    rate: float = 0.05
    thr_lo: float = 0.05
    thr_hi: float = 4.0
    reset_full: bool = False


@dataclass
class PlasticProgram:
    """The arrays of the learning engines (see the module docstring for what they mean)."""

    rule: int
    fixed: bool
    depth_of: np.ndarray        # (N + M,) depth of every sender (neurons, then input channels)
    L: int
    H: int
    readout: tuple              # (lo, hi) neuron ids of the readout
    theta: float                # threshold scale of o and of the surrogate (fixed: vth << 6)
    alpha: float
    gamma: float
    eta: float
    seed: int
    # per direct synapse of the program (program order)
    syn_id: np.ndarray          # place in the network's synapse table
    mirror_of: np.ndarray       # index of its mirror feedback synapse, -1 if none
    # segments: runs of one axon's synapses into one depth, of one kind
    seg: np.ndarray             # (segments, 6): first synapse, end, axon, target depth, kind, first
                                # target if the targets are consecutive (else -1)
    ax_sender: np.ndarray
    # feedback: neuron -> feedback axons -> feedback synapses
    fb_out_ptr: np.ndarray
    fb_ew: np.ndarray
    fb_ns: np.ndarray
    fb_chip: np.ndarray         # chip links a feedback packet crosses (ChipSpec.routes)
    fb_row: np.ndarray          # counter row of each feedback axon's core
    fb_syn_ptr: np.ndarray
    fb_tgt: np.ndarray
    fb_t0: np.ndarray           # a feedback axon's first target if its targets are consecutive, else -1
    fb_w: np.ndarray            # float64: mantissas (fixed) or weights
    fb_syn_row: np.ndarray      # counter row of each feedback synapse's core
    # constants
    lam: float
    impulse: float
    trace_max: float
    error_scale: float          # 2**F_e
    error_max: float
    tag_max: float
    c_e: float
    c_w: float
    lsb: float
    w_min: float
    w_max: float
    wexp: int
    lut: np.ndarray
    lut_shift: int
    latency_ns: np.ndarray      # per event kind of `events.ALL_EVENTS`
    state_bytes: np.ndarray     # learning state held per counter row (traces, surrogates, errors)
    # event-driven rules (0 for OTTT)
    c_d: float = 0.0
    c_p: float = 0.0
    s_min: float = 0.0
    readout_scale: float = 0.0
    kappa_theta: float = 0.0
    rate: float = 0.0
    thr_min: float = 0.0
    thr_max: float = 0.0
    sub_follows: bool = False   # reset by the threshold: v_sub follows the adapted threshold
    # BPTT_SG
    c_u: float = 1.0
    s_scale: float = 1.0        # 2**-F_s
    reset_full: bool = False
    step_state_bits: np.ndarray | None = None   # bits stored per step on each counter row

    def steps(self, T: int) -> int:
        """Steps of the rounding counter a sample of T steps takes (chip steps, and the
        event-driven rules' epoch phases)."""
        if self.rule == BPTT_SG:
            return 2 * T + self.L
        return T + 2 * self.L + 1 if self.rule in EVENT_RULES else T + 2 * self.L - 1

    def event_constants(self, T: int) -> tuple:
        """(psi, c_p, c_w) of an event-driven rule for samples of T steps: psi = 1 / T for
        STD-ED, 1 for MPD-ED; fixed point: dyadic(psi c), as the docstring defines them."""
        psi = 1.0 / T if self.rule == STD_ED else 1.0
        if self.fixed:
            return psi, dyadic(self.c_p * psi), dyadic(self.c_w * psi)
        return psi, self.c_p * psi, self.c_w * psi


def chain(net: Network) -> tuple[str, list[str], list, dict]:
    """(source, [p_1 .. p_L], forward projections, {population: recurrent projection}) of a
    layered network, or a PlasticityError saying what breaks the shape."""
    sources = net.sources()
    if len(sources) != 1:
        raise PlasticityError(f"learning on the chip needs exactly one spike source, the network has {sources}")
    layers, forward, recurrent = [sources[0]], [], {}
    for proj in net.projections:
        if proj.pre == proj.post:
            recurrent[proj.post] = proj
    while True:
        out = [p for p in net.projections if p.pre == layers[-1] and p.post != p.pre]
        if not out:
            break
        if len(out) > 1 or out[0].post in layers:
            raise PlasticityError(f"population {layers[-1]!r} projects to {[p.post for p in out]}; learning on the "
                                  "chip serves a chain of layers (each feeding the next, plus recurrence)")
        layers.append(out[0].post)
        forward.append(out[0])
    missing = sorted(set(net.populations) - set(layers))
    if missing or len(forward) + len(recurrent) != len(net.projections):
        raise PlasticityError(f"populations {missing} or some projections are off the chain {layers}; learning on "
                              "the chip serves a chain of layers (each feeding the next, plus recurrence)")
    if len(layers) < 3:
        raise PlasticityError(f"the chain {layers} needs at least one hidden layer before the readout")
    if layers[-1] in recurrent:
        raise PlasticityError(f"the readout {layers[-1]!r} has a recurrent projection; it must be memoryless")
    return sources[0], layers[1:], forward, recurrent


def _check_layers(net: Network, layers: list[str], projections: list, fixed: bool, spiking_readout: bool) -> tuple:
    """(theta, lam, weight_exp, dv) shared by the spiking layers; errors name the population."""
    never = NEVER_VTH if fixed else NEVER_VTH_FLOAT
    no_memory = DECAY_ONE - 1 if fixed else 1.0
    readout = net.populations[layers[-1]]
    if not spiking_readout and (getattr(readout, "kernel", None) != "lif" or readout.vth != never
                                or readout.du != no_memory or readout.dv != (DECAY_ONE if fixed else 1.0)):
        raise PlasticityError(f"readout {layers[-1]!r}: must be a memoryless LIF compartment that never spikes "
                              f"(du = {no_memory}, dv = {DECAY_ONE if fixed else 1.0}, vth = {never}); "
                              "the loss reads its input o = v")
    first = net.populations[layers[0]]
    for name in layers if spiking_readout else layers[:-1]:
        p = net.populations[name]
        if getattr(p, "kernel", None) != "lif" or (p.reset == "subtract" and p.v_sub != p.vth):
            raise PlasticityError(f"population {name!r}: the rules need LIF that resets to zero or by its "
                                  "threshold (reset='subtract' with v_sub = vth)")
        if p.du != no_memory:
            raise PlasticityError(f"population {name!r}: keeps a synaptic current (du = {p.du}); the presynaptic "
                                  f"trace a <- lam a + s models du = {no_memory}")
        if p.dv != first.dv or p.vth != first.vth or p.reset != first.reset:
            raise PlasticityError(f"population {name!r}: dv {p.dv}, vth {p.vth} and reset {p.reset!r} differ from "
                                  f"{layers[0]!r}'s ({first.dv}, {first.vth}, {first.reset!r}); the spiking layers "
                                  "share one leak, threshold and reset")
        if np.any(np.asarray(getattr(p, "bias", 0)) != 0) and spiking_readout:
            raise PlasticityError(f"population {name!r}: has a bias; the event-driven rules take none")
    exps = {int(p.weight_exp) for p in projections}
    for p in projections:
        if np.any(p.delay != 0):
            raise PlasticityError(f"projection {p.name!r}: has a delay; the traces assume none")
    if fixed and (len(exps) != 1 or min(exps) < 0):
        raise PlasticityError(f"plastic projections need one weight_exp >= 0, got {sorted(exps)}")
    if fixed:
        return float(int(first.vth) << VTH_SHIFT), 1.0 - first.dv / DECAY_ONE, exps.pop(), first.dv
    return float(first.vth), 1.0 - first.dv, 0, first.dv


def compile_plasticity(net: Network, chip: ChipSpec, placement: Placement, table: SynapseTable, program: Program,
                       plasticity: Plasticity) -> PlasticProgram:
    """The learning engines' arrays for `net` compiled as `program` (built from `table`,
    with `keep_zeros` for every projection). Adds the tags and feedback synapses to the
    cores' synapse memory and checks that they still fit (FitError naming core and limit)."""
    fixed = program.fixed_point
    event = plasticity.rule in EVENT_RULES
    source, layers, forward, recurrent = chain(net)
    theta, lam, wexp, dv = _check_layers(net, layers, forward + list(recurrent.values()), fixed, event)
    if (event or plasticity.rule == BPTT_SG) and plasticity.feedback != MIRROR:
        raise PlasticityError("the event-driven rules and BPTT-SG send errors back through mirrored feedback "
                              "(feedback=MIRROR)")
    if plasticity.rule == BPTT_SG and recurrent:
        raise PlasticityError(f"BPTT-SG on the chip serves feedforward chains; {sorted(recurrent)} have recurrent "
                              "projections")
    if plasticity.rule == STD_ED and lam != 1.0:
        raise PlasticityError(f"STD-ED runs integrate-and-fire neurons (dv = 0), got leak {1 - lam:g} per step "
                              f"in {layers[0]!r}")
    pop_slices, src_slices, N, M = index(net)
    L = len(layers)
    depth_of = np.zeros(N + M, np.int64)
    for d, name in enumerate(layers, start=1):
        depth_of[pop_slices[name]] = d
    core = chip.core

    # per synapse, in program order: the program sorts direct synapses by (axon, target)
    row = table.row
    direct = np.flatnonzero(row < 0)
    n_cores = chip.n_cores
    nrn_core = np.concatenate([np.asarray(placement.cores[k], np.int64) for k in net.neurons()])
    key = table.sender[direct].astype(np.int64) * n_cores + nrn_core[table.tgt[direct]]
    akeys, syn_axon = np.unique(key, return_inverse=True)
    order = np.lexsort((table.tgt[direct], syn_axon))
    syn_id = direct[order]
    if len(direct) != len(row) or not np.array_equal(program.syn_tgt, table.tgt[syn_id]):
        raise PlasticityError("plastic projections need direct synapses (weight_exp >= 0)")
    tgt, snd = table.tgt[syn_id].astype(np.int64), table.sender[syn_id].astype(np.int64)   # the table's ids may be int32
    syn_rec = (depth_of[snd] == depth_of[tgt]).astype(np.int64)
    kind = np.where((depth_of[tgt] == L) & (not event), SEG_READOUT,
                    np.where(syn_rec == 1, SEG_RECURRENT, SEG_FORWARD))
    syn_ax = np.searchsorted(program.syn_ptr, np.arange(len(syn_id)), side="right") - 1
    starts = np.flatnonzero(np.diff(syn_ax * 4 * (L + 1) + depth_of[tgt] * 4 + kind, prepend=-1))
    ends = np.append(starts[1:], len(syn_id))
    seg = np.stack([starts, ends, syn_ax[starts], depth_of[tgt][starts], kind[starts],
                    _first_if_consecutive(tgt, np.append(starts, len(syn_id)))], axis=1).astype(np.int64) \
        if len(syn_id) else np.zeros((0, 6), np.int64)
    ax_sender = akeys // n_cores

    # feedback synapses: for every forward synapse j -> i between hidden j (depth >= 1 on
    # the chip) and i, one synapse i -> j on j's core
    fb_sel = np.flatnonzero((snd < N) & (syn_rec == 0))
    fb_pre, fb_post = tgt[fb_sel], snd[fb_sel]          # feedback sender i (upper), target j (lower)
    fb_core = nrn_core[fb_post]
    fkeys, fb_axon = np.unique(fb_pre * n_cores + fb_core, return_inverse=True)
    forder = np.lexsort((fb_post, fb_axon))
    fb_sel, fb_pre, fb_post, fb_axon = fb_sel[forder], fb_pre[forder], fb_post[forder], fb_axon[forder]
    F = len(fkeys)
    fax_sender, fax_core = fkeys // n_cores, fkeys % n_cores
    fb_out_ptr = np.searchsorted(fax_sender, np.arange(N + 1)).astype(np.int64)
    fb_syn_ptr = np.searchsorted(fb_axon, np.arange(F + 1)).astype(np.int64)
    fb_ew, fb_ns, fb_chip = chip.routes(nrn_core[fax_sender], fax_core)
    row_of_core = np.full(n_cores, -1, np.int64)
    row_of_core[program.core_ids] = np.arange(len(program.core_ids))
    mirror_of = np.full(len(syn_id), -1, np.int64)
    unit = 2.0 ** (wexp + ACT_SHIFT) / theta if fixed else 1.0
    if plasticity.feedback == MIRROR:
        mirror_of[fb_sel] = np.arange(len(fb_sel))
        fb_w = program.syn_w[fb_sel].astype(np.float64) / (2.0**wexp if fixed else 1.0)
    else:
        fb_w = np.zeros(len(fb_sel))
        for proj in forward[1:]:
            B = np.asarray((plasticity.random_feedback or {}).get(proj.name), np.float64)
            want = (net.populations[proj.pre].n, net.populations[proj.post].n)
            if B.shape != want:
                raise PlasticityError(f"random feedback of {proj.name!r}: expected a {want} matrix, got {B.shape}")
            pre0, post0 = pop_slices[proj.pre].start, pop_slices[proj.post].start
            mine = (fb_post >= pre0) & (fb_post < pre0 + want[0]) & (fb_pre >= post0) & (fb_pre < post0 + want[1])
            b = B[fb_post[mine] - pre0, fb_pre[mine] - post0]
            fb_w[mine] = np.clip(np.rint(b / unit), -256, 255) if fixed else b

    # memory: tags (OTTT_A) with the synapses, feedback synapses on the lower layer's core
    R = len(program.core_ids)
    usage = {k: v.copy() for k, v in program.usage.items()}
    nrow = row_of_core[nrn_core]
    if plasticity.rule != OTTT_O:   # OTTT_A's gradient sums, the event-driven rules' eligibilities
        usage["synapse_memory_bits"] += np.bincount(nrow[tgt], minlength=R) * core.tag_bits
    fb_bits = WEIGHT_BITS + 1 + core.index_bits
    usage["synapse_memory_bits"] += np.bincount(nrow[fb_post], minlength=R) * fb_bits
    usage["input_axons"] += np.bincount(row_of_core[fax_core], minlength=R)
    usage["output_axons"] += np.bincount(nrow[fax_sender], minlength=R)
    check_fit(chip, program.core_ids, usage, net, pop_slices, nrn_core,
              what=" with the learning state (tags, feedback synapses and axons)")

    H = 2 if event else 2 * L - 1
    trace_max = float(2**core.trace_bits - 1)
    f_t = core.trace_bits - 1 if lam == 0 else 0 if lam >= 1 else int(math.floor(math.log2(trace_max * (1 - lam))))
    if fixed and f_t < 0:
        raise PlasticityError(f"trace_bits = {core.trace_bits} cannot hold a trace with leak {lam} "
                              f"(1 / (1 - lam) = {1 / (1 - lam):.3g} > {trace_max:.0f}); raise [core] trace_bits")
    f_e = core.error_bits - (4 if event else 2)
    top = 2.0**core.surrogate_bits - 1
    phi_max = 1 / plasticity.s_min if plasticity.rule == STD_ED else plasticity.alpha / 4
    f_s = int(math.floor(math.log2(top / phi_max))) if event else core.surrogate_bits - 1
    sh = max(0, int(math.floor(math.log2(theta))) - LUT_STEPS) if fixed else 0
    k = np.arange(-LUT_HALF, LUT_HALF + 1)
    if plasticity.rule == STD_ED:   # 1 / slope, the slope (vpre - v_last) / theta in [0, 2K 2**sh / theta]
        lut = np.minimum(np.rint(2.0**f_s / np.maximum((k + LUT_HALF) * 2.0**sh / theta, plasticity.s_min)), top)
    else:
        x = k * 2.0**sh / theta * plasticity.alpha
        with np.errstate(over="ignore"):
            sig = 1.0 / (1.0 + np.exp(-x))
        lut = np.minimum(np.rint(plasticity.alpha * sig * (1 - sig) * 2.0**f_s), top)
    lsb = 2.0 ** (WEIGHT_BITS - min(p.num_weight_bits for p in forward) + 1)

    state_bits = np.zeros(R + 1, np.int64)
    step_bits = np.zeros(R + 1, np.int64)
    rows_ax = row_of_core[akeys % n_cores]
    hidden = depth_of[:N] < L
    if event:   # per axon: the trace ring; per compartment: phi, G, c, D, Gin (the threshold is the neuron's)
        np.add.at(state_bits, rows_ax, H * core.trace_bits)
        np.add.at(state_bits, nrow, core.surrogate_bits + 2 * core.tag_bits + 2 * core.error_bits)
    elif plasticity.rule == BPTT_SG:   # per step: spike bits, surrogates, readout errors; G and D_next
        np.add.at(step_bits, rows_ax, 1)
        np.add.at(step_bits, nrow[hidden], core.surrogate_bits)
        np.add.at(step_bits, nrow[~hidden], core.error_bits)
        np.add.at(state_bits, nrow[hidden], 2 * core.error_bits)
    else:
        np.add.at(state_bits, rows_ax, H * (core.trace_bits + 1))
        np.add.at(state_bits, nrow[hidden], H * core.surrogate_bits + 2 * core.error_bits)
        np.add.at(state_bits, nrow[~hidden], core.error_bits)
    return PlasticProgram(
        rule=plasticity.rule, fixed=fixed, depth_of=depth_of, L=L, H=H,
        readout=(pop_slices[layers[-1]].start, pop_slices[layers[-1]].stop), theta=theta,
        alpha=plasticity.alpha, gamma=plasticity.gamma, eta=plasticity.eta, seed=int(plasticity.seed),
        syn_id=syn_id.astype(np.int64), mirror_of=mirror_of, seg=seg,
        ax_sender=ax_sender.astype(np.int64),
        fb_out_ptr=fb_out_ptr, fb_ew=fb_ew, fb_ns=fb_ns, fb_chip=fb_chip, fb_row=row_of_core[fax_core],
        fb_syn_ptr=fb_syn_ptr, fb_tgt=fb_post.astype(np.int64), fb_t0=_first_if_consecutive(fb_post, fb_syn_ptr), fb_w=fb_w, fb_syn_row=row_of_core[nrn_core[fb_post]],
        lam=lam, impulse=float(2**f_t) if fixed else 1.0, trace_max=trace_max if fixed else np.inf,
        error_scale=float(2**f_e) if fixed else 1.0, error_max=float(2 ** (core.error_bits - 1) - 1) if fixed
        else np.inf, tag_max=float(2 ** (core.tag_bits - 1) - 1) if fixed else np.inf,
        c_e=dyadic(unit / 2.0**f_s) if fixed else 1.0,
        # the event-driven rules' c_w and c_p lack psi (1 / T for STD-ED): see `event_constants`
        c_w=(plasticity.eta / (unit * 2.0 ** (f_t + f_e + f_s)) if event else
             dyadic(plasticity.eta / (unit * 2.0 ** (f_t + f_e)))) if fixed else plasticity.eta,
        lsb=lsb if fixed else 0.0, w_min=-256.0 if fixed else -np.inf, w_max=256.0 - lsb if fixed else np.inf,
        wexp=wexp, lut=lut, lut_shift=sh, latency_ns=chip.profile.vector("latency_ns", all_events=True),
        state_bytes=(state_bits + 7) // 8,
        c_d=dyadic(unit) if fixed else 1.0, c_p=2.0**-f_s if fixed else 1.0, s_min=plasticity.s_min,
        readout_scale=plasticity.readout_scale, kappa_theta=plasticity.kappa * theta, rate=plasticity.rate,
        thr_min=math.ceil(plasticity.thr_lo * theta) if fixed else plasticity.thr_lo * theta,
        thr_max=math.floor(plasticity.thr_hi * theta) if fixed else plasticity.thr_hi * theta,
        sub_follows=net.populations[layers[0]].reset == "subtract",
        c_u=dyadic(unit) if fixed else 1.0, s_scale=2.0**-f_s if fixed else 1.0,
        reset_full=bool(plasticity.reset_full), step_state_bits=step_bits)


def _first_if_consecutive(tgt: np.ndarray, ptr: np.ndarray) -> np.ndarray:
    """Per run [ptr[r], ptr[r + 1]) of sorted targets: its first target if they are t0, t0 + 1,
    ... (the kernels then need no gather), else -1 (also for an empty run)."""
    first, last = ptr[:-1], ptr[1:] - 1
    if not len(tgt):
        return np.full(len(first), -1, np.int64)
    ok = (last >= first) & (tgt[np.maximum(last, 0)] - tgt[np.minimum(first, len(tgt) - 1)] == last - first)
    return np.where(ok, tgt[np.minimum(first, len(tgt) - 1)], -1).astype(np.int64)
