"""The simulator against the slow Lava-semantics reference, the NIR-paper golden traces,
and itself under different splits over cores."""
import os
import threading
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neurochip as nc
from neurochip.chip import kernels
from neurochip.model.neurons import B1
from tests.conftest import golden
from tests.reference import naive_kernels
from tests.reference.lava_like import count_events, simulate
from tests.strategies import networks

SETTINGS = settings(max_examples=60 if os.environ.get("CI") else 25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])




def run_sim(net, inputs, steps, placement=None, record=("spikes", "u", "v")):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.WeightClipWarning)
        sim = nc.Simulator(net, placement=placement)
        return sim, sim.run(steps, inputs=inputs, record=list(record))


BOTH_RESETS = ("zero", "subtract")


@SETTINGS
@given(networks(fixed=True, resets=BOTH_RESETS))
def test_fixed_point_matches_reference(case):
    net, inputs, steps = case
    _, res = run_sim(net, inputs, steps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.WeightClipWarning)
        spikes, u, v = simulate(net, steps, inputs)
    for name in net.neurons():
        assert np.array_equal(res.spikes[name], spikes[name]), name
        assert np.array_equal(res.u[name], u[name]), name
        assert np.array_equal(res.v[name], v[name]), name


@SETTINGS
@given(networks(fixed=False, resets=BOTH_RESETS))
def test_float_matches_reference(case):
    net, inputs, steps = case
    _, res = run_sim(net, inputs, steps)
    spikes, u, v = simulate(net, steps, inputs)
    tol = 1e3 * np.finfo(np.float64).eps
    for name in net.neurons():
        assert np.array_equal(res.spikes[name], spikes[name]), name
        np.testing.assert_allclose(res.u[name], u[name], rtol=tol, atol=tol * (1 + np.abs(u[name]).max()))
        np.testing.assert_allclose(res.v[name], v[name], rtol=tol, atol=tol * (1 + np.abs(v[name]).max()))


def golden_net():
    net = nc.Network()
    net.add(nc.SpikeSource(1, name="in"))
    net.add(nc.LoihiLIF(1, du=4095, dv=163, vth=25, name="lif"))
    net.connect("in", "lif", np.array([[10]]))
    return net


def test_nir_paper_lif_matches_lava_cpu_exactly():
    d = np.loadtxt(golden("nir_paper_01_lif") / "lif_lava_cpu_fixed.csv", delimiter=",")
    _, res = run_sim(golden_net(), {"in": d[:, :1]}, len(d))
    assert np.array_equal(res.v["lif"][:, 0], d[:, 1])
    assert np.array_equal(res.spikes["lif"][:, 0], d[:, 2].astype(bool))
    assert res.spikes["lif"].sum() > 0


def test_nir_paper_lif_matches_loihi2_silicon_spikes():
    d = np.loadtxt(golden("nir_paper_01_lif") / "lif_lava_loihi_fixed.csv", delimiter=",")
    _, res = run_sim(golden_net(), {"in": d[:, :1]}, len(d))
    s = d[:, 2].astype(bool)
    assert np.array_equal(res.spikes["lif"][:, 0], s)
    # silicon records v = 128 at spike steps where the CPU model records the reset 0
    assert np.array_equal(res.v["lif"][~s, 0], d[~s, 1])


