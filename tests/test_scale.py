"""The lean data path (issue 16, memory): the compiled layout against a naive twin, the
program's bytes per synapse, the sparse network builder, partition's output-axon count."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neurochip as nc
from neurochip.chip.synapses import synapse_table
from neurochip.mapping.placement.partition import _check_metis_size, _fan_in, _output_axons, partition
from neurochip.model.network import fan_in_weights
from tests.strategies import networks

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def naive_layout(table, nrn_core):
    """The program's synapse layout, by the definition in neurochip/chip/program.py: one
    input axon per (sender, destination core), axons sorted by (sender, core); an axon's
    direct and scratch synapses each in (target, table index) order."""
    row = table.row
    axons = {}
    for i in range(len(table.tgt)):
        key = (int(table.sender[i]), int(nrn_core[table.tgt[i]]))
        axons.setdefault(key, ([], []))[int(row[i] >= 0)].append(i)
    out = {k: [] for k in ("ax_sender", "ax_core", "syn_ptr", "sc_ptr", "syn_tgt", "syn_w", "syn_dly", "sc_row",
                           "sc_w", "sc_dly", "ax_dly", "ax_t0")}
    n_direct = n_scratch = 0
    for (s, c) in sorted(axons):
        direct, scratch = (sorted(ids, key=lambda i: (int(table.tgt[i]), i)) for ids in axons[(s, c)])
        out["ax_sender"].append(s)
        out["ax_core"].append(c)
        out["syn_ptr"].append(n_direct)
        out["sc_ptr"].append(n_scratch)
        n_direct += len(direct)
        n_scratch += len(scratch)
        tgts = [int(table.tgt[i]) for i in direct]
        delays = {int(table.dly[i]) for i in direct}
        out["ax_dly"].append(delays.pop() if len(delays) == 1 else -1)
        out["ax_t0"].append(tgts[0] if tgts and tgts[-1] - tgts[0] == len(tgts) - 1 else -1)
        out["syn_tgt"] += tgts
        out["syn_w"] += [table.w[i] for i in direct]
        out["syn_dly"] += [int(table.dly[i]) for i in direct]
        out["sc_row"] += [int(row[i]) for i in scratch]
        out["sc_w"] += [int(table.w[i]) for i in scratch]
        out["sc_dly"] += [int(table.dly[i]) for i in scratch]
    out["syn_ptr"].append(n_direct)
    out["sc_ptr"].append(n_scratch)
    return out


def as_sparse(net, formats):
    """The same network with each projection's weights in the format formats[k]."""
    twin = nc.Network()
    for pop in net.populations.values():
        twin.add(pop)
    for proj, fmt in zip(net.projections, formats):
        w = proj.weights
        if fmt == "csr_unsorted" and np.count_nonzero(w):
            m = sp.csr_matrix(w)
            for r in range(m.shape[0]):   # reverse each row's entries: unsorted indices
                lo, hi = m.indptr[r], m.indptr[r + 1]
                m.indices[lo:hi], m.data[lo:hi] = m.indices[lo:hi][::-1].copy(), m.data[lo:hi][::-1].copy()
            m.has_sorted_indices = False
            w = m
        elif fmt != "dense":
            w = {"csr": sp.csr_matrix, "coo": sp.coo_matrix, "csr_unsorted": sp.csr_matrix}[fmt](w)
        twin.connect(proj.pre, proj.post, w, weight_exp=proj.weight_exp, num_weight_bits=proj.num_weight_bits,
                     delay=proj.delay)
    return twin


