"""Learning rules as data: what each updates, when, from which local state, at what cost.

Every rule is a three-factor update dW_ij = -eta * pre_j * post_i * m_i on a layered network
n0 -> n1 -> ... -> nL -> C: input spikes (or currents), hidden soft-reset LIF layers

    u[t] = lam * (u[t-1] - theta * s[t-1]) + W s_in[t],   s[t] = u[t] > theta

and a readout. The loss of step t is L[t] = (1 - gamma) CE(o[t], y) + gamma MSE(o[t], onehot(y)),
the surrogate sg(x) = alpha sig(alpha x)(1 - sig(alpha x)) at x = u - theta.
Every rule learns on the chip's plastic cores (`rules.learner.Learner`): OTTT, STD-ED and
MPD-ED, and the BPTT-SG baseline they are measured against.
"""
from __future__ import annotations

from dataclasses import dataclass

from neurochip.model.errors import NetworkError


class RuleError(NetworkError):
    """A rule cannot serve the network it is attached to; the message says why."""


@dataclass(frozen=True)
class OTTT:
    """Online training through time (Xiao et al., NeurIPS 2022).

    Presynaptic trace a_j[t] = lam a_j[t-1] + s_j[t] (lam the membrane leak; the memoryless
    readout's trace is s itself); readout o[t] = W_o s_L[t]; modulator m[t] = dL[t]/do[t] / T
    sent down by the instantaneous backward pass g_s = W^T g_u (exact OTTT, feedback
    "transpose") or B g_u with a fixed random B (feedback "random"); post factor
    g_u = g_s sg(u - theta). dW[t] = -eta g_u[t] a[t]^T.
    mode "O" (OTTT_O) writes the weights every step, "A" (OTTT_A) accumulates over the T steps
    of a sample and writes once. State: one trace per neuron (+ one accumulator per synapse
    for "A"), constant in T.
    """

    mode: str = "A"
    feedback: str = "transpose"
    eta: float = 0.05
    gamma: float = 0.05
    alpha: float = 4.0

    spiking_readout = False

    def __post_init__(self):
        _choice(self, "mode", ("A", "O"))
        _choice(self, "feedback", ("transpose", "random"))
        _common(self)

    @property
    def label(self) -> str:
        return f"OTTT_{self.mode}" + ("" if self.feedback == "transpose" else " (random feedback)")


@dataclass(frozen=True)
class BPTT:
    """Backpropagation through time with surrogate gradients, the time-step baseline.

    On the chip, the forward pass stores every step's input spike bits, hidden surrogates
    sg(u[t] - theta) and readout errors, then the backward pass runs back in time:
    dL/du[t] = dL/ds[t] sg(u[t] - theta) + lam dL/du[t+1]. reset_grad "full" adds the reset
    path dL/ds[t] += -lam theta dL/du[t+1] (the temporal reset dependency studied by Yang
    2020), "detached" drops it. The gradient sums in the synapses' tags, one weight write per
    synapse per sample; state linear in T.
    """

    reset_grad: str = "detached"
    eta: float = 0.05
    gamma: float = 0.05
    alpha: float = 4.0

    spiking_readout = False

    def __post_init__(self):
        _choice(self, "reset_grad", ("detached", "full"))
        _common(self)

    @property
    def label(self) -> str:
        return f"BPTT-SG ({self.reset_grad} reset)"


@dataclass(frozen=True)
class EventDriven:
    """Event-driven learning (Wei et al., 2024, "Event-Driven Learning for Spiking Neural
    Networks"): STD-ED (spike-timing dependent) and MPD-ED (membrane-potential dependent).

    The paper's full equations were not available; these are operational definitions faithful
    to its statements, with every constant a field:
    - Neurons: every layer spikes (the output layer too) with an adaptive firing threshold
      thr_i (a multiple of theta, kept across samples): thr_i += kappa (s_i - rate), clipped
      to [thr_lo, thr_hi] -- silent neurons lower it (against over-sparsity), busy ones raise
      it. STD-ED uses integrate-and-fire (AFT-IF: lam = 1); MPD-ED the leaky neuron (AFT-LIF).
    - Updates are triggered only by spike events: at a spike of neuron i, each synapse's
      eligibility e_ji += phi_i a_j, with a_j the presynaptic trace (leak lam; 1 for IF) and
      phi_i = min(1 / (du_i/dt), 1 / s_min), the spike-timing gradient |dt_f/du| with
      du/dt = u[t_f] - u[t_f - 1] clamped (STD-ED), or phi_i = sg(u_i - thr_i) at the spike
      (MPD-ED: surrogate masked to spike events).
    - Readout o_k = readout_scale * sum over k's spikes of 1 (MPD-ED, spike count) or of
      (T - t_f) / T (STD-ED: earlier spikes weigh more, so dO/dt_f = -1/T).
    - Errors travel only through spikes: at the end of the sample delta_k = dL/do_k for the
      outputs, delta_j = sum_k W_kj delta_k gbar_k for neurons j that spiked, with gbar_k the
      mean phi over k's spikes (MPD-ED) or sum phi / T (STD-ED), and W_ji -= eta psi delta_i
      e_ji (psi = 1, or 1/T for STD-ED). Cost scales with spikes, state is constant in T.
    """

    kind: str = "MPD-ED"
    eta: float = 0.02
    gamma: float = 0.0
    alpha: float = 4.0
    s_min: float = 0.1
    readout_scale: float = 0.5
    kappa: float = 0.002
    rate: float = 0.05
    thr_lo: float = 0.05
    thr_hi: float = 4.0

    spiking_readout = True

    def __post_init__(self):
        _choice(self, "kind", ("STD-ED", "MPD-ED"))
        _common(self)
        for f in ("s_min", "readout_scale", "thr_lo"):
            if not getattr(self, f) > 0:
                raise RuleError(f"{self.kind}: {f} must be positive, got {getattr(self, f)}")
        if not self.thr_lo <= 1.0 <= self.thr_hi:
            raise RuleError(f"{self.kind}: need thr_lo <= 1 <= thr_hi, got [{self.thr_lo}, {self.thr_hi}]")
        if not (self.kappa >= 0 and 0 <= self.rate <= 1):
            raise RuleError(f"{self.kind}: kappa >= 0 and rate in [0, 1], got {self.kappa}, {self.rate}")

    @property
    def label(self) -> str:
        return self.kind


# The rules by command-line name (`neurochip learn --rule`), each a factory taking the rule's fields.
RULES = {"ottt_a": lambda **kw: OTTT(mode="A", **kw), "ottt_o": lambda **kw: OTTT(mode="O", **kw),
         "std_ed": lambda **kw: EventDriven(kind="STD-ED", **kw),
         "mpd_ed": lambda **kw: EventDriven(kind="MPD-ED", **kw),
         "bptt": BPTT, "bptt_full": lambda **kw: BPTT(reset_grad="full", **kw)}


def _choice(rule, field, allowed):
    if getattr(rule, field) not in allowed:
        raise RuleError(f"{type(rule).__name__}: {field} must be one of {allowed}, got {getattr(rule, field)!r}")


def _common(rule):
    if not rule.eta >= 0:
        raise RuleError(f"{type(rule).__name__}: eta must be >= 0, got {rule.eta}")
    if not 0 <= rule.gamma <= 1:
        raise RuleError(f"{type(rule).__name__}: gamma must be in [0, 1], got {rule.gamma}")
    if not rule.alpha > 0:
        raise RuleError(f"{type(rule).__name__}: alpha must be positive, got {rule.alpha}")
