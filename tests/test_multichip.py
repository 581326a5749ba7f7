"""Boards of several chips: the [board] table, routes over the board's global mesh (hops and
chip links, against a step-by-step walk), counters in both kernels, results that do not depend
on the board, and placement across chips."""
import math
import tempfile
import warnings
from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neurochip as nc
from neurochip.chip.spec import MAX_CHIPS, ChipSpec
from neurochip.mapping.placement import place as place_mod
from neurochip.mapping.placement.place import place
from neurochip.mapping.placement.report import mapping_report, plot_tile_grid
from neurochip.mapping.placement.traffic import link_weight, placement_cost
from neurochip.model.events import ALL_EVENTS, EVENTS
from tests.strategies import networks
from tests.test_plastic import assert_weights, on_chip, problems
from tests.test_throughput import RECORD, assert_same_run

LINK_KINDS = [EVENTS.index(k) for k in ("hops_ew", "hops_ns", "chip_hops")]


def board(chips_x, chips_y, tiles_x=1, tiles_y=1, cores_per_tile=1):
    """A small board of loihi1 chips (cores, profile and its link costs), 3 us barrier on 2+ chips."""
    return replace(nc.loihi1(), name="test board", chips_x=chips_x, chips_y=chips_y, tiles_x=tiles_x,
                   tiles_y=tiles_y, cores_per_tile=cores_per_tile, board_barrier_chips=(2,),
                   board_barrier_seconds=(3e-6,))


def quiet(fn, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nc.WeightClipWarning)
        return fn(*a, **k)


# --- the [board] table -------------------------------------------------------------------------

BOARD = """name = "b"
base = "loihi1"

[board]
chips_x = 2
chips_y = 1
barrier_chips = [2]
barrier_seconds = [2e-6]
barrier_source = "test"
"""


@pytest.mark.parametrize("old, new, message", [
    ("chips_x = 2", "chips_x = 0", r"\[board\] chips_x must be a positive integer, got 0"),
    ("chips_x = 2", 'chips_x = "2"', r"\[board\] chips_x must be a positive integer, got '2'"),
    ("chips_y = 1", f"chips_y = {MAX_CHIPS}", rf"chips_x x chips_y = {2 * MAX_CHIPS} is out of range; allowed: 1 to "
                                              rf"{MAX_CHIPS}"),
    ("chips_y = 1", "chips_y = 1\nchips_z = 2", r"unknown table\(s\) or key\(s\) \['chips_z'\] in \[board\]"),
    ("chips_y = 1\n", "", r"missing key\(s\) \['chips_y'\] in \[board\]"),
    ("barrier_seconds = [2e-6]", "barrier_seconds = [-2e-6]", r"\[board\] barrier_seconds\[0\] = -2e-06 is out of range"),
    ("barrier_seconds = [2e-6]", "barrier_seconds = [2e-6, 3e-6]", r"barrier_chips must be increasing and as many as "
                                                                   r"barrier_seconds, got barrier_chips \[2\]"),
    ("barrier_chips = [2]", "barrier_chips = [0]", r"\[board\] barrier_chips\[0\] must be a positive integer, got 0"),
    ('barrier_source = "test"\n', "", r"barrier_chips, barrier_seconds and barrier_source go together"),
    ('base = "loihi1"', 'base = "loihi3"', r"base: no chip preset named 'loihi3'"),
    ('base = "loihi1"', 'base = "loihi1"\n[mesh]\ntiles_x = 1', r"\['mesh'\] given with base = 'loihi1'"),
    ("[board]\n", "[board.extra]\n", r"unknown table\(s\) or key\(s\) \['extra'\] in \[board\]"),
])
def test_board_table_errors_name_file_table_key_and_value(tmp_path, old, new, message):
    assert old in BOARD
    f = tmp_path / "board.toml"
    f.write_text(BOARD.replace(old, new))
    with pytest.raises(nc.SpecError, match="board.toml: .*" + message):
        ChipSpec.from_toml(f)


