"""Twins of neurochip's third-factor Lava processes (`neurochip.mapping.lava.procs`): the
`third` argument of `tests.reference.lava_learning.simulate` (tests/test_lava_learning.py)."""
import numpy as np

from neurochip.mapping.lava.procs import ottt_modulator


def third_factors(y2, y3, y1_tau=1.0, y1_impulse=0.0):
    """The twin of `ThirdFactorLIF`'s outputs: its own y1 trace, y2[t] and y3[t]."""
    state = {"y1": None}

    def third(t, s_post, u):
        y1 = state["y1"] if state["y1"] is not None else np.zeros(len(s_post))
        state["y1"] = y1 * np.exp(-1.0 / y1_tau) + y1_impulse * s_post
        return state["y1"], np.asarray(y2[t], float), np.asarray(y3[t], float)

    return third


def ottt_readout_twin(labels, eta, gamma, T):
    """The twin of `OTTTReadout` for `simulate(third=..., du=1, dv=1)`: there u is the
    delivered input, so o = u."""

    def third(t, s_post, u):
        zero = np.zeros(len(u))
        return zero, ottt_modulator(np.asarray(u, float), labels[t], eta, gamma, T), zero

    return third
