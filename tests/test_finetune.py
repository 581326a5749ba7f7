"""Fine-tuning a network the user brings (`rules.learner.learnable`): NIR import's always-on
bias channel ("framework" timing) folded into neuron biases, exactly, or refused with the reason.
The command line run is in tests/test_cli.py."""
import numpy as np
import pytest

import neurochip as nc
from neurochip.mapping.nir.importer import BIAS, from_nir
from neurochip.model.neurons import FloatLIF, SpikeSource
from neurochip.rules.learner import Learner, learnable
from neurochip.rules.rule import OTTT, RuleError
from neurochip.studies.datasets import digits
from tests.conftest import FF

T = 25


def snntorch_ff():
    return from_nir(FF, dt=1e-4, reset="zero", timing="framework", reset_delay=True)  # snnTorch's conventions


def test_ff_folded_float_is_the_imported_network_step_for_step():
    """Every hidden spike of the learning network equals the imported network's (bias channel
    and all), and the readout o[t] is the last layer's input W h[t] + b of that step."""
    imp = snntorch_ff()
    assert BIAS in imp.net.sources()
    _, _, x, y = digits(T)
    x, y = x[:120], y[:120]
    (hid,), (out,) = [k for k, lag in imp.lag.items() if lag == 1], imp.outputs.values()
    want = nc.Simulator(imp.net).run_samples([imp.inputs_for(s) for s in x], steps=T + 2, populations=[hid])
    h = want.spikes[hid][:, 1:1 + T].astype(np.float64)
    proj = {p.name: p.weights for p in imp.net.projections}
    logits = h @ proj[f"{hid}->{out}"].T + proj[f"{BIAS}->{out}"][:, 0]

    net = learnable(imp.net, fixed=False)
    assert net.sources() == ["input"]
    got = nc.Simulator(net).run_samples([{"input": s} for s in x], steps=T + 2, record=["spikes", "v"],
                                        populations=[hid, out])
    assert np.array_equal(got.spikes[hid][:, 1:1 + T], want.spikes[hid][:, 1:1 + T])
    assert np.abs(got.v[out][:, 2:2 + T] - logits).max() < 1e-12
    learner = Learner.from_network(net, OTTT())
    assert learner.accuracy(x, y) == np.mean(logits.sum(1).argmax(1) == y)


def chain(bias_delays=(0, 1, 2), du=1.0, hidden_bias=0.3):
    """input(4) -> h1(5) -> h2(5) -> out(3) with a bias channel into every layer."""
    rng = np.random.default_rng(3)
    net = nc.Network()
    net.add(SpikeSource(4, name="input"))
    for name, n in (("h1", 5), ("h2", 5), ("out", 3)):
        net.add(FloatLIF(n, du=du if name == "h1" else 1.0, dv=0.25, vth=1.0, name=name))
    net.add(SpikeSource(1, name=BIAS))
    for pre, post in (("input", "h1"), ("h1", "h2"), ("h2", "out")):
        net.connect(pre, post, rng.normal(0.4, 0.4, (net.populations[post].n, net.populations[pre].n)))
    for post, d in zip(("h1", "h2", "out"), bias_delays):
        b = rng.uniform(-hidden_bias, hidden_bias, (net.populations[post].n, 1))
        net.connect(BIAS, post, b, delay=d)
    return net


@pytest.mark.parametrize("fixed", [False, True])
def test_folded_layers_wait_at_their_start_until_their_input_arrives(fixed):
    """The bias now acts before a layer's input arrives (chip steps 0 .. depth - 1), where the
    channel had not reached it: the initial potential makes those steps end at v = 0, as the
    original's do (in fixed point to the bit), without a spike."""
    net = learnable(chain(), fixed)
    assert net.sources() == ["input"] and all(p.pre != BIAS for p in net.projections)
    res = nc.Simulator(net).run(3, inputs={"input": np.zeros((3, 4), bool)}, record=["v", "spikes"])
    for depth, name in ((1, "h1"), (2, "h2")):
        assert np.any(np.asarray(net.populations[name].v0) != 0)
        assert not res.spikes[name][:depth].any()
        if fixed:
            assert np.array_equal(res.v[name][depth - 1], np.zeros(5))
        else:
            assert np.abs(res.v[name][depth - 1]).max() < 1e-12
    if not fixed:  # and from then on, every step is the original's (the channel on at each step of a sample)
        x = np.random.default_rng(0).random((30, 12, 4)) < 0.4
        want = nc.Simulator(chain()).run_samples([{"input": s, BIAS: np.ones((12, 1), bool)} for s in x], steps=15,
                                                 populations=["h2"])
        got = nc.Simulator(net).run_samples([{"input": s} for s in x], steps=15, populations=["h2"])
        assert want.spikes["h2"][:, 2:14].any()
        assert np.array_equal(got.spikes["h2"][:, 2:14], want.spikes["h2"][:, 2:14])


def test_a_bias_channel_that_is_not_a_bias_is_refused():
    with pytest.raises(RuleError, match=r"'bias->out'.*delay \[1\].*delay 2"):
        learnable(chain(bias_delays=(0, 1, 1)), fixed=True)
    with pytest.raises(RuleError, match=r"'h1': keeps a synaptic current"):
        learnable(chain(du=0.5), fixed=False)
    with pytest.raises(RuleError, match=r"spike before its input arrives"):
        learnable(chain(hidden_bias=3.0), fixed=False)
