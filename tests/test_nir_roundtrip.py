"""Round trips through NIR for every supported node, driven by one registry (as NIR's own
tests are): canonical graphs come back node for node; every graph comes back as the same
neurochip network, which runs identically."""
import nir
import numpy as np
import pytest

import neurochip as nc
from neurochip.mapping.nir.exporter import to_nir
from neurochip.mapping.nir.importer import from_nir

DT = 1e-3
rng = np.random.default_rng(11)


def vec(n, lo, hi):
    return rng.uniform(lo, hi, n)


def neuron(kind, n):
    tau = np.full(n, 4e-3)
    return {
        "LIF": lambda: nir.LIF(tau=tau, r=vec(n, 0.5, 2), v_leak=vec(n, -0.1, 0.1), v_threshold=vec(n, 0.5, 1),
                               v_reset=vec(n, -0.2, 0)),
        "CubaLIF": lambda: nir.CubaLIF(tau_syn=np.full(n, 2e-3), tau_mem=tau, r=vec(n, 0.5, 2),
                                       v_leak=vec(n, -0.1, 0.1), v_threshold=vec(n, 0.5, 1), v_reset=np.zeros(n),
                                       w_in=vec(n, 0.5, 1.5)),
        "IF": lambda: nir.IF(r=vec(n, 0.5, 2), v_threshold=vec(n, 0.5, 1), v_reset=vec(n, -0.2, 0)),
        "LI": lambda: nir.LI(tau=tau, r=vec(n, 0.5, 2), v_leak=vec(n, -0.1, 0.1)),
        "CubaLI": lambda: nir.CubaLI(tau_syn=np.full(n, 2e-3), tau_mem=tau, r=vec(n, 0.5, 2),
                                     v_leak=vec(n, -0.1, 0.1), w_in=vec(n, 0.5, 1.5)),
        "I": lambda: nir.I(r=vec(n, 0.5, 2)),
        "Threshold": lambda: nir.Threshold(threshold=vec(n, 0.2, 0.6)),
    }[kind]()


def chain(n_in, ops, kind="LIF", n_out=None, recurrent=False):
    """Input -> ops... -> neuron(kind) -> Output; `ops` are (name, node) pairs."""
    nodes = {"in": nir.Input(np.array(n_in if isinstance(n_in, tuple) else [n_in]))}
    edges, last = [], "in"
    for name, node in ops:
        nodes[name] = node
        edges.append((last, name))
        last = name
    n_out = n_out or ops[-1][1].weight.shape[0]
    nodes["pop"] = neuron(kind, n_out)
    edges.append((last, "pop"))
    if recurrent:
        nodes["rec"] = nir.Linear(rng.normal(0, 0.3, (n_out, n_out)))
        edges += [("pop", "rec"), ("rec", "pop")]
    nodes["out"] = nir.Output(np.array([n_out]))
    edges.append(("pop", "out"))
    return nir.NIRGraph(nodes, edges, type_check=False)


def lin(o, i):
    return nir.Linear(rng.normal(0, 1.0, (o, i)))


CANONICAL = {  # graphs already in the exporter's form: they come back node for node
    **{f"{k}": (lambda k=k: chain(5, [("w", lin(4, 5))], k), "lava") for k in
       ("LIF", "CubaLIF", "IF", "LI", "CubaLI", "I", "Threshold")},
    "Affine": (lambda: chain(5, [("w", nir.Affine(rng.normal(0, 1, (4, 5)), rng.normal(0, 0.1, 4)))], "CubaLIF"),
               "framework"),
    "Delay": (lambda: chain(5, [("w", lin(4, 5)), ("d", nir.Delay(np.full(4, 3 * DT)))], n_out=4), "lava"),
    "recurrent": (lambda: chain(5, [("w", lin(4, 5))], "CubaLIF", recurrent=True), "framework"),
}
OTHER = {  # node types the importer composes into projections
    "Scale": lambda: chain(5, [("w", lin(4, 5)), ("s", nir.Scale(vec(4, 0.5, 2)))], n_out=4),
    "Conv1d": lambda: chain((2, 8), [("c", nir.Conv1d(None, rng.normal(0, 1, (3, 2, 3)), 1, 1, 1, 1, np.zeros(3))),
                                     ("f", nir.Flatten({"input": np.array([3, 8])}, 1, -1))], n_out=24),
    "Conv2d+SumPool2d": lambda: chain((2, 6, 6), [
        ("c", nir.Conv2d(None, rng.normal(0, 1, (3, 2, 3, 3)), 1, "same", 1, 1, rng.normal(0, 0.1, 3))),
        ("p", nir.SumPool2d(np.array([2, 2]), np.array([2, 2]), np.array([0, 0]))),
        ("f", nir.Flatten({"input": np.array([3, 3, 3])}, 1, -1))], "IF", n_out=27),
    "AvgPool2d": lambda: chain((1, 4, 4), [("p", nir.AvgPool2d(np.array([2, 2]), np.array([2, 2]), np.array([0, 0]))),
                                           ("f", nir.Flatten({"input": np.array([1, 2, 2])}, 1, -1))], "IF", n_out=4),
    "subgraph": lambda: nir.NIRGraph({
        "in": nir.Input(np.array([5])), "w": lin(4, 5),
        "sub": nir.NIRGraph({"input": nir.Input(np.array([4])), "pop": neuron("LIF", 4),
                             "output": nir.Output(np.array([4]))},
                            [("input", "pop"), ("pop", "output")], type_check=False),
        "out": nir.Output(np.array([4]))}, [("in", "w"), ("w", "sub"), ("sub", "out")], type_check=False),
}