def test_board_file_and_presets():
    f_chip = ChipSpec.from_toml(_write(BOARD))
    assert (f_chip.n_chips, f_chip.n_cores, f_chip.cores_per_chip) == (2, 256, 128)
    assert f_chip.barrier(4, 1) == 1.4e-6 and f_chip.barrier(4, 2) == 2e-6
    for name, chips in (("nahuku8", (4, 2)), ("nahuku32", (8, 4))):
        b = ChipSpec.preset(name)
        assert (b.chips_x, b.chips_y, b.n_cores) == (*chips, 128 * chips[0] * chips[1])
        assert b.core == nc.loihi1().core and b.profile.cost("syn_ops") == nc.loihi1().profile.cost("syn_ops")
        assert "DERIVED" in b.board_barrier_source
    link = nc.loihi1().profile.events["chip_hops"]   # no measured link cost: marked as derived
    assert (link.energy_pj, link.latency_ns, link.basis) == (44.8, 13.2, "derived") and "DERIVED" in link.source
    assert math.isnan(nc.ChipSpec.preset("loihi2").profile.cost("chip_hops"))

def _write(text):
    path = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
    path.write(text)
    path.close()
    return path.name


def test_derived_board_barrier_follows_its_stated_formula():
    """nahuku32.toml: 1.8 us + 2 (extra hops x mean hop latency + links x link latency) over
    the diameter of k chips as a compact rectangle."""
    b = ChipSpec.preset("nahuku32")
    hop = (b.profile.cost("hops_ew", "latency_ns") + b.profile.cost("hops_ns", "latency_ns")) / 2
    link = b.profile.cost("chip_hops", "latency_ns")
    one = (b.tiles_x - 1) + (b.tiles_y - 1)
    for k, (a, c) in zip(b.board_barrier_chips, [(2, 1), (2, 2), (4, 2), (4, 4), (8, 4)]):
        links = (a - 1) + (c - 1)
        hops = (a * b.tiles_x - 1) + (c * b.tiles_y - 1) - links
        want = b.barrier(32, 1) + 2e-9 * ((hops - one) * hop + links * link)
        assert math.isclose(b.barrier(32 * k, k), want, rel_tol=1e-4), k


# --- routes ------------------------------------------------------------------------------------

def walk(chip, src, dst):
    """A packet walked step by step, x first then y, over the global mesh: a step between two
    tiles of one chip is a hop, between two chips a link."""
    xy, chip_xy = chip.coordinates()
    (x, y), (x1, y1) = ((0, 0) if src < 0 else tuple(xy[src])), tuple(xy[dst])
    ew = ns = links = 0
    while (x, y) != (x1, y1):
        nx, ny = (x + np.sign(x1 - x), y) if x != x1 else (x, y + np.sign(y1 - y))
        same_chip = (nx // chip.tiles_x, ny // chip.tiles_y) == (x // chip.tiles_x, y // chip.tiles_y)
        if not same_chip:
            links += 1
        elif nx != x:
            ew += 1
        else:
            ns += 1
        x, y = nx, ny
    return ew, ns, links


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 2), st.data())
def test_routes_equal_a_step_by_step_walk(cx, cy, tx, ty, cpt, data):
    chip = board(cx, cy, tx, ty, cpt)
    src = data.draw(st.lists(st.integers(-1, chip.n_cores - 1), min_size=1, max_size=20))
    dst = data.draw(st.lists(st.integers(0, chip.n_cores - 1), min_size=len(src), max_size=len(src)))
    ew, ns, links = chip.routes(src, dst)
    assert [walk(chip, s, d) for s, d in zip(src, dst)] == list(zip(ew.tolist(), ns.tolist(), links.tolist()))
    for c in dst:
        assert chip.core_xy(c) == tuple(chip.coordinates()[0][c]) and chip.chip_xy(c) == tuple(chip.coordinates()[1][c])


