"""Energy = counts x published costs: the accounting, the profiles, and the report."""
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import neurochip as nc
from neurochip.chip.energy import energy, per_core_pj, run_energy, step_core_pj
from neurochip.chip.spec import Profile, presets
from neurochip.model.events import ALL_EVENTS, EVENTS, PHASES

PROFILES = presets("profiles")
counts_st = st.dictionaries(st.sampled_from(ALL_EVENTS), st.integers(0, 10**9))


@settings(max_examples=200, deadline=None)
@given(counts_st, st.sampled_from(PROFILES))
def test_breakdown_sums_to_total(counts, name):
    e = energy(counts, Profile.preset(name))
    known = [v for v in e.pj.values() if not math.isnan(v)]
    assert math.isclose(sum(known), e.total_pj, rel_tol=1e-12, abs_tol=1e-9)
    assert math.isclose(sum(e.by_phase().values()), e.total_pj, rel_tol=1e-12, abs_tol=1e-9)
    assert sorted(k for ks in PHASES.values() for k in ks) == sorted(ALL_EVENTS)
    assert set(e.unknown) == {k for k in ALL_EVENTS if counts.get(k, 0) and math.isnan(Profile.preset(name).cost(k))}


@settings(max_examples=200, deadline=None)
@given(counts_st, st.sampled_from(ALL_EVENTS), st.integers(1, 10**6), st.sampled_from(PROFILES))
def test_energy_is_linear_in_each_count(counts, kind, extra, name):
    prof = Profile.preset(name)
    more = dict(counts)
    more[kind] = more.get(kind, 0) + extra
    a, b = energy(counts, prof), energy(more, prof)
    cost = prof.cost(kind)
    if math.isnan(cost):
        assert kind in b.unknown and math.isclose(a.total_pj, b.total_pj, rel_tol=1e-12, abs_tol=1e-9)
    else:
        ulp = 8 * np.finfo(np.float64).eps * max(a.total_pj, b.total_pj)  # rounding of the two sums
        assert math.isclose(b.total_pj - a.total_pj, extra * cost, rel_tol=1e-9, abs_tol=ulp + 1e-9)


def test_profiles_cite_every_constant():
    for name in PROFILES:
        p = Profile.preset(name)
        assert p.citation and p.process, name
        for k in ALL_EVENTS:
            c = p.events[k]
            assert c.basis in ("simulated", "silicon", "derived", "unknown"), (name, k, c.basis)
            assert c.source, (name, k)
            assert (c.basis == "unknown") <= math.isnan(c.energy_pj), (name, k)
    davies = Profile.preset("loihi1_davies2018")
    assert [davies.cost(k) for k in ("syn_ops", "weight_writes", "neuron_updates_inactive",
                                     "neuron_updates_active", "packets", "hops_ew", "hops_ns")] == \
        [23.6, 120.0, 52.0, 81.0, 1.7, 3.0, 4.0]
    sanafe = Profile.preset("loihi1_sanafe")
    assert [sanafe.cost(k) for k in ("syn_ops", "spikes_out", "packets", "hops_ew", "hops_ns")] == \
        [35.5, 69.3, 111.0, 3.0, 4.2]
    assert math.isclose(sanafe.cost("neuron_updates_active"), 51.2 + 21.6)
    assert Profile.preset("anp1_28nm").cost("syn_ops") == 1.5
    filled = davies.filled(Profile.preset("horowitz45nm"))
    assert filled.cost("weight_writes") == 120.0 and filled.events["weight_writes"].basis == "simulated"
    assert filled.cost("error_ops") == 4.6 and filled.events["error_ops"].basis == "derived"
    assert "horowitz45nm" in filled.events["error_ops"].source


