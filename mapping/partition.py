"""Assign neurons to cores within every per-core limit, then cores to places on the mesh.

Limits are counted as `neurochip.program` counts them when it compiles: compartments; one
input axon per (sender, core) pair with a synapse; one output axon per (neuron, core)
pair; synapse bits per synapse. The output-axon limit depends on where the targets land,
so it is checked on the finished assignment (`neurochip.Simulator` refuses a misfit).

- "greedy": cores filled in neuron order, a new core when the next neuron breaks a limit.
- "metis": pymetis cuts the neuron graph (edge weight: expected spikes per step through the
  synapses, from `rates` of a calibration run, or uniform) into as many parts as the greedy
  fill needs cores; each part is then filled greedily, so the result always fits. An edge
  cut is not a packet count (a spike costs one packet per destination core, however many
  synapses it has there): where the greedy fill sends fewer packets, as for dense
  layer-by-layer networks, it is returned instead.
- "random": neurons shuffled, then filled greedily (a baseline for tests and benchmarks).
`place` then permutes cores over the mesh to cut hop-weighted traffic (greedy + swaps).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from neurochip.model.errors import FitError
from neurochip.model.network import Network
from neurochip.model.numba_config import njit
from neurochip.chip.placement import Placement
from neurochip.chip.synapses import index, synapse_table
from neurochip.chip.spec import ChipSpec
from neurochip.chip.program import compile_network


@njit
def _greedy_fill(order, part, fanin_ptr, fanin_src, bits, comp_cap, ax_cap, bits_cap, n_senders):
    """Core of each neuron, visiting `order`; a new core when `part` changes or a limit
    would break. Returns (cores, -1) or (cores, the neuron that fits no core alone)."""
    core_of = np.full(order.shape[0], -1, dtype=np.int64)
    mark = np.full(n_senders, -1, dtype=np.int64)   # last core that counted this sender
    seen = np.full(n_senders, -1, dtype=np.int64)   # last neuron that counted it
    core, n_comp, n_ax, n_bits, last_part = 0, 0, 0, 0, -1
    for k in range(order.shape[0]):
        i = order[k]
        new = 0
        for j in range(fanin_ptr[i], fanin_ptr[i + 1]):
            s = fanin_src[j]
            if mark[s] != core and seen[s] != i:
                new += 1
            seen[s] = i
        if n_comp > 0 and (part[i] != last_part or n_comp + 1 > comp_cap or n_ax + new > ax_cap
                           or n_bits + bits[i] > bits_cap):
            core += 1
            n_comp, n_ax, n_bits = 0, 0, 0
            new = 0
            for j in range(fanin_ptr[i], fanin_ptr[i + 1]):
                s = fanin_src[j]
                if seen[s] != -2 - i:
                    new += 1
                seen[s] = -2 - i
        if new > ax_cap or bits[i] > bits_cap:
            return core_of, i
        for j in range(fanin_ptr[i], fanin_ptr[i + 1]):
            mark[fanin_src[j]] = core
        n_comp += 1
        n_ax += new
        n_bits += bits[i]
        last_part = part[i]
        core_of[i] = core
    return core_of, -1


def _graph(net: Network, chip: ChipSpec, rates):
    """(fan-in CSR over neurons, synapse bits per neuron, N, M, neuron-neuron traffic matrix)."""
    pop_slices, src_slices, N, M = index(net)
    syn = synapse_table(net, chip)
    order = np.argsort(syn.tgt, kind="stable")
    fanin_ptr = np.zeros(N + 1, dtype=np.int64)
    np.add.at(fanin_ptr, syn.tgt + 1, 1)
    fanin_ptr = np.cumsum(fanin_ptr)
    bits = np.bincount(syn.tgt, weights=syn.bits, minlength=N).astype(np.int64)
    rate = np.ones(N + M)
    for name, r in (rates or {}).items():
        sl = pop_slices.get(name) or src_slices.get(name)
        rate[sl if name in pop_slices else slice(N + sl.start, N + sl.stop)] = r
    return fanin_ptr, syn.sender[order], bits, N, M, syn, rate, pop_slices


def _cores(net, pop_slices, core_of) -> Placement:
    return Placement({k: core_of[sl].copy() for k, sl in pop_slices.items()})


def partition(net: Network, chip: ChipSpec, method: str = "greedy", rates: dict | None = None,
              seed: int = 0) -> Placement:
    """A placement whose every core respects the chip's limits (see the module docstring).
    Core indices are logical (0, 1, ...); `place` puts them on the mesh."""
    if method not in ("greedy", "metis", "random"):
        raise ValueError(f"partition method must be 'greedy', 'metis' or 'random', got {method!r}")
    fanin_ptr, fanin_src, bits, N, M, syn, rate, pop_slices = _graph(net, chip, rates)
    c = chip.core
    part = np.zeros(N, dtype=np.int64)
    order = np.arange(N, dtype=np.int64)
    if method == "random":
        order = np.random.default_rng(seed).permutation(N).astype(np.int64)
    elif method == "metis" and N > 1:  # as many parts as the greedy fill needs cores
        greedy_cores = int(_greedy_fill(order, part, fanin_ptr, fanin_src, bits, c.compartments, c.input_axons,
                                        c.synapse_memory_bits, N + M)[0].max()) + 1
        part = _metis_parts(N, syn, rate, max(greedy_cores, 1), seed)
        order = np.argsort(part, kind="stable").astype(np.int64)
    comp_cap = c.compartments
    while True:  # the output-axon limit is known only once targets have cores: shrink and refill
        core_of, bad = _greedy_fill(order, part, fanin_ptr, fanin_src, bits, comp_cap, c.input_axons,
                                    c.synapse_memory_bits, N + M)
        if bad >= 0:
            break
        out_ax = _output_axons(syn, core_of, N)
        if out_ax.max(initial=0) <= c.output_axons or comp_cap == 1:
            break
        comp_cap = max(1, int(comp_cap * c.output_axons / out_ax.max() * 0.98))
    if bad >= 0:
        pop = next(k for k, sl in pop_slices.items() if sl.start <= bad < sl.stop)
        fan = len(set(fanin_src[fanin_ptr[bad]:fanin_ptr[bad + 1]].tolist()))
        limit, have, cap = (("input_axons", fan, c.input_axons) if fan > c.input_axons
                            else ("synapse_memory_bits", int(bits[bad]), c.synapse_memory_bits))
        raise FitError(f"neuron {bad - pop_slices[pop].start} of population {pop!r} alone breaks the {limit} "
                       f"limit of a {chip.name} core: {have} > {cap}. Reduce its fan-in (fewer or sparser "
                       f"incoming synapses, fewer weight bits) or use a chip with larger cores.")
    if method == "metis":  # the edge cut only approximates packets: keep the greedy fill if it sends fewer
        greedy = partition(net, chip, "greedy", rates, seed)
        if _packets(syn, core_of, rate, N) > _packets(syn, _flat(greedy, pop_slices), rate, N):
            return greedy
    n_used = int(core_of.max()) + 1 if N else 0
    if n_used > chip.n_cores:
        first = int(np.flatnonzero(core_of >= chip.n_cores)[0])
        pop = next(k for k, sl in pop_slices.items() if sl.start <= first < sl.stop)
        per_pop = ", ".join(f"{k!r} {len(np.unique(core_of[sl]))}" for k, sl in pop_slices.items())
        raise FitError(f"the network needs {n_used} cores under the compartments/input_axons/synapse_memory_bits "
                       f"limits; {chip.name} has {chip.n_cores}: population {pop!r} is the first past the last "
                       f"core (from its neuron {first - pop_slices[pop].start}); cores per population: {per_pop}. "
                       "Use a chip with more tiles or fewer/smaller layers.")
    return _cores(net, pop_slices, core_of)


def _flat(placement, pop_slices):
    return np.concatenate([np.asarray(placement.cores[k]) for k in pop_slices])


def _packets(syn, core_of, rate, N):
    """Expected inter-core packets per step: one per (neuron, other core it has synapses on)."""
    chip_syn = syn.sender < N
    n_cores = core_of.max() + 1
    pairs = np.unique(syn.sender[chip_syn] * n_cores + core_of[syn.tgt[chip_syn]])
    src, dst = pairs // n_cores, pairs % n_cores
    away = core_of[src] != dst
    return float(rate[src[away]].sum())


def _output_axons(syn, core_of, N):
    """Output axons per core: one per (neuron, destination core) pair."""
    chip_syn = syn.sender < N
    pairs = np.unique(syn.sender[chip_syn] * (core_of.max() + 1) + core_of[syn.tgt[chip_syn]])
    return np.bincount(core_of[pairs // (core_of.max() + 1)], minlength=core_of.max() + 1)


def _metis_parts(N, syn, rate, nparts, seed):
    """pymetis parts of the neuron graph, edges weighted by expected spikes per step."""
    import pymetis

    neuron = syn.sender < N
    a, b = syn.sender[neuron], syn.tgt[neuron]
    keep = a != b
    w = sp.coo_matrix((rate[a[keep]], (a[keep], b[keep])), shape=(N, N)).tocsr()
    g = (w + w.T).tocsr()
    g.sum_duplicates()
    if nparts == 1 or g.nnz == 0:  # nothing to cut: keep neuron order
        return np.zeros(N, dtype=np.int64)
    eweights = np.maximum(1, np.round(g.data * 100 / g.data.max())).astype(np.int64)
    _, parts = pymetis.part_graph(nparts, adjacency=pymetis.CSRAdjacency(g.indptr, g.indices), eweights=eweights,
                                  options=pymetis.Options(seed=seed))
    return np.asarray(parts, dtype=np.int64)


def core_traffic(net: Network, chip: ChipSpec, placement: Placement, rates: dict | None = None):
    """(traffic matrix between logical cores, host traffic into each core, core ids): expected
    packets per step, one packet per (sender, destination core) with synapses there."""
    _, _, _, N, M, syn, rate, pop_slices = _graph(net, chip, rates)
    core_of = np.concatenate([np.asarray(placement.cores[k]) for k in pop_slices]) if N else np.zeros(0, int)
    ids = np.unique(core_of)
    row = np.searchsorted(ids, core_of)
    dst = row[syn.tgt]
    pairs = np.unique(syn.sender * len(ids) + dst)
    snd, d = pairs // len(ids), pairs % len(ids)
    chip_snd = snd < N
    T = np.zeros((len(ids), len(ids)))
    np.add.at(T, (row[snd[chip_snd]], d[chip_snd]), rate[snd[chip_snd]])
    host = np.bincount(d[~chip_snd], weights=rate[snd[~chip_snd]], minlength=len(ids))
    return T, host, ids


def _hop_cost(T, host, slots, xy):
    pos = xy[slots]
    dist = np.abs(pos[:, None, :] - pos[None, :, :]).sum(-1)
    return float((T * dist).sum() + (host * np.abs(pos).sum(-1)).sum())


def place(placement: Placement, net: Network, chip: ChipSpec, method: str = "greedy+swap", rates=None,
          seed: int = 0, sweeps: int = 20) -> Placement:
    """Move logical cores onto mesh cores to cut hop-weighted traffic (see module doc)."""
    T, host, ids = core_traffic(net, chip, placement, rates)
    xy = np.array([chip.core_xy(c) for c in range(chip.n_cores)])
    n = len(ids)
    if n > chip.n_cores:
        raise FitError(f"{n} cores do not fit {chip.name}'s {chip.n_cores}")
    rng = np.random.default_rng(seed)
    if method == "random":
        slots = rng.permutation(chip.n_cores)[:n]
    elif method == "greedy+swap":
        slots = _greedy_slots(T + T.T, host, xy, n)
        slots = _swap(T, host, xy, slots, sweeps, rng)
    else:
        raise ValueError(f"place method must be 'greedy+swap' or 'random', got {method!r}")
    new_core = dict(zip(ids.tolist(), slots.tolist()))
    return Placement({k: np.array([new_core[c] for c in np.asarray(v)], dtype=np.int64)
                      for k, v in placement.cores.items()})


def _greedy_slots(S, host, xy, n):
    """Heaviest-talking core first onto the slot nearest the host, then each next core
    (most traffic with those placed) onto the free slot cheapest for it."""
    free = np.ones(len(xy), dtype=bool)
    slots = np.full(n, -1, dtype=np.int64)
    order = [int(np.argmax(S.sum(1) + host))]
    dist_host = np.abs(xy).sum(1)
    while order:
        c = order.pop()
        placed = slots >= 0
        cost = dist_host * host[c] + (S[c, placed][None, :] *
                                      np.abs(xy[:, None, :] - xy[slots[placed]][None, :, :]).sum(-1)).sum(1)
        cost[~free] = np.inf
        slots[c] = int(np.argmin(cost))
        free[slots[c]] = False
        rest = np.flatnonzero(slots < 0)
        if len(rest):
            order.append(int(rest[np.argmax(S[np.ix_(rest, np.flatnonzero(slots >= 0))].sum(1))]))
    return slots


def _swap(T, host, xy, slots, sweeps, rng, max_targets=32):
    """Pairwise swaps of cores (and moves into free slots) while they cut the hop cost;
    beyond 64 cores each core tries `max_targets` random slots a sweep."""
    all_slots = np.arange(len(xy))
    best = _hop_cost(T, host, slots, xy)
    for _ in range(sweeps):
        improved = False
        for a in range(len(slots)):
            others = np.setdiff1d(all_slots, [slots[a]])
            if len(slots) > 64:
                others = rng.choice(others, size=min(len(others), max_targets), replace=False)
            for target in others:
                trial = slots.copy()
                b = np.flatnonzero(slots == target)
                if len(b):
                    trial[a], trial[b[0]] = target, slots[a]
                else:
                    trial[a] = target
                cost = _hop_cost(T, host, trial, xy)
                if cost < best - 1e-9:
                    slots, best, improved = trial, cost, True
        if not improved:
            break
    return slots


def mapping_report(net: Network, chip: ChipSpec, placement: Placement, rates: dict | None = None) -> dict:
    """Cores used, each core's use of each limit (fraction), traffic and hop-weighted traffic."""

    prog = compile_network(net, chip, placement)
    T, host, ids = core_traffic(net, chip, placement, rates)
    xy = np.array([chip.core_xy(c) for c in range(chip.n_cores)])
    util = {k: (prog.usage[k] / getattr(chip.core, k)).tolist()
            for k in ("compartments", "input_axons", "output_axons", "synapse_memory_bits")}
    off_diag = T.sum() - np.trace(T)
    return dict(chip=chip.name, cores_used=len(ids), core_ids=ids.tolist(), utilization=util,
                inter_core_traffic=float(off_diag), host_traffic=float(host.sum()),
                hop_traffic=_hop_cost(T, host, ids, xy))


def plot_mesh_heatmap(report: dict, chip: ChipSpec, path, what: str = "compartments"):
    """PNG heat map of per-tile load (mean utilisation of `what` over the tile's cores)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = np.zeros((chip.tiles_y, chip.tiles_x))
    for core, u in zip(report["core_ids"], report["utilization"][what]):
        x, y = chip.core_xy(core)
        grid[y, x] += u / chip.cores_per_tile
    fig, ax = plt.subplots(figsize=(1 + chip.tiles_x, 1 + chip.tiles_y * 0.8))
    im = ax.imshow(grid, cmap="viridis", vmin=0, vmax=max(grid.max(), 1e-9), origin="lower")
    ax.set_xlabel("tile x (east-west)")
    ax.set_ylabel("tile y (north-south)")
    ax.set_title(f"{chip.name}: {what} use per tile ({report['cores_used']} cores)")
    fig.colorbar(im, ax=ax, label=f"mean {what} utilisation")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