def test_a_single_chip_is_a_one_by_one_board():
    chip = nc.loihi1()
    ew, ns, links = chip.routes(np.arange(-1, 127), np.arange(128)[::-1])
    assert not links.any()
    xy = np.array([chip.core_xy(c) for c in range(128)])
    assert np.array_equal(ew + ns, np.abs(xy[::-1] - np.vstack([[0, 0], xy[:-1]])).sum(1))


# --- counters ----------------------------------------------------------------------------------

def chain():
    """Host channel -> neuron a -> neuron b; a spikes at each input spike, b never."""
    net = nc.Network()
    net.add(nc.SpikeSource(1, name="in"))
    net.add(nc.LoihiLIF(1, du=4095, dv=4095, vth=10, name="a"))
    net.add(nc.LoihiLIF(1, du=4095, dv=4095, vth=10**5, name="b"))
    net.connect("in", "a", np.array([[100]]))
    net.connect("a", "b", np.array([[1]]))
    return net


@pytest.mark.parametrize("generic", [False, True])
def test_chip_links_counted_in_closed_form(generic):
    """3 x 1 chips of 2 x 1 tiles, a core a tile: core c at global x = c, chip c // 2. The host
    (x 0) sends to a on core 5 (chip 2): 5 mesh steps, 2 of them links; a sends to b on core 0
    likewise."""
    chip = board(3, 1, tiles_x=2)
    sim = quiet(nc.Simulator, chain(), chip, nc.Placement({"a": np.array([5]), "b": np.array([0])}))
    if generic:
        sim._fixed32 = lambda *a: False
    else:
        assert sim._fixed32()
    spikes_in = np.array([[1], [0], [1], [1], [0], [1]], bool)
    r = sim.run(len(spikes_in), {"in": spikes_in}, record=["spikes"])
    n_in, n_a = int(spikes_in.sum()), int(r.spikes["a"].sum())
    assert n_a == n_in - (spikes_in[-1, 0])   # a spikes the step after each input
    row_a, row_b, host = (int(np.flatnonzero(sim.program.core_ids == c)[0]) if c >= 0 else -1 for c in (5, 0, -1))
    c = r.counters
    for row, n in ((host, n_in), (row_a, n_a)):
        assert c[row, EVENTS.index("packets")] == n
        assert c[row, EVENTS.index("hops_ew")] == 3 * n
        assert c[row, EVENTS.index("hops_ns")] == 0
        assert c[row, EVENTS.index("chip_hops")] == 2 * n
    assert c[row_b, LINK_KINDS].sum() == 0
    assert sim.program.barrier_ns == 3e-6 * 1e9   # two chips in use: the board's barrier
    lat = sim.program.latency_ns
    assert np.all(r.step_latency_ns >= 3000.0) and lat[EVENTS.index("chip_hops")] == 13.2


# --- results do not depend on the board --------------------------------------------------------

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                           HealthCheck.data_too_large])