def test_run_energy_is_counts_times_constants_per_core():
    rng = np.random.default_rng(0)
    net = nc.Network()
    net.add(nc.SpikeSource(40, name="in"))
    net.add(nc.LoihiLIF(60, du=4095, dv=300, vth=30, name="h"))
    net.connect("in", "h", rng.choice([-6, -2, 2, 4, 10, 20], (60, 40)))  # no zeros: fan-out 60
    chip = nc.loihi1()
    x = rng.random((50, 40)) < 0.2
    res = nc.Simulator(net, chip, nc.Placement.sequential(net, chip, per_core=16)).run(50, inputs={"in": x})
    prof = chip.profile
    e = run_energy(res, prof)
    host_spikes = int(res.counters[-1, EVENTS.index("spikes_out")])
    assert host_spikes == x.sum()  # injected spikes sit on the host row, and no chip soma fires them
    by_hand = sum(res.total(k) * prof.cost(k) for k in EVENTS if res.total(k)) - host_spikes * prof.cost("spikes_out")
    assert math.isclose(e.total_pj, by_hand, rel_tol=1e-12)
    assert math.isclose(per_core_pj(res.counters, prof).sum(), e.total_pj, rel_tol=1e-12)
    assert e.counts["syn_ops"] == x.sum() * 60  # direct count: input spikes x fan-out
    assert res.total("spikes_out") > 0


def test_energy_per_step_and_core_adds_up_to_the_run():
    rng = np.random.default_rng(2)
    net = nc.Network()
    net.add(nc.SpikeSource(30, name="in"))
    net.add(nc.LoihiLIF(50, du=2000, dv=300, vth=20, name="h"))
    net.connect("in", "h", rng.choice([-4, 2, 8, 16], (50, 30)))
    chip = nc.loihi1()
    sim = nc.Simulator(net, chip, nc.Placement.sequential(net, chip, per_core=10))
    res = sim.run(40, inputs={"in": rng.random((40, 30)) < 0.3}, record=["step_counters"])
    assert res.step_counters.shape == (40,) + res.counters.shape
    assert np.array_equal(res.step_counters.sum(0), res.counters)
    pj = step_core_pj(res, chip.profile)
    assert pj.shape == (40, len(res.rows)) and (pj[:, :-1] > 0).any(axis=0).all()  # every core spends
    assert math.isclose(pj.sum(), run_energy(res, chip.profile).total_pj, rel_tol=1e-12)
    with pytest.raises(ValueError, match="step_counters"):
        step_core_pj(sim.run(5), chip.profile)


def test_unknown_costs_are_reported_not_zero():
    e = energy({"syn_ops": 10, "trace_updates": 5}, Profile.preset("loihi1_sanafe"))
    assert e.unknown == ["trace_updates"]
    assert e.total_pj == 355.0
    assert e.to_dict()["by_kind_pj"]["trace_updates"] is None
    with pytest.raises(KeyError, match="unknown event kind"):
        energy({"flops": 1}, Profile.preset("loihi1_sanafe"))


def test_report_writes_readable_figures(tmp_path):
    from neurochip.studies.learning_study import study
    from neurochip.studies.report import figures, markdown

    data = study(T=8, epochs=1, train=40, test=10, Ts=(4, 8), sweep_samples=5)
    paths = figures(data, tmp_path)
    import matplotlib.image as mpimg

    for p in paths:
        img = mpimg.imread(p)
        assert img.shape[0] > 300 and img.shape[1] > 600, p
        assert img[..., :3].std() > 0.05, p  # not blank
    md = markdown(data)
    for p in paths:
        assert f"({p.name})" in md
    json.dumps(data)  # every number serialises
    assert set(data["methods"]) == {"OTTT_A", "OTTT_O", "STD-ED", "MPD-ED", "BPTT-SG detached", "BPTT-SG full"}
    bptt = data["vs_T"]["BPTT-SG detached"]["state_bytes"]
    assert bptt[1] > bptt[0] and data["vs_T"]["OTTT_A"]["state_bytes"][0] == data["vs_T"]["OTTT_A"]["state_bytes"][1]
