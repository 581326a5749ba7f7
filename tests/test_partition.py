"""Partitioning and placement: every result fits every limit, and the split changes no spike."""
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neurochip as nc
from neurochip.chip.spec import ChipSpec, CoreSpec, Profile
from neurochip.mapping.placement.partition import partition
from neurochip.mapping.placement.place import map_network, place
from neurochip.mapping.placement.report import mapping_report, plot_mesh_heatmap
from tests.strategies import networks

TINY = ChipSpec("tiny", 4, 4, 2, CoreSpec(compartments=16, input_axons=40, output_axons=40,
                                          synapse_memory_bits=20000), Profile.preset("loihi1_sanafe"))


def quiet(fn, *a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.WeightClipWarning)
        return fn(*a, **kw)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=networks(fixed=True, max_n=30, max_pops=3), chip=st.sampled_from([TINY, nc.loihi1()]),
       seed=st.integers(0, 100))
def test_every_method_fits_and_gives_identical_spikes(case, chip, seed):
    net, inputs, steps = case
    rasters = []
    for method in ("greedy", "metis", "random"):
        try:
            placement = quiet(partition, net, chip, method, seed=seed)
        except nc.FitError as e:
            assert "limit" in str(e) or "cores" in str(e)
            continue
        placement = quiet(place, placement, net, chip, seed=seed)
        sim = quiet(nc.Simulator, net, chip, placement)  # compiling checks every limit again
        usage = sim.program.usage
        for limit in ("compartments", "input_axons", "output_axons", "synapse_memory_bits"):
            assert usage[limit].max() <= getattr(chip.core, limit), limit
        rasters.append(sim.run(steps, inputs=inputs, record=["spikes"]).spikes)
    for r in rasters[1:]:
        for k in r:
            assert np.array_equal(r[k], rasters[0][k])


def layered_net(sizes=(24, 32, 32, 10), seed=0):
    rng = np.random.default_rng(seed)
    net = nc.Network()
    net.add(nc.SpikeSource(sizes[0], name="in"))
    prev = "in"
    for k, n in enumerate(sizes[1:]):
        net.add(nc.LoihiLIF(n, du=200, dv=200, vth=500, name=f"l{k}"))
        w = rng.integers(-40, 60, (n, net.populations[prev].n)) * (rng.random((n, net.populations[prev].n)) < 0.3)
        net.connect(prev, f"l{k}", 2 * w)
        prev = f"l{k}"
    return net


def test_placement_cuts_hops_against_random_placement():
    net = layered_net()
    placement = partition(net, TINY, "metis")
    placed = mapping_report(net, TINY, place(placement, net, TINY))
    rand = mapping_report(net, TINY, place(placement, net, TINY, method="random", seed=1))
    assert placed["hop_traffic"] < rand["hop_traffic"]
    assert placed["cores_used"] == rand["cores_used"]


def test_a_neuron_too_wide_for_any_core_is_named():
    net = nc.Network()
    net.add(nc.SpikeSource(50, name="in"))
    net.add(nc.LoihiLIF(2, du=0, dv=0, vth=10, name="wide"))
    net.connect("in", "wide", np.ones((2, 50), int))
    with pytest.raises(nc.FitError, match=r"neuron 0 of population 'wide' alone breaks the input_axons limit "
                                          r"of a tiny core: 50 > 40"):
        partition(net, TINY)
    big = layered_net((20, 600))
    with pytest.raises(nc.FitError, match="needs .* cores under the .* limits; tiny has 32: population 'l0' is the "
                                          "first past the last core"):
        partition(big, TINY)


def test_a_mapping_builds_its_synapse_table_once():
    """What `neurochip map` does (partition with its greedy fallback, place, report with its
    compile) warns once about a clipped weight: the synapse table is built once."""
    net = layered_net()
    net.projections[1].weights[0, 0] = 301  # beyond the 8-bit mixed-sign range: clipped
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mapping = map_network(net, TINY, "metis")
        mapping.report()
    clipped = [str(w.message) for w in caught if w.category is nc.WeightClipWarning]
    assert len(clipped) == 1 and clipped[0].startswith("projection 'l0->l1': 1 of ")


def test_report_and_heatmap(tmp_path):
    import matplotlib.image as mpimg

    net = layered_net()
    chip = nc.loihi1()
    placement = place(partition(net, chip, "greedy"), net, chip)
    rep = mapping_report(net, chip, placement)
    assert rep["cores_used"] == len(rep["core_ids"]) >= 1
    assert all(0 < u <= 1 for u in rep["utilization"]["compartments"])
    png = plot_mesh_heatmap(rep, chip, tmp_path / "mesh.png")
    img = mpimg.imread(png)
    assert img.shape[0] > 100 and img.shape[1] > 100
