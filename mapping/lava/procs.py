"""Lava processes neurochip adds for learning (imports lava-nc: only the Lava learning code imports this).

`ThirdFactorLIF`: a float LIF that sends, each step, its spikes (s_out and the bAP) and the
third factors of a Loihi3FLearningRule to a LearningDense: y1, its own post trace
(y1 <- exp(-1/tau) y1 + impulse s), and y2, y3 given per step as (steps, n) arrays (a reward,
an error, a surrogate). Written because Lava's LearningLIF deadlocks with its bAP port wired.
Lava finds a Process's models in the Process's own module, so both live here.
"""
import numpy as np

from neurochip.mapping.lava.graph import import_lava

import_lava()  # before lava's first import
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol


class ThirdFactorLIF(AbstractProcess):
    def __init__(self, *, shape, du, dv, vth, y2, y3, bias=0.0, y1_tau=1.0, y1_impulse=0.0, name=None):
        super().__init__(shape=shape, name=name)
        self.a_in = InPort(shape=shape)
        self.s_out, self.s_out_bap = OutPort(shape=shape), OutPort(shape=shape)
        self.s_out_y1, self.s_out_y2, self.s_out_y3 = (OutPort(shape=shape) for _ in range(3))
        self.u, self.v, self.y1 = (Var(shape=shape, init=0.0) for _ in range(3))
        self.params = Var(shape=(6,), init=np.array([du, dv, vth, bias, y1_tau, y1_impulse], dtype=float))
        self.y2_data = Var(shape=np.shape(y2), init=np.asarray(y2, float))
        self.y3_data = Var(shape=np.shape(y3), init=np.asarray(y3, float))


@implements(proc=ThirdFactorLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyThirdFactorLIF(PyLoihiProcessModel):
    a_in = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out = LavaPyType(PyOutPort.VEC_DENSE, float)
    s_out_bap = LavaPyType(PyOutPort.VEC_DENSE, bool)
    s_out_y1 = LavaPyType(PyOutPort.VEC_DENSE, float)
    s_out_y2 = LavaPyType(PyOutPort.VEC_DENSE, float)
    s_out_y3 = LavaPyType(PyOutPort.VEC_DENSE, float)
    u = LavaPyType(np.ndarray, float)
    v = LavaPyType(np.ndarray, float)
    y1 = LavaPyType(np.ndarray, float)
    params = LavaPyType(np.ndarray, float)
    y2_data = LavaPyType(np.ndarray, float)
    y3_data = LavaPyType(np.ndarray, float)

    def run_spk(self):
        du, dv, vth, bias, tau, imp = self.params
        self.u = self.u * (1 - du) + self.a_in.recv()
        self.v = self.v * (1 - dv) + self.u + bias
        s = self.v > vth
        self.v[s] = 0.0
        self.y1 = self.y1 * np.exp(-1.0 / tau) + imp * s
        t = self.time_step - 1
        self.s_out.send(s.astype(float))
        self.s_out_bap.send(s)
        self.s_out_y1.send(self.y1)
        self.s_out_y2.send(self.y2_data[t])
        self.s_out_y3.send(self.y3_data[t])


class OTTTReadout(AbstractProcess):
    """OTTT's memoryless readout o[t] = a_in (what the plastic Dense delivered) that sends the
    modulator y2 = -eta dL[t]/do / T (L = (1 - gamma) CE + gamma MSE on labels[t]), pre-scaled
    by exp(1/(2**16 - 1)) to undo the decay Loihi3FLearningRule applies to y traces before
    the learning phase; it never spikes."""

    def __init__(self, *, shape, labels, eta, gamma, T, name=None):
        super().__init__(shape=shape, name=name)
        self.a_in = InPort(shape=shape)
        self.s_out_bap = OutPort(shape=shape)
        self.s_out_y1, self.s_out_y2, self.s_out_y3 = (OutPort(shape=shape) for _ in range(3))
        self.o = Var(shape=shape, init=0.0)
        self.params = Var(shape=(3,), init=np.array([eta, gamma, T], dtype=float))
        self.labels = Var(shape=np.shape(labels), init=np.asarray(labels, float))


def ottt_modulator(o, label, eta, gamma, T):
    """-eta dL/do / T for L = (1 - gamma) CE(o, label) + gamma MSE(o, onehot(label)), pre-scaled
    against the third-factor trace decay (shared by the Lava process and neurochip's twin)."""
    z = np.zeros_like(o)
    z[int(label)] = 1.0
    p = np.exp(o - o.max())
    p /= p.sum()
    m = (1 - gamma) * (p - z) + gamma * 2.0 * (o - z) / len(o)
    return -eta * m / T * np.exp(1.0 / (2**16 - 1))


@implements(proc=OTTTReadout, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyOTTTReadout(PyLoihiProcessModel):
    a_in = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out_bap = LavaPyType(PyOutPort.VEC_DENSE, bool)
    s_out_y1 = LavaPyType(PyOutPort.VEC_DENSE, float)
    s_out_y2 = LavaPyType(PyOutPort.VEC_DENSE, float)
    s_out_y3 = LavaPyType(PyOutPort.VEC_DENSE, float)
    o = LavaPyType(np.ndarray, float)
    params = LavaPyType(np.ndarray, float)
    labels = LavaPyType(np.ndarray, float)

    def run_spk(self):
        eta, gamma, T = self.params
        self.o = self.a_in.recv()
        y2 = ottt_modulator(self.o, self.labels[self.time_step - 1], eta, gamma, T)
        zero = np.zeros(self.o.shape)
        self.s_out_bap.send(zero.astype(bool))
        self.s_out_y1.send(zero)
        self.s_out_y2.send(y2)
        self.s_out_y3.send(zero)
