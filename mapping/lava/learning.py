"""Learning rules on Lava's learning engine (lava-nc 0.10, imported here: only tests import this).

`exportable(rule)` says which rules Lava's engine can express and why not; `lava_rule(rule)` is
a `LoihiRule` as Lava's Loihi2F/Loihi3FLearningRule. The runners wire RingBuffer ->
LearningDense -> a neuron process (`run_plastic`: Lava's LIF, `run_plastic_3f`: `ThirdFactorLIF`,
`run_ottt_readout`: `OTTTReadout`) whose spikes come back as the bAP (with y1..y3 for
third-factor rules), run it in `Loihi2SimCfg` and stop Lava in `finally`.
"""
from __future__ import annotations

from fractions import Fraction
from functools import partial

import numpy as np

# lava after procs, which prepared multiprocessing for it (graph.import_lava)
from lava.magma.core.learning.learning_rule import Loihi2FLearningRule, Loihi3FLearningRule
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc.dense.process import LearningDense
from lava.proc.io.source import RingBuffer
from lava.proc.lif.process import LIF
from lava.proc.monitor.process import Monitor
from lava.utils.weightutils import SignMode

from neurochip.mapping.lava.procs import OTTTReadout, ThirdFactorLIF
from neurochip.rules.loihi_rule import LoihiRule, Product
from neurochip.rules.rule import BPTT, OTTT, EventDriven, RuleError


def exportable(rule, hidden_layers: int = 0) -> None:
    """Raise RuleError saying why `rule` cannot run on Lava's learning engine, if it cannot."""
    if isinstance(rule, LoihiRule):
        return
    if isinstance(rule, OTTT):
        if hidden_layers and rule.feedback == "transpose":
            raise RuleError(
                "OTTT with hidden layers needs each hidden neuron's error g_s = W^T g_u, a sum over the "
                "transposed weights of the layer above; Loihi's learning engine sees only local traces and "
                "per-neuron third factors, and synapses cannot be read backwards. Use OTTT(feedback='random'): "
                "fixed random feedback B g_u is a per-neuron value a neuron process can send as a third factor, "
                "or learn only the readout (hidden_layers=0).")
        return
    if isinstance(rule, BPTT):
        raise RuleError("BPTT stores T steps of state and runs backward in time; Loihi's learning engine "
                        "updates from current traces only. It is the off-chip baseline, not exportable.")
    if isinstance(rule, EventDriven):
        raise RuleError(f"{rule.kind}: its adaptive-threshold neurons and end-of-sample error pass have no Lava "
                        "process; not exported yet.")
    raise RuleError(f"no Lava translation for {type(rule).__name__}")


def lava_rule(rule: LoihiRule, rng_seed: int | None = None):
    """Lava's Loihi2F/Loihi3FLearningRule for `rule`; `rng_seed` seeds its fixed-point random
    streams (Lava picks one at random when None)."""
    common = dict(dw=rule.string("dw"), dt=rule.string("dt"), x1_impulse=rule.x1_impulse, x1_tau=rule.x1_tau,
                  x2_impulse=rule.x2_impulse, x2_tau=rule.x2_tau, t_epoch=rule.t_epoch, rng_seed=rng_seed)
    if rule.third_factor:
        return Loihi3FLearningRule(**common)
    return Loihi2FLearningRule(y1_impulse=rule.y1_impulse, y1_tau=rule.y1_tau, y2_impulse=rule.y2_impulse,
                               y2_tau=rule.y2_tau, y3_impulse=rule.y3_impulse, y3_tau=rule.y3_tau, **common)


