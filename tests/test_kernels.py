"""Every Numba kernel against its naive twin in tests/reference/."""
import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import neurochip as nc
from neurochip.chip import kernels
from neurochip.model.events import EVENTS, N_EVENTS
from tests.reference import lava_like, naive_kernels
from tests.strategies import EDGE_DU, EDGE_DV, networks

INT24 = st.one_of(st.integers(-(2**23) + 1, 2**23 - 1), st.sampled_from([-(2**23) + 1, 2**23 - 1, 2**23, 0, -1, 1]))


@settings(max_examples=200, deadline=None)
@given(du=EDGE_DU, dv=EDGE_DV, vth=st.integers(0, 2**17 - 1), reset=st.sampled_from(["zero", "subtract"]),
       data=st.data())
def test_lif_fixed_update_matches_lava_transcription(du, dv, vth, reset, data):
    n = data.draw(st.integers(1, 40))
    ints = lambda s: np.array(data.draw(st.lists(s, min_size=n, max_size=n)), dtype=np.int64)  # noqa: E731
    pop = nc.LoihiLIF(n, du=du, dv=dv, vth=vth, bias_mant=ints(st.integers(-4096, 4095)),
                      bias_exp=ints(st.integers(-7, 7)), u0=ints(INT24).clip(-(2**23) + 1, 2**23),
                      v0=ints(INT24).clip(-(2**23) + 1, 2**23 - 1), reset=reset,
                      v_sub=data.draw(st.integers(1, 2**17 - 1)))
    # synaptic input as Lava's int32 channel carries it, including values whose << 6 wraps
    a = ints(st.one_of(st.integers(-(2**15), 2**15), st.integers(-(2**31), 2**31 - 1)))
    u_ref, v_ref, s_ref = lava_like._lif_fixed(pop, pop.u0.astype(np.int32), pop.v0.astype(np.int32), a)
    u, v = pop.u0.copy(), pop.v0.copy()
    dend = a[None, :].copy()
    flags = np.zeros(n, np.uint8)
    kernels.lif_fixed_update(0, dend, u, v, np.full(n, 4096 - (du + 1)), np.full(n, 4096 - dv), pop.bias,
                             np.full(n, vth << 6), np.full(n, (pop.v_sub << 6) * (reset == "subtract")), flags)
    assert np.array_equal(u, u_ref) and np.array_equal(v, v_ref)
    assert np.array_equal((flags & kernels.SPIKED) > 0, s_ref)
    assert not dend.any(), "the accumulator slot is cleared once read"


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_lif_float_update_matches_lava_transcription(data):
    n = data.draw(st.integers(1, 40))
    fl = lambda: np.array(data.draw(st.lists(st.floats(-100, 100), min_size=n, max_size=n)))  # noqa: E731
    pop = nc.FloatLIF(n, du=data.draw(st.floats(0, 1)), dv=data.draw(st.floats(0, 1)),
                      vth=data.draw(st.floats(-10, 10)), bias=fl(), u0=fl(), v0=fl(),
                      reset=data.draw(st.sampled_from(["zero", "subtract"])), v_sub=data.draw(st.floats(0.1, 20)))
    a = fl()
    u_ref, v_ref, s_ref = lava_like._lif_float(pop, pop.u0.copy(), pop.v0.copy(), a)
    u, v, flags = pop.u0.copy(), pop.v0.copy(), np.zeros(n, np.uint8)
    kernels.lif_float_update(0, a[None, :].copy(), u, v, np.full(n, 1 - pop.du), np.full(n, 1 - pop.dv),
                             pop.bias, np.full(n, float(pop.vth)), np.full(n, pop.v_sub * (pop.reset == "subtract")), flags)
    assert np.array_equal(u, u_ref) and np.array_equal(v, v_ref)  # same operations, same order
    assert np.array_equal((flags & kernels.SPIKED) > 0, s_ref)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_b1_update_matches_naive(data):
    n = data.draw(st.integers(1, 30))
    lists = lambda s: data.draw(st.lists(s, min_size=n, max_size=n))  # noqa: E731
    small = st.one_of(st.just(0.0), st.floats(-4, 4))
    a, u = np.array(lists(small)), np.array(lists(small))
    v = np.array(lists(st.one_of(small, st.just(-np.inf))))   # -inf: fired already
    start, steps = np.array(lists(st.integers(0, 12))), np.array(lists(st.integers(1, 8)))
    slope, theta = np.array(lists(st.floats(0, 2))), np.array(lists(st.floats(-3, 6)))
    t = data.draw(st.integers(0, 24))
    lo = data.draw(st.integers(0, n))
    hi = data.draw(st.integers(lo, n))
    want_u, want_v, want_flags = naive_kernels.b1_update(t, a, u, v, start, steps, slope, theta)
    dend, flags = a[None, :].copy(), np.zeros(n, np.uint8)
    u0, v0 = u.copy(), v.copy()
    kernels.b1_update(t, 0, dend, u, v, start, steps, slope, theta, flags, lo, hi)
    inside = np.arange(n)[lo:hi]
    assert np.array_equal(u[inside], np.array(want_u)[inside]) and np.array_equal(v[inside], np.array(want_v)[inside])
    assert flags[inside].tolist() == np.array(want_flags)[inside].tolist()
    outside = np.setdiff1d(np.arange(n), inside)
    assert np.array_equal(u[outside], u0[outside]) and np.array_equal(v[outside], v0[outside])
    assert not dend[0, inside].any() and np.array_equal(dend[0, outside], a[outside])
    assert not np.any(flags[outside])