@st.composite
def split_cases(draw):
    net, inputs, steps = draw(networks(fixed=True, max_n=40))
    chip = nc.loihi1()
    n_total = sum(net.populations[k].n for k in net.neurons())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scattered = nc.Placement({k: rng.integers(0, chip.n_cores, net.populations[k].n) for k in net.neurons()})
    fewest = max(1, -(-n_total // chip.n_cores))  # per_core below this needs more cores than the chip has
    small = nc.Placement.sequential(net, chip, per_core=draw(st.integers(fewest, max(fewest, n_total))))
    return net, inputs, steps, [nc.Placement.sequential(net, chip), small, scattered]


@SETTINGS
@given(split_cases())
def test_split_over_cores_changes_nothing_but_traffic(case):
    net, inputs, steps, placements = case
    chip = nc.loihi1()
    results = []
    for placement in placements:
        sim, res = run_sim(net, inputs, steps, placement)
        results.append(res)
        # counters follow this placement exactly, as recounted by the reference
        expect, per_core = count_events(net, sim.program, chip, res.spikes, inputs)
        got = res.totals()
        for kind, value in expect.items():
            assert got[kind] == value, (kind, got[kind], value)
        rows = dict(zip(res.rows, res.counters[:, nc.EVENTS.index("syn_ops")]))
        assert {int(r.split()[1]): int(c) for r, c in rows.items() if r != "host" and c} == per_core
    base = results[0]
    for res in results[1:]:
        for name in net.neurons():
            assert np.array_equal(res.spikes[name], base.spikes[name])
            assert np.array_equal(res.v[name], base.v[name])
        for kind in ("syn_ops", "spikes_out", "neuron_updates_active", "neuron_updates_inactive", "dendrite_accums"):
            assert res.total(kind) == base.total(kind), kind


def test_populations_run_their_own_kernels():
    """A float LIF and B1 neurons in one network: each run of neurons is updated by its kernel."""
    rng = np.random.default_rng(0)
    w_in, w_b1 = rng.uniform(0, 1, (4, 5)), rng.uniform(0, 0.4, (3, 4))
    x = rng.random((24, 5)) < 0.4
    runs, kernel_runs = [], []
    for with_b1 in (True, False):
        net = nc.Network()
        net.add(nc.SpikeSource(5, name="in"))
        net.add(nc.FloatLIF(4, du=0.5, dv=0.2, vth=1.0, name="lif"))
        net.connect("in", "lif", w_in)
        if with_b1:
            net.add(B1(3, start=6, steps=8, slope=0.25, theta=[0.5, 1.0, 1.5], name="b1"))
            net.connect("lif", "b1", w_b1)
        sim = nc.Simulator(net)
        runs.append(sim.run(24, inputs={"in": x}))
        kernel_runs.append(sim.program.kernel_runs.tolist())
    assert kernel_runs == [[[0, 4, kernels.LIF], [4, 7, kernels.B1]], [[0, 4, kernels.LIF]]]
    assert np.array_equal(runs[0].spikes["lif"], runs[1].spikes["lif"])
    a = np.vstack([np.zeros((1, 4)), runs[0].spikes["lif"][:-1]]) @ w_b1.T   # one step of delay
    u, v, want = [0.0] * 3, [0.0] * 3, []
    for t in range(24):
        u, v, flags = naive_kernels.b1_update(t, a[t], u, v, [6] * 3, [8] * 3, [0.25] * 3, [0.5, 1.0, 1.5])
        want.append([f & 4 > 0 for f in flags])
    assert np.array_equal(runs[0].spikes["b1"], want) and 0 < runs[0].spikes["b1"].sum() <= 3


def test_runs_continue_where_they_stopped():
    rng = np.random.default_rng(1)
    net = golden_net()
    x = rng.random((200, 1)) < 0.3
    _, whole = run_sim(net, {"in": x}, 200)
    sim = nc.Simulator(net)
    a = sim.run(120, inputs={"in": x[:120]}, record=["spikes", "v"])
    b = sim.run(80, inputs={"in": x[120:]}, record=["spikes", "v"])
    assert np.array_equal(np.vstack([a.spikes["lif"], b.spikes["lif"]]), whole.spikes["lif"])
    assert np.array_equal(np.vstack([a.v["lif"], b.v["lif"]]), whole.v["lif"])


def test_step_latency_is_slowest_core_plus_barrier():
    rng = np.random.default_rng(2)
    net = nc.Network()
    net.add(nc.SpikeSource(20, name="in"))
    net.add(nc.LoihiLIF(50, du=100, dv=100, vth=10, name="a"))
    net.connect("in", "a", rng.integers(0, 100, (50, 20)))
    chip = nc.loihi1()
    sim = nc.Simulator(net, chip, nc.Placement.sequential(net, chip, per_core=10))
    res = sim.run(30, inputs={"in": rng.random((30, 20)) < 0.3}, record=["core_time"])
    assert res.core_time_ns.shape == (30, 5)
    tiles = len({c // chip.cores_per_tile for c in sim.program.core_ids})
    barrier = chip.barrier(tiles) * 1e9
    np.testing.assert_allclose(res.step_latency_ns, res.core_time_ns.max(axis=1) + barrier)
    np.testing.assert_allclose(res.core_busy_ns, res.core_time_ns.sum(axis=0))
    # per-core time is the dot product of that core's counts with the profile's latencies
    lat = chip.profile.vector("latency_ns")
    np.testing.assert_allclose(res.core_busy_ns, res.counters[:-1] @ lat)


def test_unknown_latency_is_reported_as_nan_not_zero():
    chip = nc.loihi2()
    sim = nc.Simulator(golden_net(), chip)
    res = sim.run(5, inputs={"in": np.ones((5, 1), bool)})
    assert np.all(np.isnan(res.step_latency_ns))


def test_long_runs_checkpoint_and_resume_bit_identically(tmp_path):
    rng = np.random.default_rng(5)
    net = nc.Network()
    net.add(nc.SpikeSource(16, name="in"))
    net.add(nc.LoihiLIF(24, du=300, dv=100, vth=20, name="h"))
    net.connect("in", "h", 2 * rng.integers(-10, 40, (24, 16)), delay=rng.integers(0, 5, (24, 16)))
    net.connect("h", "h", 2 * rng.integers(-10, 10, (24, 24)))
    x = rng.random((100, 16)) < 0.3
    straight = nc.Simulator(net).run(100, inputs={"in": x}, record=["spikes", "v"])
    first = nc.Simulator(net)
    a = first.run(60, inputs={"in": x[:60]}, record=["spikes", "v"])
    first.save(tmp_path / "sim.npz")
    resumed = nc.Simulator(net)
    resumed.load(tmp_path / "sim.npz")
    b = resumed.run(40, inputs={"in": x[60:]}, record=["spikes", "v"])
    assert np.array_equal(np.vstack([a.spikes["h"], b.spikes["h"]]), straight.spikes["h"])
    assert np.array_equal(np.vstack([a.v["h"], b.v["h"]]), straight.v["h"])
    assert np.array_equal(a.counters + b.counters, straight.counters) and straight.spikes["h"].sum() > 0
    other = nc.Network()
    other.add(nc.SpikeSource(16, name="in"))
    other.add(nc.LoihiLIF(24, du=300, dv=101, vth=20, name="h"))
    other.connect("in", "h", np.ones((24, 16), int))
    with pytest.raises(nc.NetworkError, match="another network"):
        nc.Simulator(other).load(tmp_path / "sim.npz")


def test_run_samples_equals_one_run_per_sample_from_the_initial_state():
    rng = np.random.default_rng(5)
    net = nc.Network()
    net.add(nc.SpikeSource(12, name="in"))
    net.add(nc.LoihiLIF(9, du=900, dv=300, vth=40, name="h"))
    net.connect("in", "h", rng.integers(-30, 60, (9, 12)))
    net.connect("h", "h", rng.integers(-20, 20, (9, 9)))
    samples = [rng.random((n, 12)) < 0.4 for n in (15, 20, 9)]  # ragged: padded with silence to 20 steps
    sim = nc.Simulator(net, nc.loihi1(), nc.Placement.sequential(net, nc.loihi1(), per_core=4))
    sim.run(7, inputs={"in": rng.random((7, 12)) < 0.5})  # state left over: run_samples must reset
    many = sim.run_samples(samples, record=["spikes", "v"])
    one = nc.Simulator(net, nc.loihi1(), nc.Placement.sequential(net, nc.loihi1(), per_core=4))
    singles = []
    for s in samples:
        one.reset()
        singles.append(one.run(20, inputs={"in": np.vstack([s, np.zeros((20 - len(s), 12), bool)])}, record=["spikes", "v"]))
    assert many.spikes["h"].shape == (3, 20, 9) and many.spikes["h"].sum() > 0
    for k, r in enumerate(singles):
        assert np.array_equal(many.spikes["h"][k], r.spikes["h"]) and np.array_equal(many.v["h"][k], r.v["h"])
        assert np.array_equal(many.spike_counts["h"][k], r.spike_counts["h"])
        assert np.array_equal(many.step_latency_ns[k], r.step_latency_ns)
    assert np.array_equal(many.counters, sum(r.counters for r in singles))
    with pytest.raises(nc.NetworkError, match="sample 0 is longer than steps = 5"):
        sim.run_samples(samples, steps=5)


def checkpointed(tmp_path, float_net=False):
    net = nc.Network()
    net.add(nc.SpikeSource(4, name="in"))
    if float_net:
        net.add(nc.FloatLIF(3, du=0.5, dv=0.1, vth=1.0, name="h"))
        net.connect("in", "h", np.full((3, 4), 0.4))
    else:
        net.add(nc.LoihiLIF(3, du=300, dv=100, vth=20, name="h"))
        net.connect("in", "h", np.full((3, 4), 10))
    sim = nc.Simulator(net)
    sim.run(5, inputs={"in": np.ones((5, 4), bool)})
    sim.save(tmp_path / "sim.npz")
    return net, sim, tmp_path / "sim.npz"


def test_damaged_checkpoints_are_refused_naming_the_file_and_what_is_wrong(tmp_path):
    net, sim, path = checkpointed(tmp_path)
    raw, good = path.read_bytes(), dict(np.load(path))
    bad = tmp_path / "bad.npz"
    cases = [(b"", r"bad.npz: not a neurochip simulator checkpoint \(it is empty\)"),
             (raw[: len(raw) // 2], r"bad.npz: not a neurochip simulator checkpoint \(BadZipFile"),
             (b"garbage" * 50, r"bad.npz: not a neurochip simulator checkpoint \(it starts with b'garbag'"),
             ({k: v for k, v in good.items() if k != "v"}, r"bad.npz: .*missing key\(s\) \['v'\]"),
             ({**good, "v": good["v"][:2]}, r"bad.npz: array 'v' is int64 of shape \(2,\), but this network's is "
                                            r"int64 of shape \(3,\)"),
             ({**good, "u": good["u"].astype(np.float32)}, r"bad.npz: array 'u' is float32"),
             ({**good, "t": np.float64(np.nan)}, r"bad.npz: .*'t' must be a non-negative integer step"),
             ({**good, "fingerprint": np.arange(3)}, r"bad.npz: .*'fingerprint' must be a text hash")]
    for content, message in cases:
        if isinstance(content, bytes):
            bad.write_bytes(content)
        else:
            np.savez(bad, **content)
        fresh = nc.Simulator(net)
        with pytest.raises(nc.NetworkError, match=message):
            fresh.load(bad)
        assert fresh.t == 0 and not fresh.v.any()  # a refused checkpoint changes nothing
    np.save(tmp_path / "bare.npy", good["v"])
    with pytest.raises(nc.NetworkError, match="bare.npy: .*one bare array"):
        nc.Simulator(net).load(tmp_path / "bare.npy")
    with pytest.raises(nc.NetworkError, match="no such checkpoint file"):
        nc.Simulator(net).load(tmp_path / "none.npz")


def test_checkpoint_with_nan_state_is_refused(tmp_path):
    net, sim, path = checkpointed(tmp_path, float_net=True)
    good = dict(np.load(path))
    v = good["v"].copy()
    v[1] = np.nan
    np.savez(tmp_path / "nan.npz", **{**good, "v": v})
    with pytest.raises(nc.NetworkError, match=r"nan.npz: array 'v' holds 1 NaN or inf value\(s\)"):
        nc.Simulator(net).load(tmp_path / "nan.npz")
    nc.Simulator(net).load(path)


def test_checkpoint_saves_are_atomic_and_do_not_collide(tmp_path):
    net, sim, path = checkpointed(tmp_path)
    errors = []

    def save_many():
        try:
            for _ in range(15):
                sim.save(path)
        except Exception as e:  # noqa: BLE001 - any failure is the test's finding
            errors.append(e)

    threads = [threading.Thread(target=save_many) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sorted(p.name for p in tmp_path.iterdir()) == ["sim.npz"]  # no temporary left
    resumed = nc.Simulator(net)
    resumed.load(path)
    assert resumed.t == 5 and np.array_equal(resumed.v, sim.v)
    with pytest.raises(nc.NetworkError, match="the folder .*missing does not exist"):
        sim.save(tmp_path / "missing" / "sim.npz")
    with pytest.raises(nc.NetworkError, match="is a folder"):
        sim.save(tmp_path)
