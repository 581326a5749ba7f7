"""A neuron model defined and registered here, in a test file, compiles, runs on the
simulator and exports to NIR without any other module knowing it."""
from dataclasses import dataclass

import nir
import numpy as np

import neurochip as nc
from neurochip.mapping.nir.exporter import to_nir
from neurochip.model.neurons import NEURON_MODELS, NeuronModel, register


@register
@dataclass
class NonLeakyIF(NeuronModel):
    """Integrate-and-fire with no leak and no current memory, in float:

        v[t] = v[t-1] + a[t];   s[t] = v[t] > theta;   v[t] = 0 where s[t]
    """

    n: int
    theta: float
    name: str = "nlif"

    fixed_point = False

    def kernel_arrays(self) -> dict:
        return dict(du_fac=0.0, dv_fac=1.0, bias=0.0, vth=self.theta, sub=0.0, u0=0.0, v0=0.0)

    def float_view(self) -> tuple:
        return 1.0, 0.0, self.theta, np.zeros(self.n)


def if_reference(current: np.ndarray, theta: float) -> np.ndarray:
    """The docstring's equations, step by step: (steps, n) input -> (steps, n) spikes."""
    v = np.zeros(current.shape[1])
    out = np.zeros(current.shape, dtype=bool)
    for t, a in enumerate(current):
        v = v + a
        out[t] = v > theta
        v[out[t]] = 0.0
    return out


def network():
    net = nc.Network()
    net.add(nc.SpikeSource(6, name="in"))
    net.add(NonLeakyIF(4, theta=2.5, name="if"))
    net.connect("in", "if", np.random.default_rng(0).uniform(-0.5, 1.5, (4, 6)))
    return net


def test_registered_model_compiles_and_runs_on_cores():
    assert NEURON_MODELS["NonLeakyIF"] is NonLeakyIF
    net = network()
    x = np.random.default_rng(1).random((60, 6)) < 0.4
    chip = nc.loihi1()
    for per_core in (4, 1):  # one core, then one neuron a core
        res = nc.Simulator(net, chip, nc.Placement.sequential(net, chip, per_core=per_core)).run(60, inputs={"in": x})
        current = np.vstack([np.zeros((1, 4)), x[:-1] @ net.projections[0].weights.T])  # one step of delay
        assert np.array_equal(res.spikes["if"], if_reference(current, 2.5))
        assert res.spikes["if"].sum() > 10
        assert res.total("spikes_out") == res.spikes["if"].sum() + x.sum()  # chip spikes and host spikes


def test_registered_model_exports_to_nir():
    graph = to_nir(network(), dt=1e-3)
    node = graph.nodes["if"]
    assert isinstance(node, nir.IF)
    assert np.allclose(node.v_threshold, 2.5) and np.allclose(node.v_reset, 0.0)
    assert ("in", "in->if:w") in graph.edges and ("in->if:w", "if") in graph.edges
