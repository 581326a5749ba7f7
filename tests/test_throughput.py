"""The fast paths give what the generic ones give, bit for bit: the int32 kernels of fixed-point
LIF networks (`kernels.run_fixed32`) against the generic kernels (`kernels.run`), and samples
run in compiled code, on one thread or several (`Simulator.run_samples(workers=...)`), against
one `reset` and `run` per sample."""
import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neurochip as nc
from neurochip.chip import kernels
from tests.strategies import networks

SETTINGS = settings(max_examples=40 if os.environ.get("CI") else 15, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
RECORD = ["spikes", "u", "v", "core_time", "step_counters"]


def simulator(net, per_core=None, generic=False):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.WeightClipWarning)
        chip = nc.loihi1()
        placement = None if per_core is None else nc.Placement.sequential(net, chip, per_core=per_core)
        sim = nc.Simulator(net, chip, placement)
    if generic:
        sim._fixed32 = lambda *a: False
    return sim


def assert_same_run(a, b):
    assert a.spikes.keys() == b.spikes.keys()
    for f in ("spikes", "u", "v", "spike_counts"):
        for name in getattr(a, f):
            x, y = getattr(a, f)[name], getattr(b, f)[name]
            assert x.dtype == y.dtype and np.array_equal(x, y), (f, name)
    for f in ("counters", "step_counters", "step_latency_ns", "core_busy_ns", "core_time_ns"):
        x, y = getattr(a, f), getattr(b, f)
        assert (x is None) == (y is None), f
        if x is not None:
            assert np.array_equal(x, y, equal_nan=True), f


def assert_same_state(s1, s2):
    assert s1.t == s2.t
    for k in ("u", "v", "dend", "scratch"):
        x, y = getattr(s1, k), getattr(s2, k)
        assert x.dtype == y.dtype and np.array_equal(x, y), k


@SETTINGS
@given(networks(fixed=True, resets=("zero", "subtract")), st.sampled_from([None, 3, 16]), st.integers(1, 3))
def test_int32_kernels_equal_the_generic_kernels(case, per_core, pieces):
    """Every spike, state, counter and latency, over runs continued in `pieces` pieces."""
    net, inputs, steps = case
    fast, slow = simulator(net, per_core), simulator(net, per_core, generic=True)
    assert fast._fixed32(), "the strategy's networks should take the fast path"
    cuts = np.linspace(0, steps, pieces + 1).astype(int)
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        part = {k: x[lo:hi] for k, x in inputs.items()}
        assert_same_run(fast.run(hi - lo, part, record=RECORD), slow.run(hi - lo, part, record=RECORD))
        assert_same_state(fast, slow)


def test_int32_kernels_equal_the_generic_kernels_on_graded_input():
    rng = np.random.default_rng(3)
    net = nc.Network()
    net.add(nc.GradedSource(6, name="x", scale=1 / 64))
    net.add(nc.LoihiLIF(8, du=300, dv=100, vth=300, name="h", reset="subtract"))
    net.connect("x", "h", rng.integers(-120, 120, (8, 6)), weight_exp=-2)
    net.connect("h", "h", rng.integers(-60, 60, (8, 8)), delay=rng.integers(0, 3, (8, 8)))
    x = rng.normal(0, 3, (40, 6)) * (rng.random((40, 6)) < 0.6)
    fast, slow = simulator(net), simulator(net, generic=True)
    assert fast._fixed32(np.array([64.0]))
    assert_same_run(fast.run(40, {"x": x}, record=RECORD), slow.run(40, {"x": x}, record=RECORD))
    assert_same_state(fast, slow)


def test_the_fast_path_is_refused_where_int32_could_differ():
    u = np.zeros(3, np.int64)
    ok = dict(u=u, v=u, du_fac=np.full(3, 4096), dv_fac=np.zeros(3, np.int64), bias=u, sub=u)
    assert kernels.fixed32_fits(*ok.values())
    for key, bad in (("u", 2**31), ("v", -2**31 - 1), ("du_fac", 4097), ("dv_fac", -1), ("bias", 2**32),
                     ("sub", 2**31 - 2**23)):
        arrays = dict(ok, **{key: np.array([0, bad, 0], np.int64)})
        assert not kernels.fixed32_fits(*arrays.values()), key
    # a compartment whose dendritic sum could pass 2**31: payloads 2**22 on weights 254 << 7
    net = nc.Network()
    net.add(nc.GradedSource(4, name="x"))
    net.add(nc.LoihiLIF(1, du=0, dv=0, vth=100, name="h"))
    net.connect("x", "h", np.full((1, 4), 254), weight_exp=7)
    sim = simulator(net)
    assert sim._fixed32(np.array([1.0])) and not sim._fixed32(np.array([2.0**22]))
    x = np.full((3, 4), 2.0**22)
    assert_same_run(sim.run(3, {"x": x}, record=RECORD), simulator(net, generic=True).run(3, {"x": x}, record=RECORD))
    # float networks and B1 neurons take the generic kernels
    net = nc.Network()
    net.add(nc.SpikeSource(2, name="in"))
    net.add(nc.FloatLIF(2, du=0.5, dv=0.5, vth=1.0, name="h"))
    net.connect("in", "h", np.ones((2, 2)))
    assert not simulator(net)._fixed32()


