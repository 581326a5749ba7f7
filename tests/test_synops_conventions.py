"""neurochip's `syn_ops` against the synaptic-operation counts of Sinabs and NeuroBench on the
same spiking CNN and input (fixture: tests/fixtures/synops/make_fixture.py, made in a torch
venv; the network, exported by `sinabs.to_nir`, is cnn.nir; the counts are in synops.npz).

The three definitions (README.md beside the fixture has the numbers):
- neurochip: one syn_op per synapse walked; a spike walks its neuron's stored synapses, and
  only non-zero weights are stored. Linear nodes between neuron layers are composed into one
  projection (here SumPool2d(2) and the second Conv2d), so each spike walks its own
  fan-out through the pooling. The counter covers every step run, including the `lag`
  steps after the input ends that framework timing needs ("tail").
- Sinabs (`sinabs.hooks`, same as the deprecated SNNAnalyzer): per Conv2d/Linear, input value
  x structural fan-out (conv: transposed conv of ones, so padding/borders count only real
  connections; linear: out_features). Zero weights count; SumPool2d is not counted itself,
  its summed output (spike counts) is the next conv's input, so a pooled 3 costs 3 fan-outs.
- NeuroBench (`SynapticOperations`): per Conv2d/Linear call, non-zero inputs x non-zero
  weights (both binarised): zero weights do not count, and a pooled input of 3 counts once.
  A layer whose input holds any value other than 0/1/-1 goes to Effective_MACs instead of
  Effective_ACs (here the conv after the SumPool); "Dense" counts all inputs and weights.
Each convention is computed from neurochip's own rasters and weights and must equal the
peer's number exactly; the counter itself must equal neurochip's definition exactly.
"""
from pathlib import Path

import numpy as np
import pytest

import neurochip as nc
from neurochip.mapping.nir import unroll
from neurochip.mapping.nir.importer import from_nir, read_nir

FIX = Path(__file__).parent / "fixtures" / "synops"
NPZ, NIR = FIX / "synops.npz", FIX / "cnn.nir"
LAYERS = ("1", "4", "7")                                      # IF nodes of cnn.nir (Sequential indices)
PROJ = {"0": ("input", "1"), "3": ("1", "4"), "6": ("4", "7")}  # weight layer -> chip projection

pytestmark = pytest.mark.skipif(not (NPZ.exists() and NIR.exists()),
                                reason=f"fixture missing: run tests/fixtures/synops/make_fixture.py "
                                       f"with a torch+sinabs+neurobench Python to make {NPZ.name} and {NIR.name}")


@pytest.fixture(scope="module")
def run():
    d = dict(np.load(NPZ))
    T, n_in = int(d["T"]), int(d["n_in"])
    x = np.unpackbits(d["x"], axis=-1)[:, :n_in].astype(bool)
    # Sinabs IAF: threshold 1, MembraneSubtract (subtractive reset), no leak, min_v_mem None
    imp = from_nir(NIR, dt=1.0, reset="subtract", timing="framework")
    assert "bias" not in imp.net.populations  # the network has no biases: no always-on input
    sim = nc.Simulator(imp.net)
    steps = T + max(imp.lag.values())
    inputs = imp.inputs_for(x)
    res = sim.run(steps, inputs=inputs, record=["spikes"])
    full = {"input": inputs["input"].astype(bool), **{p: res.spikes[p] for p in LAYERS}}
    window = {"input": x, **{p: imp.align(res.spikes[p], p, T) for p in LAYERS}}
    proj = {(p.pre, p.post): p for p in imp.net.projections}
    graph = read_nir(NIR)
    return dict(d=d, T=T, imp=imp, res=res, full=full, window=window, proj=proj, nodes=graph.nodes)


def ops(raster, fanout) -> int:
    """Synapses walked: every spike of a pre neuron times that neuron's fan-out."""
    return int(np.asarray(raster, np.int64).sum(0) @ np.asarray(fanout, np.int64))


def nonzero_fanout(W) -> np.ndarray:
    return np.asarray((W != 0).sum(0)).ravel()


def structural(nodes, layer):
    """Sparse (n_out, n_in) connectivity of one weight layer with every weight set to 1
    (zero weights included), and the pooling in front of it (or None)."""
    node = nodes[layer]
    if type(node).__name__ == "Conv2d":
        in_shape = (node.weight.shape[1],) + tuple(int(s) for s in node.input_shape)
        M, _ = unroll.conv(np.ones_like(node.weight), in_shape, node.stride, node.padding, node.dilation, node.groups)
    else:
        M = np.ones_like(np.asarray(node.weight))
    return M


def pool(nodes):
    """The SumPool2d node '2' on layer '1' (4x12x12) as a sparse (n_pooled, n_1) matrix."""
    node = nodes["2"]
    M, _ = unroll.pool2d((4, 12, 12), node.kernel_size, node.stride, node.padding, average=False)
    return M