@SETTINGS
@given(case=networks(fixed=True, max_n=24, steps=(10, 20)), fixed=st.booleans(), data=st.data())
def test_lean_layout_equals_its_naive_twin_and_sparse_formats_run_identically(case, fixed, data):
    net, inputs, steps = case
    if not fixed:
        net, inputs, steps = data.draw(networks(fixed=False, max_n=24, steps=(10, 20)))
    chip = nc.loihi1()
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    placement = nc.Placement({k: rng.integers(0, 12, net.populations[k].n) for k in net.neurons()})
    formats = data.draw(st.lists(st.sampled_from(["dense", "csr", "coo", "csr_unsorted"]),
                                 min_size=len(net.projections), max_size=len(net.projections)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.WeightClipWarning)
        table = synapse_table(net, chip)
        sim = nc.Simulator(net, chip, placement, table=table)
        twin = nc.Simulator(as_sparse(net, formats), chip, placement)
    p = sim.program
    nrn_core = np.concatenate([placement.cores[k] for k in net.neurons()])
    want = naive_layout(table, nrn_core)
    ax_sender = np.repeat(np.arange(len(p.out_ptr) - 1), np.diff(p.out_ptr))
    assert ax_sender.tolist() == want["ax_sender"]
    assert p.core_ids[p.axon_row].tolist() == want["ax_core"]
    for k in ("syn_ptr", "sc_ptr", "syn_tgt", "syn_w", "syn_dly", "sc_row", "sc_w", "sc_dly", "ax_dly", "ax_t0"):
        assert getattr(p, k).tolist() == want[k], k
    assert p.syn_tgt.dtype == np.int32 and p.syn_dly.dtype == np.int8 and p.sc_w.dtype == np.int16
    assert p.syn_w.dtype == (np.int16 if fixed else np.float64)
    for k in ("syn_tgt", "syn_w", "syn_dly", "syn_ptr", "sc_row", "sc_w", "ax_t0"):   # the formats give one program
        assert np.array_equal(getattr(twin.program, k), getattr(p, k)), k
    a = sim.run(steps, inputs=inputs, record=["spikes", "v"])
    b = twin.run(steps, inputs=inputs, record=["spikes", "v"])
    assert np.array_equal(a.counters, b.counters)
    for name in net.neurons():
        assert np.array_equal(a.spikes[name], b.spikes[name]) and np.array_equal(a.v[name], b.v[name])


def ring(n, fan_in=50, reach=200, seed=0):
    rng = np.random.default_rng(seed)
    width = 2 * reach // fan_in
    pre = (np.arange(n)[:, None] - reach + width * np.arange(fan_in) + rng.integers(0, width, (n, fan_in))) % n
    net = nc.Network()
    net.add(nc.LoihiLIF(n, du=4095, dv=410, vth=1000, bias_mant=rng.integers(2500, 4000, n), bias_exp=1, name="pop"))
    net.connect("pop", "pop", fan_in_weights(pre.astype(np.int32), 2, n))
    return net


def test_program_and_its_run_tables_take_at_most_16_bytes_a_synapse():
    net = ring(4000)
    chip = nc.loihi1()
    table = synapse_table(net, chip)
    S = len(table.tgt)
    assert S == 4000 * 50
    table_bytes = sum(getattr(table, k).nbytes for k in ("sender", "tgt", "w", "dly"))
    assert table_bytes / S == 11   # int32 sender and target, int16 weight, int8 delay
    sim = nc.Simulator(net, chip, partition(net, chip, table=table), table=table)
    res = sim.run(20, record=())
    assert res.total("syn_ops") > 0 and sim._fixed32()   # spikes flowed, on the int32 path
    arrays = [v for v in vars(sim.program).values() if isinstance(v, np.ndarray)]
    arrays += list(sim.program.usage.values()) + list(sim._routes)
    per_synapse = sum(a.nbytes for a in arrays) / S
    assert per_synapse <= 16, per_synapse


def test_plastic_programs_keep_wide_weights_for_learning():
    net = ring(300, fan_in=10, reach=20)
    table = synapse_table(net, nc.loihi1(), plastic=True)
    assert table.w.dtype == np.int16 and table.plastic
    from neurochip.chip.program import compile_network
    p = compile_network(net, nc.loihi1(), table=table)
    assert p.syn_w.dtype == np.int64 and np.array_equal(np.sort(p.syn_w), np.sort(table.w))


def test_fan_in_weights_builds_the_csr_without_copying_its_indices():
    pre = np.array([[3, 1, 2], [0, 4, 2]], np.int32)
    m = fan_in_weights(pre, 7, 5)
    assert np.shares_memory(m.indices, pre) and m.indices.dtype == np.int32 and m.data.dtype == np.int8
    assert np.array_equal(m.toarray(), [[0, 7, 7, 7, 0], [7, 0, 7, 0, 7]])
    w = fan_in_weights(np.array([[0, 2]]), np.array([[5, -3]]), 3, dtype=np.int16)
    assert np.array_equal(w.toarray(), [[5, 0, -3]])
    with pytest.raises(nc.NetworkError, match="row 1 of pre repeats a pre neuron"):
        fan_in_weights(np.array([[0, 1], [2, 2]]), 1, 3)
    with pytest.raises(nc.NetworkError, match=r"pre ids must lie in \[0, 3\), got range \[0, 3\]"):
        fan_in_weights(np.array([[0, 3]]), 1, 3)
    with pytest.raises(nc.NetworkError, match="row 0 of pre is not increasing"):
        fan_in_weights(np.array([[2, 0]]), np.array([[1, 2]]), 3)


@SETTINGS
@given(case=networks(fixed=True, max_n=30, steps=(1, 2)), data=st.data())
def test_output_axons_count_distinct_neuron_core_pairs(case, data):
    net, _, _ = case
    N = sum(net.populations[k].n for k in net.neurons())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.WeightClipWarning)
        table = synapse_table(net, nc.loihi1())
    fanin_ptr, fanin_src, _ = _fan_in(table, N)
    n_cores = data.draw(st.integers(1, 6))
    core_of = np.sort(np.random.default_rng(data.draw(st.integers(0, 2**31))).integers(0, n_cores, N))
    pairs = {(int(s), int(core_of[t])) for s, t in zip(table.sender, table.tgt) if s < N}
    want = np.bincount(np.array([core_of[s] for s, _ in pairs], np.int64), minlength=core_of.max() + 1 if N else 0)
    got = _output_axons(np.arange(N), core_of, fanin_ptr, fanin_src)
    assert got.tolist() == want.tolist()


def test_sender_core_pairs_hold_int32_ids_times_many_cores():
    """The table keeps int32 ids up to 2**31 senders; sender * n_cores must not wrap."""
    from types import SimpleNamespace

    from neurochip.mapping.placement.traffic import sender_core_pairs

    table = SimpleNamespace(sender=np.array([2**30, 2**30 + 1], np.int32), tgt=np.array([0, 1], np.int32))
    src, dst = sender_core_pairs(table, np.array([3, 1]), 2048)
    assert src.tolist() == [2**30, 2**30 + 1] and dst.tolist() == [3, 1]


def test_metis_refuses_graphs_it_cannot_index_or_hold(monkeypatch):
    from neurochip.model import files

    with pytest.raises(ValueError, match="partition method 'metis': 1500000000 synapses .* int32 limit"):
        _check_metis_size(1_500_000_000)
    monkeypatch.setattr(files, "available_memory", lambda: 2**30)
    _check_metis_size(10_000_000 // 96)
    with pytest.raises(nc.FitError, match="partition method 'metis' on 100000000 synapses needs about 8.94 GiB of "
                                          "memory, more than the 1 GiB available; use method='greedy'"):
        _check_metis_size(100_000_000)
