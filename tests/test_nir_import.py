"""NIR import: golden graphs, timing conventions, quantization, errors."""
import warnings

import h5py
import nir
import numpy as np
import pytest

import neurochip as nc
from neurochip.mapping.nir.importer import NIRImportError, from_nir
from neurochip.mapping.placement.partition import partition
from neurochip.mapping.placement.place import place
from neurochip.mapping.quantize import quantize
from tests import conftest
from tests.reference.framework import simulate as framework_simulate


@pytest.fixture(scope="module")
def golden():
    return conftest.golden()


def mapped(net, chip):
    """The network partitioned (pymetis) and placed on the chip's mesh."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.WeightClipWarning)
        placement = place(partition(net, chip, "metis"), net, chip)
        return nc.Simulator(net, chip, placement)


def test_lif_norse_with_nir_paper_quantization_reproduces_lava_exactly(golden):
    imp = from_nir(golden / "nir_paper_01_lif" / "lif_norse.nir", dt=1e-4, reset="zero")
    q, report = quantize(imp.net, vth={"1": 25}, decays="nir_paper", rounding="floor")
    lif = q.populations["1"]
    assert (lif.du, lif.dv, lif.vth) == (4095, 163, 25)
    d = np.loadtxt(golden / "nir_paper_01_lif" / "lif_lava_cpu_fixed.csv", delimiter=",")
    res = nc.Simulator(q).run(len(d), inputs={"input": d[:, :1]}, record=["v", "spikes"])
    assert np.array_equal(res.v["1"][:, 0], d[:, 1])
    assert np.array_equal(res.spikes["1"][:, 0], d[:, 2] > 0)
    assert report.layers[0].rel_error < 1e-6


def test_lif_norse_float_matches_lava_float(golden):
    imp = from_nir(golden / "nir_paper_01_lif" / "lif_norse.nir", dt=1e-4, reset="zero")
    d = np.loadtxt(golden / "nir_paper_01_lif" / "lif_lava_cpu_float.csv", delimiter=",")
    res = nc.Simulator(imp.net).run(len(d), inputs={"input": d[:, :1]}, record=["v", "spikes"])
    v_thr = float(nir.read(golden / "nir_paper_01_lif" / "lif_norse.nir").nodes["1"].v_threshold[0])
    np.testing.assert_allclose(res.v["1"][:, 0] * v_thr, d[:, 1], atol=1e-6)  # the file keeps float32 params
    assert np.array_equal(res.spikes["1"][:, 0], d[:, 2] > 0)


@pytest.mark.parametrize("name", ["nir_graphs/cnn_sinabs.nir", "nir_graphs/braille_noDelay_bias_zero.nir",
                                  "nir_graphs/braille_noDelay_noBias_subtract.nir",
                                  "nir_graphs/braille_noDelay_bias_zero_subgraph.nir",
                                  "nir_graphs/two_lif_neurons.nir", "nir_paper_01_lif/lif_norse.nir",
                                  "nir_paper_01_lif/lif_rockpool.nir"])
def test_golden_graphs_import_map_onto_loihi1_and_run(golden, name):
    dt = 1.0 if "sinabs" in name else 1e-4          # Sinabs' IF has no time constant
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the subgraph file's edge repair is warned about
        imp = from_nir(golden / name, dt=dt, reset="subtract" if "subtract" in name else "zero", timing="framework")
    q, _ = quantize(imp.net)
    sim = mapped(q, nc.loihi1())
    steps = 20
    rng = np.random.default_rng(0)
    x = {imp.inputs[k]: rng.random((steps, q.populations[imp.inputs[k]].n)) < 0.2 for k in imp.inputs}
    feed = imp.inputs_for(x)
    res = sim.run(len(next(iter(feed.values()))), inputs=feed)
    assert res.total("syn_ops") > 0
    out = next(iter(imp.outputs.values()))
    assert res.spike_counts[out].shape == (q.populations[out].n,)


def test_subgraph_and_flat_braille_graphs_are_the_same_network(golden):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        a = from_nir(golden / "nir_graphs/braille_noDelay_bias_zero.nir", dt=1e-4, reset="zero")
        b = from_nir(golden / "nir_graphs/braille_noDelay_bias_zero_subgraph.nir", dt=1e-4, reset="zero")
    wa = {(p.pre.split(".")[0], p.post.split(".")[0]): p.weights for p in a.net.projections}
    wb = {(p.pre.split(".")[0], p.post.split(".")[0]): p.weights for p in b.net.projections}
    assert wa.keys() == wb.keys()
    for k in wa:
        np.testing.assert_allclose(wa[k], wb[k])


def chain_graph(with_recurrence):
    rng = np.random.default_rng(3)
    nodes = {
        "in": nir.Input(np.array([5])),
        "fc1": nir.Affine(rng.normal(0, 0.6, (6, 5)), rng.normal(0, 0.05, 6)),
        "lif1": nir.CubaLIF(tau_syn=np.full(6, 2e-3), tau_mem=np.full(6, 5e-3), r=np.full(6, 1.5), v_leak=np.zeros(6),
                            v_threshold=rng.uniform(0.2, 0.4, 6), v_reset=np.zeros(6)),
        "fc2": nir.Linear(rng.normal(0, 0.8, (4, 6))),
        "lif2": nir.LIF(tau=np.full(4, 3e-3), r=np.ones(4), v_leak=np.full(4, 0.1), v_threshold=np.full(4, 0.3),
                        v_reset=np.full(4, -0.1)),
        "out": nir.Output(np.array([4])),
    }
    edges = [("in", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "out")]
    if with_recurrence:
        nodes["rec"] = nir.Linear(rng.normal(0, 0.3, (6, 6)))
        edges += [("lif1", "rec"), ("rec", "lif1")]
    return nir.NIRGraph(nodes, edges)


@pytest.mark.parametrize("recurrent", [False, True])
@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_framework_timing_reproduces_zero_delay_layers(recurrent, reset):
    graph = chain_graph(recurrent)
    imp = from_nir(graph, dt=1e-3, reset=reset, timing="framework")
    steps = 60
    x = np.random.default_rng(4).random((steps, 5)) < 0.4
    res = nc.Simulator(imp.net).run(steps + max(imp.lag.values()), inputs=imp.inputs_for({"in": x}),
                                    record=["spikes", "v"])
    want = framework_simulate(graph, x, dt=1e-3, reset=reset)
    for pop in ("lif1", "lif2"):
        got = imp.align(res.spikes[pop], pop, steps)
        assert np.array_equal(got, want[pop]), pop
        assert got.sum() > 0


def test_lava_timing_adds_one_step_per_projection():
    imp = from_nir(chain_graph(False), dt=1e-3, reset="zero", timing="lava")
    assert all(np.all(p.delay == 0) for p in imp.net.projections)
    assert set(imp.lag.values()) == {0}


def test_exact_discretisation_uses_exponential_decay():
    g = chain_graph(False)
    e = from_nir(g, dt=1e-3, reset="zero", discretization="exact")
    assert e.net.populations["lif2"].dv == pytest.approx(1 - np.exp(-1 / 3))
    f = from_nir(g, dt=1e-3, reset="zero")
    assert f.net.populations["lif2"].dv == pytest.approx(1 / 3)


def test_errors_name_node_type_and_edge(tmp_path):
    g = chain_graph(False)
    g.nodes["fc2"] = nir.Linear(np.ones((4, 7)))
    with pytest.raises(NIRImportError, match=r"node 'fc2' \(Linear\): weight shape \(4, 7\) does not take 6 inputs"):
        from_nir(g, dt=1e-3, reset="zero")
    bad = tmp_path / "bad.nir"
    bad.write_bytes(b"not an hdf5 file")
    with pytest.raises(NIRImportError, match="not a readable NIR file"):
        from_nir(bad, dt=1e-3, reset="zero")
    with pytest.raises(NIRImportError, match="reset must be 'zero' or 'subtract'"):
        from_nir(chain_graph(False), dt=1e-3, reset="soft")
    with pytest.raises(NIRImportError, match="dt must be a positive"):
        from_nir(chain_graph(False), dt=0, reset="zero")
    g = chain_graph(False)
    g.nodes["lif2"] = nir.LIF(tau=np.array([1e-3, 2e-3, 1e-3, 1e-3]), r=np.ones(4), v_leak=np.zeros(4),
                              v_threshold=np.ones(4), v_reset=np.zeros(4))
    with pytest.raises(NIRImportError, match="node 'lif2': tau differs between neurons"):
        from_nir(g, dt=1e-3, reset="zero")


def test_quantization_report_counts_saturation():
    net = nc.Network()
    net.add(nc.SpikeSource(4, name="in"))
    net.add(nc.FloatLIF(3, du=0.5, dv=0.1, vth=1.0, name="h"))
    w = np.array([[0.1, 0.2, -0.1, 0.05], [0.3, 0.0, 0.1, -0.2], [5.0, 0.1, 0.1, 0.1]])
    net.connect("in", "h", w)
    _, rep = quantize(net, method="percentile", percentile=80)
    assert rep.layers[0].saturated >= 1
    _, rep = quantize(net)
    assert rep.layers[0].saturated == 0 and rep.layers[0].rel_error < 0.01
    assert "| in->h |" in rep.table()


def small_graph(**lif):
    """in -> fc (Linear) -> l (LIF) -> out, with LIF fields overridden by `lif`."""
    fields = dict(tau=np.full(2, 3e-3), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2), v_reset=np.zeros(2))
    return nir.NIRGraph({"in": nir.Input(np.array([2])), "fc": nir.Linear(np.eye(2)), "l": nir.LIF(**{**fields, **lif}),
                         "out": nir.Output(np.array([2]))}, [("in", "fc"), ("fc", "l"), ("l", "out")])


@pytest.mark.parametrize("lif, message", [
    (dict(tau=np.full(2, np.inf)),
     r"node 'l' \(LIF\): tau = inf s is out of range; allowed: dt = 0.001 s <= tau < inf"),
    (dict(tau=np.full(2, -1e-3)), r"node 'l' \(LIF\): tau = -0.001 s is out of range"),
    (dict(tau=np.full(2, 1e-5)), r"tau = 1e-05 s is out of range; allowed: dt = 0.001 s <= tau"),
    (dict(r=np.zeros(2)), r"node 'l' \(LIF\): r = 0 for 2 neuron\(s\).*allowed: any finite non-zero"),
    (dict(v_threshold=np.full(2, np.nan)), r"node 'l' \(LIF\): v_threshold holds 2 non-finite value\(s\) \(the first, "
                                           r"nan, at index \(0,\)\); allowed: finite numbers"),
    (dict(v_threshold=np.full(2, -1.0)), r"v_threshold must exceed v_reset, got v_threshold -1 <= v_reset 0"),
])
def test_neuron_parameters_out_of_range_are_refused_with_node_field_value_and_range(lif, message):
    with pytest.raises(NIRImportError, match=message):
        from_nir(small_graph(**lif), dt=1e-3, reset="zero")


def test_exact_discretisation_takes_time_constants_below_dt():
    imp = from_nir(small_graph(tau=np.full(2, 1e-4)), dt=1e-3, reset="zero", discretization="exact")
    assert imp.net.populations["l"].dv == pytest.approx(1 - np.exp(-10))
    with pytest.raises(NIRImportError, match="allowed: 0 < tau < inf"):
        from_nir(small_graph(tau=np.zeros(2)), dt=1e-3, reset="zero", discretization="exact")


def test_weights_beyond_loihis_reach_or_not_finite_are_refused():
    g = small_graph()
    g.nodes["fc"] = nir.Linear(np.eye(2) * 1e30)
    with pytest.raises(NIRImportError, match=r"node 'l' \(LIF\): one spike from 'in' through \['fc'\] adds up to "
                                             r"3.333e\+29 thresholds .*'fc' largest \|weight\| 1e\+30.* at most 32640"):
        from_nir(g, dt=1e-3, reset="zero")
    g.nodes["fc"] = nir.Linear(np.eye(2) * 3e4 * 3)  # 3e4 thresholds after dt/tau = 1/3: still reachable
    assert from_nir(g, dt=1e-3, reset="zero").net.projections[0].weights.max() == pytest.approx(3e4)
    g.nodes["fc"] = nir.Affine(np.eye(2), np.array([0.0, np.inf]))
    with pytest.raises(NIRImportError, match=r"node 'fc' \(Affine\): bias holds 1 non-finite value\(s\) \(the first, "
                                             r"inf, at index \(1,\)\)"):
        from_nir(g, dt=1e-3, reset="zero")


def test_graphs_missing_a_part_or_with_a_linear_cycle_are_refused(tmp_path):
    i, o = nir.Input(np.array([2])), nir.Output(np.array([2]))
    with pytest.raises(NIRImportError, match=r"the graph has no neuron node \(nodes: \['in', 'out'\]\)"):
        from_nir(nir.NIRGraph({"in": i, "out": o}, [("in", "out")]), dt=1e-3, reset="zero")
    loop = nir.NIRGraph({"in": i, "a": nir.Linear(np.eye(2)), "b": nir.Linear(np.eye(2)), "out": o},
                        [("in", "a"), ("a", "b"), ("b", "a"), ("b", "out")], type_check=False)
    with pytest.raises(NIRImportError, match="no neuron node"):
        from_nir(loop, dt=1e-3, reset="zero")
    g = small_graph()
    g.nodes["a"], g.nodes["b"] = nir.Linear(np.eye(2)), nir.Linear(np.eye(2))
    g.edges += [("l", "a"), ("a", "b"), ("b", "a"), ("b", "l")]
    with pytest.raises(NIRImportError, match=r"nodes 'a' <- 'b' <- 'a' form a cycle of Linear nodes with no neuron"):
        from_nir(g, dt=1e-3, reset="zero")
    g = small_graph()
    del g.nodes["out"]
    g.edges = g.edges[:-1]
    nir.write(tmp_path / "no_out.nir", g)
    with pytest.raises(NIRImportError, match=r"no_out.nir: the graph has no Output node.*neuron nodes: \['l'\]"):
        from_nir(tmp_path / "no_out.nir", dt=1e-3, reset="zero")
    g = small_graph()
    g.nodes["o2"], g.edges = nir.Output(np.array([2])), g.edges + [("in", "o2")]
    with pytest.raises(NIRImportError, match=r"output 'o2' must be fed by one neuron node, got \['in'\]"):
        from_nir(g, dt=1e-3, reset="zero")


def test_file_errors_name_the_file_and_node(tmp_path):
    path = tmp_path / "g.nir"
    nir.write(path, small_graph(tau=np.full(2, np.inf)))
    with pytest.raises(NIRImportError, match=r"g.nir: node 'l' \(LIF\): tau = inf s is out of range"):
        from_nir(path, dt=1e-3, reset="zero")
    nir.write(path, small_graph())
    with h5py.File(path, "r+") as f:
        del f["node/nodes/fc/type"]
        f["node/nodes/fc/type"] = "Frobnicate"
    with pytest.raises(NIRImportError, match=r"g.nir: node 'fc' has type 'Frobnicate', which neurochip does not "
                                             "import; supported types: LIF, .*Affine, Linear"):
        from_nir(path, dt=1e-3, reset="zero")
    with h5py.File(path, "r+") as f:
        del f["node/nodes/fc/type"]
    with pytest.raises(NIRImportError, match="g.nir: node 'fc' has no type"):
        from_nir(path, dt=1e-3, reset="zero")
    nir.write(path, small_graph())
    with h5py.File(path, "r+") as f:
        del f["node/nodes/fc/weight"]
    with pytest.raises(NIRImportError, match=r"g.nir: malformed NIR graph \(node 'fc' of type Linear\): TypeError"):
        from_nir(path, dt=1e-3, reset="zero")
    path.write_bytes(b"")
    with pytest.raises(NIRImportError, match="g.nir: not a readable NIR file"):
        from_nir(path, dt=1e-3, reset="zero")
    with pytest.raises(NIRImportError, match="no such file"):
        from_nir(tmp_path / "missing.nir", dt=1e-3, reset="zero")