def test_spikes_equal_sinabs(run):
    """Every spike of every layer, within Sinabs' T steps, is the one Sinabs emitted."""
    d = run["d"]
    for i, pop in enumerate(LAYERS):
        ref = np.unpackbits(d[f"spikes_{pop}"], axis=-1)[:, :int(d["spike_n"][i])].astype(bool)
        got = run["window"][pop]
        assert got.shape == ref.shape
        assert int(got.sum()) == int(d["spike_counts"][i]), pop
        assert np.array_equal(got, ref), f"layer {pop}: {np.argwhere(got != ref)[:5]}"
    assert all(c > 0 for c in d["spike_counts"])


def test_counter_is_spikes_times_stored_fanout(run):
    """The syn_ops counter = sum over all spikes sent in the run (input included) of the
    sender's number of stored (non-zero) synapses. Tail spikes (after the input ends,
    neurons whose v stayed above threshold after the subtractive reset) count too."""
    total = sum(ops(run["full"][pre], nonzero_fanout(p.weights)) for (pre, _), p in run["proj"].items())
    assert run["res"].totals()["syn_ops"] == total


def test_syn_ops_equal_sinabs_synops(run):
    """Sinabs counts structural synapses (zero weights too) and pooled spike counts x conv
    fan-out; under that convention neurochip's count equals Sinabs' per layer, exactly.
    neurochip itself skips the zero-weight synapses, which the test shows is the only gap."""
    d, w, nodes = run["d"], run["window"], run["nodes"]
    P = pool(nodes)
    for i, layer in enumerate(("0", "3", "6")):
        pre, post = PROJ[layer]
        S = structural(nodes, layer)
        if layer == "3":                                  # SumPool2d composed into the projection
            S = S @ P
        sinabs_convention = ops(w[pre], nonzero_fanout(S))
        assert sinabs_convention == int(d["sinabs_synops"][i]), layer
        assert abs(d["sinabs_synops_raw"][i] - d["sinabs_synops"][i]) < 0.1  # float32 mean x T
        assert int(d["analyzer_synops"][i]) == int(d["sinabs_synops"][i])   # deprecated API agrees
        chip = ops(w[pre], nonzero_fanout(run["proj"][(pre, post)].weights))
        zero_weight_walks = ops(w[pre], nonzero_fanout(S) - nonzero_fanout(run["proj"][(pre, post)].weights))
        assert chip + zero_weight_walks == int(d["sinabs_synops"][i])
        assert zero_weight_walks > 0  # the fixture sets some weights to 0 to show the difference
    assert int(d["sinabs_total"]) == int(d["sinabs_synops"].sum())


def test_syn_ops_equal_neurobench_effective_ops(run):
    """NeuroBench skips zero weights (as neurochip does) but binarises each layer's input:
    after SumPool2d a pooled count k > 1 costs one fan-out, not k, and makes that layer's ops
    MACs rather than ACs. Its Dense count is all inputs x all weights, every step."""
    d, w, nodes, T = run["d"], run["window"], run["nodes"], run["T"]
    chip = {layer: ops(w[pre], nonzero_fanout(run["proj"][(pre, post)].weights)) for layer, (pre, post) in PROJ.items()}
    conv2 = nodes["3"]
    W3, _ = unroll.conv(conv2.weight, (4, 6, 6), conv2.stride, conv2.padding, conv2.dilation, conv2.groups)
    pooled = w["1"].astype(np.int64) @ pool(nodes).T      # (T, 4*6*6) spike counts into conv 3
    nb = {"0": chip["0"], "3": ops(pooled > 0, nonzero_fanout(W3)), "6": chip["6"]}
    for i, layer in enumerate(("0", "3", "6")):
        assert nb[layer] == int(d["neurobench_layer_ops"][i]), layer
    is_ac = [True, pooled.max() <= 1, True]
    assert list(d["neurobench_layer_is_ac"]) == is_ac
    acs = sum(nb[k] for k, ac in zip(("0", "3", "6"), is_ac) if ac)
    macs = sum(nb[k] for k, ac in zip(("0", "3", "6"), is_ac) if not ac)
    assert acs == d["neurobench_effective_acs"] and macs == d["neurobench_effective_macs"]
    # neurochip walks each pooled spike's fan-out separately: more than NeuroBench's conv 3
    assert chip["3"] > nb["3"] and chip["0"] == nb["0"] and chip["6"] == nb["6"]
    dense = T * sum(int(structural(nodes, k).sum()) for k in ("0", "3", "6"))
    assert dense == d["neurobench_dense"]


def test_totals(run):
    """The headline numbers side by side (also in the fixture's README)."""
    d, w = run["d"], run["window"]
    in_window = sum(ops(w[pre], nonzero_fanout(p.weights)) for (pre, _), p in run["proj"].items())
    tail = run["res"].totals()["syn_ops"] - in_window
    assert tail >= 0
    assert in_window < int(d["sinabs_total"])                    # zero weights
    assert in_window > d["neurobench_effective_acs"] + d["neurobench_effective_macs"]  # pooled counts binarised