@SETTINGS
@given(networks(fixed=True, max_n=24, steps=(10, 25)), st.data())
def test_a_board_gives_what_one_big_chip_gives(case, data):
    """The same network on a 3 x 2 board of 2 x 2-tile chips and on one 6 x 4-tile chip, each
    neuron on the core at the same global position: identical spikes, states and counters, but
    a board's link is a hop of the big chip; generic and int32 kernels agree on the board."""
    net, inputs, T = case
    small = board(3, 2, tiles_x=2, tiles_y=2, cores_per_tile=2)
    big = replace(small, name="big", chips_x=1, chips_y=1, tiles_x=6, tiles_y=4)
    xy = small.coordinates()[0]
    big_core = {tuple(p): i for i, p in enumerate(big.coordinates()[0][::2])}   # first core of each tile
    to_big = np.array([2 * big_core[tuple(xy[c])] + c % 2 for c in range(small.n_cores)])
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    cores = {k: rng.integers(0, small.n_cores, net.populations[k].n) for k in net.neurons()}
    on_board = quiet(nc.Simulator, net, small, nc.Placement(cores))
    on_big = quiet(nc.Simulator, net, big, nc.Placement({k: to_big[v] for k, v in cores.items()}))
    generic = quiet(nc.Simulator, net, small, nc.Placement(cores))
    generic._fixed32 = lambda *a: False
    a, b, g = (s.run(T, inputs, record=RECORD) for s in (on_board, on_big, generic))
    assert_same_run(a, g)
    for name in a.spikes:
        assert np.array_equal(a.spikes[name], b.spikes[name]) and np.array_equal(a.v[name], b.v[name])
    rows = np.append(np.searchsorted(on_big.program.core_ids, to_big[on_board.program.core_ids]), -1)
    others = [k for k in range(len(EVENTS)) if k not in LINK_KINDS]
    assert np.array_equal(a.counters[:, others], b.counters[rows][:, others])
    assert np.array_equal(a.counters[:, LINK_KINDS].sum(1), b.counters[rows][:, LINK_KINDS[:2]].sum(1))
    assert b.counters[:, EVENTS.index("chip_hops")].sum() == 0


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(), st.integers(0, 2**31))
def test_learning_on_a_board_is_learning_on_one_big_chip(p, seed):
    """OTTT on a 3 x 2 board and on one 6 x 4-tile chip, neurons at the same global positions:
    identical weights and losses; a feedback packet's chip links are the big chip's hops."""
    small = board(3, 2, tiles_x=2, tiles_y=2, cores_per_tile=2)
    big = replace(small, name="big", chips_x=1, chips_y=1, tiles_x=6, tiles_y=4)
    xy = small.coordinates()[0]
    big_core = {tuple(q): i for i, q in enumerate(big.coordinates()[0][::2])}
    to_big = np.array([2 * big_core[tuple(xy[c])] + c % 2 for c in range(small.n_cores)])
    scatter = np.random.default_rng(seed).permutation(small.n_cores)
    W1, R1, a = quiet(on_chip, p, per_core=1, cores=scatter, chip=small)
    W2, R2, b = quiet(on_chip, p, per_core=1, cores=to_big[scatter], chip=big)
    assert_weights(W1 + list(R1.values()), W2 + list(R2.values()), True)
    np.testing.assert_array_equal(a.losses, b.losses)
    hops, links = [ALL_EVENTS.index(k) for k in ("hops_ew", "hops_ns")], ALL_EVENTS.index("chip_hops")
    assert a.learn_counters[:, hops].sum() + a.learn_counters[:, links].sum() == b.learn_counters[:, hops].sum()
    assert b.learn_counters[:, links].sum() == 0


# --- placement ---------------------------------------------------------------------------------

@settings(max_examples=30, deadline=None)
@given(st.integers(2, 40), st.integers(0, 2**31), st.floats(1.0, 20.0))
def test_move_delta_equals_the_change_of_the_full_cost(n, seed, weight):
    """The incremental cost change of a move (`_move_delta`) against the cost recomputed."""
    chip = board(2, 2, tiles_x=2, tiles_y=2, cores_per_tile=2)
    rng = np.random.default_rng(seed)
    n = min(n, chip.n_cores)
    traffic = sp.csr_matrix(rng.random((n, n)) * (rng.random((n, n)) < 0.3))
    host = rng.random(n) * (rng.random(n) < 0.3)
    sym = sp.csr_matrix(traffic + traffic.T)
    sym.setdiag(0)
    sym.eliminate_zeros()
    slots = rng.permutation(chip.n_cores)[:n].astype(np.int64)
    occupant = np.full(chip.n_cores, -1, np.int64)
    occupant[slots] = np.arange(n)
    coords = place_mod._coords(chip)
    a, q = int(rng.integers(n)), int(rng.integers(chip.n_cores))
    if q == slots[a]:
        return
    args = (sym.indptr.astype(np.int64), sym.indices.astype(np.int64), sym.data, host, coords, weight)
    ca_p = place_mod._core_cost(a, slots[a], slots, *args)
    delta = place_mod._move_delta(a, q, slots, occupant, *args, ca_p)
    after = slots.copy()
    b = occupant[q]
    after[a] = q
    if b >= 0:
        after[b] = slots[a]
    want = placement_cost(traffic, host, after, chip, weight) - placement_cost(traffic, host, slots, chip, weight)
    assert math.isclose(delta, want, rel_tol=1e-9, abs_tol=1e-9)