def run(imp, steps=40, seed=0):
    x = np.random.default_rng(seed).random((steps, imp.net.populations[next(iter(imp.inputs))].n)) < 0.4
    feed = imp.inputs_for({next(iter(imp.inputs)): x})
    res = nc.Simulator(imp.net).run(len(next(iter(feed.values()))), inputs=feed, record=["spikes", "v"])
    return res


def same_network(a, b):
    assert list(a.populations) == list(b.populations)
    for k, p in a.populations.items():
        q = b.populations[k]
        for f in ("n", "du", "dv", "vth", "bias", "reset"):
            if hasattr(p, f):
                np.testing.assert_allclose(getattr(p, f), getattr(q, f), rtol=1e-9, atol=1e-12) if f != "reset" \
                    else (getattr(p, f) == getattr(q, f))
    pa = {(p.pre, p.post): p for p in a.projections}
    pb = {(p.pre, p.post): p for p in b.projections}
    assert pa.keys() == pb.keys()
    for k in pa:
        wa = pa[k].weights.toarray() if hasattr(pa[k].weights, "toarray") else pa[k].weights
        wb = pb[k].weights.toarray() if hasattr(pb[k].weights, "toarray") else pb[k].weights
        np.testing.assert_allclose(wa, wb, rtol=1e-9, atol=1e-12)
        assert np.array_equal(np.broadcast_to(pa[k].delay, wa.shape), np.broadcast_to(pb[k].delay, wb.shape))


@pytest.mark.parametrize("name", sorted(CANONICAL))
def test_canonical_graphs_come_back_node_for_node(name, tmp_path):
    make, timing = CANONICAL[name]
    g = make()
    imp = from_nir(g, dt=DT, reset="zero", timing=timing)
    out = to_nir(imp.net, DT, imported=imp)
    nir.write(tmp_path / "g.nir", out)
    back = nir.read(tmp_path / "g.nir", type_check=False)
    pop = back.nodes["pop"]
    assert type(pop) is type(g.nodes["pop"])
    for f, value in g.nodes["pop"].__dict__.items():
        if isinstance(value, np.ndarray) and f not in ("input_type", "output_type"):
            np.testing.assert_allclose(getattr(pop, f), value, rtol=1e-9, err_msg=f)
    w_in = [n for k, n in back.nodes.items() if k.startswith("in->pop") and k.endswith(":w")]
    want = g.nodes["w"]
    assert type(w_in[0]) is type(want) and len([k for k in back.nodes if k.endswith(":w")]) == len(
        [k for k, v in g.nodes.items() if type(v).__name__ in ("Linear", "Affine")])
    np.testing.assert_allclose(w_in[0].weight, want.weight, rtol=1e-9)
    if isinstance(want, nir.Affine):
        np.testing.assert_allclose(w_in[0].bias, want.bias, rtol=1e-9, atol=1e-12)
    if "d" in g.nodes:
        (delay,) = [n for k, n in back.nodes.items() if k.endswith(":d")]
        np.testing.assert_allclose(delay.delay, g.nodes["d"].delay)
    same_network(from_nir(back, dt=DT, reset="zero", timing=timing).net, imp.net)


@pytest.mark.parametrize("name", sorted(OTHER) + sorted(CANONICAL))
def test_every_node_round_trips_to_the_same_network(name):
    g = OTHER[name]() if name in OTHER else CANONICAL[name][0]()
    timing = CANONICAL[name][1] if name in CANONICAL else "lava"
    imp = from_nir(g, dt=DT, reset="subtract", timing=timing)
    again = from_nir(to_nir(imp.net, DT, imported=imp), dt=DT, reset="subtract", timing=timing)
    same_network(again.net, imp.net)
    a, b = run(imp), run(again)
    for k in imp.net.neurons():
        assert np.array_equal(a.spikes[k], b.spikes[k])
        np.testing.assert_allclose(a.v[k], b.v[k], rtol=1e-9, atol=1e-12)


def test_fixed_point_network_exports_through_its_float_view():
    net = nc.Network()
    net.add(nc.SpikeSource(3, name="in"))
    net.add(nc.LoihiLIF(2, du=4095, dv=410, vth=100, name="lif"))
    net.connect("in", "lif", np.array([[50, 0, 20], [10, 10, 10]]), weight_exp=1)
    g = to_nir(net, dt=1e-3, outputs={"out": "lif"})
    node = g.nodes["lif"]
    assert isinstance(node, nir.LIF)
    np.testing.assert_allclose(node.tau, 1e-3 / (410 / 4096))
    imp = from_nir(g, dt=1e-3, reset="zero")
    # 50 << (1 + 6) units against a threshold of 100 << 6: the float weight is 1.0
    np.testing.assert_allclose(imp.net.projections[0].weights[0, 0], 50 * 2**7 / (100 * 64))