def _run(rule: LoihiRule, weights, x, make_post, *, tag="floating_pt", seed=None, synapse=None, spikes=True):
    """RingBuffer(x) -> LearningDense(weights, rule) -> the neuron process `make_post(shape=(n_post,))`,
    whose spikes come back as the bAP (and its y1..y3 for a third-factor rule), run in
    `Loihi2SimCfg(select_tag=tag)`; returns (learned weights, tag, post spikes (steps, n_post)
    or None) and always stops Lava."""
    dtype = np.int64 if tag == "fixed_pt" else np.float64
    x = np.asarray(x, dtype=int)
    W = np.asarray(weights, dtype=dtype)
    src = RingBuffer(data=x.T)
    dense = LearningDense(weights=W.copy(), learning_rule=lava_rule(rule, seed), name="plastic", **(synapse or {}))
    post = make_post(shape=W.shape[:1])
    src.s_out.connect(dense.s_in)
    dense.a_out.connect(post.a_in)
    if rule.third_factor:
        for port in ("bap", "y1", "y2", "y3"):
            getattr(post, f"s_out_{port}").connect(getattr(dense, f"s_in_{port}"))
    else:
        post.s_out.connect(dense.s_in_bap)
    if spikes:
        mon = Monitor()
        mon.probe(post.s_out, x.shape[0])
    try:
        post.run(condition=RunSteps(num_steps=x.shape[0]), run_cfg=Loihi2SimCfg(select_tag=tag))
        learned = np.asarray(dense.weights.get()).astype(dtype)
        tag_1 = np.asarray(dense.tag_1.get()).astype(dtype)
        raster = mon.get_data()[post.name]["s_out"].astype(bool) if spikes else None
    finally:
        post.stop()
    return learned, tag_1, raster


def run_plastic(rule: LoihiRule, weights, x, *, du=1.0, dv=0.0, vth=1.0, bias=0.0, tag="floating_pt",
                bias_exp=0, num_weight_bits=8, weight_exp=0, sign_mode="mixed", seed=None):
    """Lava's LearningDense with `rule` between spike inputs x (steps, n_pre) and a LIF
    population whose spikes are wired back as the bAP, in `Loihi2SimCfg(select_tag=tag)`.
    Fixed point ("fixed_pt") takes integer weights and LIF parameters, the synapse format
    (num_weight_bits, weight_exp, sign_mode) and `seed` for the learning engine's random
    streams. Returns (learned weights, tag, post spikes (steps, n_post))."""
    if rule.third_factor:
        raise RuleError(f"{rule.name}: third-factor rules need a neuron process that sends y1..y3; "
                        "run_plastic wires a plain LIF (two-factor rules only)")
    fixed = tag == "fixed_pt"
    synapse = dict(num_weight_bits=num_weight_bits, weight_exp=weight_exp, sign_mode=SignMode[sign_mode.upper()]) \
        if fixed else {}
    post = partial(LIF, du=du, dv=dv, vth=vth, bias_mant=bias, name="post", **({"bias_exp": bias_exp} if fixed else {}))
    return _run(rule, weights, x, post, tag=tag, seed=seed, synapse=synapse)


def run_plastic_3f(rule: LoihiRule, weights, x, y2, y3, *, du=1.0, dv=0.0, vth=1.0, bias=0.0, y1_tau=1.0,
                   y1_impulse=0.0):
    """Lava's LearningDense with a third-factor `rule` onto `ThirdFactorLIF` neurons that send
    y2[t], y3[t] ((steps, n_post) arrays) and their own y1 trace; returns (weights, tag, spikes)."""
    post = partial(ThirdFactorLIF, du=du, dv=dv, vth=vth, bias=bias, y2=y2, y3=y3, y1_tau=y1_tau,
                   y1_impulse=y1_impulse, name="post")
    return _run(rule, weights, x, post)


def ottt_readout_rule(eta: float) -> LoihiRule:
    """OTTT on a readout layer for Lava's engine: dw = u0 x1 y2 every step (OTTT_O), x1 the
    presynaptic spike of the step (impulse 1, gone by the next step: tau 1e-3), y2 the
    modulator -eta dL[t]/do / T sent by the readout process (`OTTTReadout`; its post factor
    is 1, the readout being memoryless). On Lava the error of step t meets the spikes of step
    t while o[t] came from step t-1's spikes (Dense adds a step): a one-step offset against
    neurochip's OTTT."""
    if Fraction(eta).denominator & (Fraction(eta).denominator - 1):
        raise RuleError(f"eta {eta} must be m * 2**e for Loihi's microcode")
    return LoihiRule(dw=(Product(1.0, "u0", ("x1", "y2")),), x1_impulse=1.0, x1_tau=1e-3, third_factor=True,
                     name="OTTT readout")


def run_ottt_readout(weights, x, labels, *, eta, gamma=0.0, T=1):
    """Lava's LearningDense with `ottt_readout_rule(eta)` onto `OTTTReadout`; returns the
    learned weights (n_classes, n_pre)."""
    readout = partial(OTTTReadout, labels=labels, eta=eta, gamma=gamma, T=T, name="readout")
    return _run(ottt_readout_rule(eta), weights, x, readout, spikes=False)[0]