@settings(max_examples=100, deadline=None)
@given(flags=st.lists(st.integers(0, 7), min_size=1, max_size=60), data=st.data())
def test_collect_spikes_matches_naive(flags, data):
    n = len(flags)
    rows = np.array(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), dtype=np.int64)
    padded = np.zeros(8 * ((n + 7) // 8), np.uint8)
    padded[:n] = flags
    run_ptr = np.append(np.flatnonzero(np.diff(rows, prepend=-1)), n)
    spikes, cnt = np.zeros(n, np.int64), np.zeros((5, N_EVENTS), np.int64)
    k = kernels.collect_spikes(padded, padded.view(np.uint64), run_ptr, rows[run_ptr[:-1]], spikes, cnt)
    want_spikes, want = naive_kernels.collect_spikes(np.array(flags), rows, 5)
    assert spikes[:k].tolist() == want_spikes
    for r, kinds in want.items():
        for kind, value in kinds.items():
            assert cnt[r, EVENTS.index(kind)] == value


@settings(max_examples=40, deadline=None)
@given(case=networks(fixed=True, max_n=30), data=st.data())
def test_route_and_deliver_matches_naive(case, data):
    net, inputs, _ = case
    chip = nc.loihi1()
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    placement = nc.Placement({k: rng.integers(0, 12, net.populations[k].n) for k in net.neurons()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.WeightClipWarning)
        sim = nc.Simulator(net, chip, placement)
    p = sim.program
    n_senders = p.n_neurons + p.n_inputs
    senders = np.array(sorted(set(rng.integers(0, n_senders, rng.integers(1, n_senders + 1)).tolist())), np.int64)
    tnext = int(rng.integers(0, 100))
    dend, scratch = sim.dend.copy(), sim.scratch.copy()
    mark = np.zeros(scratch.shape, bool)
    dirty = np.zeros((max(1, scratch.size), 2), np.int64)
    cnt = np.zeros((p.n_rows, N_EVENTS), np.int64)
    nd = kernels.route_and_deliver(senders, len(senders), tnext, dend, scratch, mark, dirty, 0,
                                   p.out_ptr, p.out_axon, p.out_ew, p.out_ns, p.out_chip, p.sender_row, p.axon_row,
                                   p.syn_ptr, p.syn_tgt, p.syn_w, p.syn_dly, p.ax_dly, p.ax_t0, p.sc_ptr, p.sc_row, p.sc_w,
                                   p.sc_dly, cnt)
    kernels.flush_scratch(tnext, dend, scratch, mark, dirty, nd, p.sc_comp, p.sc_shift)
    want_dend, want_cnt = naive_kernels.deliver(p, senders, tnext, dend.shape[0])
    expect = np.zeros_like(dend)
    for (slot, i), x in want_dend.items():
        expect[slot, i] += x
    assert np.array_equal(dend, expect)
    assert not scratch.any() and not mark.any()
    for (row, kind), value in want_cnt.items():
        assert cnt[row, EVENTS.index(kind)] == value, (row, kind)
    assert cnt.sum() == sum(want_cnt.values())


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_step_latency_matches_naive(data):
    rows = data.draw(st.integers(2, 6))
    counts = np.array(data.draw(st.lists(st.lists(st.integers(0, 1000), min_size=N_EVENTS, max_size=N_EVENTS),
                                         min_size=rows, max_size=rows)), dtype=np.int64)
    lat = np.array(data.draw(st.lists(st.floats(0, 100), min_size=N_EVENTS, max_size=N_EVENTS)))
    barrier = data.draw(st.floats(0, 2000))
    total = np.zeros_like(counts)
    busy, core_time = np.zeros(rows - 1), np.zeros(rows - 1)
    step = kernels.step_latency(counts.copy(), total, lat, barrier, busy, core_time)
    want_step, want_times = naive_kernels.step_latency(counts.tolist(), lat.tolist(), barrier)
    np.testing.assert_allclose(step, want_step, rtol=1e-12)
    np.testing.assert_allclose(core_time, want_times, rtol=1e-12)
    assert np.array_equal(total, counts)


def test_unknown_latency_poisons_the_step():
    counts = np.ones((3, N_EVENTS), np.int64)
    lat = np.ones(N_EVENTS)
    lat[0] = np.nan
    step = kernels.step_latency(counts, np.zeros_like(counts), lat, 0.0, np.zeros(2), np.zeros(2))
    assert np.isnan(step)