def ring(n_cores, per_core=64, reach=8, seed=0):
    """A ring of populations, each talking to its neighbours within `reach` cores."""
    rng = np.random.default_rng(seed)
    net = nc.Network()
    n = n_cores * per_core
    net.add(nc.LoihiLIF(n, du=100, dv=100, vth=1000, name="pop"))
    rows = np.repeat(np.arange(n), 4)
    cols = (rows + rng.integers(-reach * per_core, reach * per_core + 1, len(rows))) % n
    net.connect("pop", "pop", sp.csr_matrix((np.full(len(rows), 10), (rows, cols)), shape=(n, n)))
    return net


def test_chip_aware_placement_keeps_traffic_on_chip_and_fits():
    chip = board(4, 2, tiles_x=2, tiles_y=2, cores_per_tile=2)    # 8 chips of 8 cores
    net = ring(48)
    logical = nc.Placement.sequential(net, chip, per_core=64)   # 48 logical cores in ring order
    reports = {}
    for label, kw in (("aware", {}), ("oblivious", dict(weight=1.0)), ("random", dict(method="random"))):
        placed = quiet(place, logical, net, chip, **kw)
        cores = np.concatenate(list(placed.cores.values()))
        assert cores.min() >= 0 and cores.max() < chip.n_cores
        assert len(np.unique(cores)) == len(np.unique(np.concatenate(list(logical.cores.values()))))
        reports[label] = quiet(mapping_report, net, chip, placed)
    assert link_weight(chip) > 10
    assert reports["aware"]["link_traffic"] < reports["oblivious"]["link_traffic"] < reports["random"]["link_traffic"]
    assert reports["aware"]["inter_chip_packets"] == pytest.approx(sum(
        v for i, row in enumerate(reports["aware"]["chip_traffic"]) for j, v in enumerate(row) if i != j))
    with pytest.raises(nc.FitError, match="do not fit"):
        quiet(place, logical, net, board(1, 1, cores_per_tile=8))


def test_board_figure(tmp_path):
    chip = board(2, 2, tiles_x=2, tiles_y=1)
    path = plot_tile_grid(chip, np.arange(chip.n_cores), np.ones(chip.n_cores), tmp_path / "b.png", "x", "t")
    assert path.stat().st_size > 0


@pytest.mark.parametrize("by_chip", [True, False])
def test_serpentine_orders_every_core_once_and_steps_to_neighbours(by_chip):
    chip = board(3, 2, tiles_x=2, tiles_y=3, cores_per_tile=2)
    order = place_mod.serpentine(chip, by_chip)
    assert sorted(order.tolist()) == list(range(chip.n_cores))
    xy, chip_xy = chip.coordinates()
    step = np.abs(np.diff(xy[order], axis=0)).sum(1)
    chip_step = np.abs(np.diff(chip_xy[order], axis=0)).sum(1)
    if by_chip:   # inside a chip one tile at a time; chip to chip, to a neighbouring chip
        inside = chip_step == 0
        assert np.all(step[inside] <= 1) and np.all(chip_step <= 1) and len(np.unique(chip_xy[order][::12], axis=0)) == 6
    else:
        assert np.all(step <= 1)