def test_weights_changed_in_place_are_seen_by_the_fast_path():
    """The packet-ordered synapse tables are rebuilt when a weight changes (as learning does)."""
    rng = np.random.default_rng(2)
    net = nc.Network()
    net.add(nc.SpikeSource(10, name="in"))
    net.add(nc.LoihiLIF(6, du=200, dv=100, vth=80, name="h"))
    net.connect("in", "h", rng.integers(0, 100, (6, 10)))
    x = rng.random((20, 10)) < 0.5
    fast, slow = simulator(net), simulator(net, generic=True)
    assert_same_run(fast.run(20, {"in": x}, record=RECORD), slow.run(20, {"in": x}, record=RECORD))
    for sim in (fast, slow):
        sim.program.syn_w[::2] = -sim.program.syn_w[::2]
    assert_same_run(fast.run(20, {"in": x}, record=RECORD), slow.run(20, {"in": x}, record=RECORD))
    assert_same_state(fast, slow)


def samples_of(case, n, rng):
    _, inputs, steps = case
    out = []
    for _ in range(n):   # ragged lengths: run_samples pads with silence
        T = int(rng.integers(1, steps + 1))
        out.append({k: rng.random((T, x.shape[1])) < x.mean() for k, x in inputs.items()})
    return out


@SETTINGS
@given(networks(fixed=True, resets=("zero", "subtract"), steps=(5, 25)) | networks(fixed=False, steps=(5, 25)),
       st.integers(1, 9), st.integers(0, 2**32 - 1))
def test_run_samples_on_threads_equals_one_sample_at_a_time(case, n, seed):
    net = case[0]
    samples = samples_of(case, n, np.random.default_rng(seed))
    steps = max(len(x) for s in samples for x in s.values())
    one = simulator(net, per_core=8)
    singles = []
    for s in samples:
        one.reset()
        padded = {k: np.vstack([x, np.zeros((steps - len(x), x.shape[1]), bool)]) for k, x in s.items()}
        singles.append(one.run(steps, padded, record=RECORD))
    for workers in (1, 2, 3):
        sim = simulator(net, per_core=8)
        sim.run(3, {k: np.ones((3, x.shape[1]), bool) for k, x in case[1].items()})  # left-over state: reset
        many = sim.run_samples(samples, record=RECORD, workers=workers)
        for k, r in enumerate(singles):
            for f in ("spikes", "u", "v", "spike_counts"):
                for name in getattr(r, f):
                    assert np.array_equal(getattr(many, f)[name][k], getattr(r, f)[name]), (workers, k, f, name)
            assert np.array_equal(many.sample_counters[k], r.counters), (workers, k)
            assert np.array_equal(many.step_latency_ns[k], r.step_latency_ns, equal_nan=True)
            assert np.array_equal(many.core_time_ns[k], r.core_time_ns, equal_nan=True)
        assert np.array_equal(many.counters, sum(r.counters for r in singles))
        assert np.array_equal(many.step_counters, sum(r.step_counters for r in singles))
        assert np.array_equal(many.core_busy_ns, sum(r.core_busy_ns for r in singles), equal_nan=True)
        assert_same_state(sim, one)   # left as after the last sample


def test_run_samples_in_parallel_equals_one_thread_on_a_larger_set():
    """A fixed set: 64 samples of a recurrent fixed-point network over 4 cores, 1 vs 2 workers."""
    rng = np.random.default_rng(11)
    net = nc.Network()
    net.add(nc.SpikeSource(40, name="in"))
    net.add(nc.LoihiLIF(120, du=400, dv=200, vth=600, bias_mant=3, bias_exp=2, name="h"))
    net.add(nc.LoihiLIF(10, du=4095, dv=0, vth=2**17 - 1, name="out"))
    net.connect("in", "h", rng.integers(-40, 90, (120, 40)))
    net.connect("h", "h", rng.integers(-30, 30, (120, 120)) * (rng.random((120, 120)) < 0.2),
                delay=rng.integers(0, 4, (120, 120)))
    net.connect("h", "out", rng.integers(-100, 100, (10, 120)))
    samples = [rng.random((30, 40)) < 0.3 for _ in range(64)]
    one = simulator(net, per_core=32).run_samples(samples, record=["spikes", "v"], workers=1)
    two = simulator(net, per_core=32).run_samples(samples, record=["spikes", "v"], workers=2)
    assert one.spikes["h"].sum() > 0
    for f in ("spikes", "v", "spike_counts"):
        for name in getattr(one, f):
            assert np.array_equal(getattr(one, f)[name], getattr(two, f)[name]), (f, name)
    assert np.array_equal(one.sample_counters, two.sample_counters)
    assert np.array_equal(one.counters, two.counters) and np.array_equal(one.counters, one.sample_counters.sum(0))
    assert np.array_equal(one.step_latency_ns, two.step_latency_ns)


def test_run_samples_rejects_bad_workers():
    net = nc.Network()
    net.add(nc.SpikeSource(2, name="in"))
    net.add(nc.LoihiLIF(2, du=0, dv=0, vth=10, name="h"))
    net.connect("in", "h", np.ones((2, 2), np.int64))
    with pytest.raises(nc.NetworkError, match="workers must be a positive integer"):
        simulator(net).run_samples([np.ones((3, 2), bool)], workers=0)
