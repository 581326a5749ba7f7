"""Assign neurons to cores within every per-core limit (`place` then puts the cores on the mesh).

Limits are counted as `neurochip.chip.program` counts them when it compiles: compartments;
one input axon per (sender, core) pair with a synapse; one output axon per (neuron, core)
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
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from neurochip.chip.placement import Placement
from neurochip.chip.spec import ChipSpec
from neurochip.chip.synapses import SynapseTable, index, synapse_table
from neurochip.mapping.placement.traffic import neuron_cores, packets, sender_rates
from neurochip.model.errors import FitError
from neurochip.model.files import check_memory
from neurochip.model.network import Network
from neurochip.model.numba_config import njit

PARTITION_METHODS = ("greedy", "metis", "random")


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
        new, distinct = 0, 0  # senders new to this core; distinct senders (all new to a fresh core)
        for j in range(fanin_ptr[i], fanin_ptr[i + 1]):
            s = fanin_src[j]
            if seen[s] != i:
                distinct += 1
                if mark[s] != core:
                    new += 1
            seen[s] = i
        if n_comp > 0 and (part[i] != last_part or n_comp + 1 > comp_cap or n_ax + new > ax_cap
                           or n_bits + bits[i] > bits_cap):
            core += 1
            n_comp, n_ax, n_bits, new = 0, 0, 0, distinct
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


def _fan_in(table: SynapseTable, N: int):
    """(fan-in CSR pointers over neurons, senders in target order, synapse bits per neuron).
    The senders are the table's own array when it lists synapses by target already (one
    projection does), else one counting sort's copy."""
    count, bits = table.fan_in(N)
    fanin_ptr = np.concatenate([[0], np.cumsum(count)])
    if _ascending(table.tgt):
        return fanin_ptr, table.sender, bits
    return fanin_ptr, _senders_by_target(table.tgt, table.sender, fanin_ptr), bits


@njit
def _ascending(a):
    for i in range(1, a.shape[0]):
        if a[i] < a[i - 1]:
            return False
    return True


@njit
def _senders_by_target(tgt, sender, fanin_ptr):
    """The senders grouped by target, in table order within a target (a stable counting sort)."""
    out = np.empty_like(sender)
    nxt = fanin_ptr[:-1].copy()
    for i in range(tgt.shape[0]):
        out[nxt[tgt[i]]] = sender[i]
        nxt[tgt[i]] += 1
    return out


def partition(net: Network, chip: ChipSpec, method: str = "greedy", rates: dict | None = None,
              seed: int = 0, table: SynapseTable | None = None) -> Placement:
    """A placement whose every core respects the chip's limits (see the module docstring).
    Core indices are logical (0, 1, ...); `place` puts them on the mesh. `table`: the
    network's synapse table if the mapping built it already."""
    if method not in PARTITION_METHODS:
        *first, last = map(repr, PARTITION_METHODS)
        raise ValueError(f"partition method must be {', '.join(first)} or {last}, got {method!r}")
    syn = table or synapse_table(net, chip)
    pop_slices, _, N, M = index(net)
    fanin_ptr, fanin_src, bits = _fan_in(syn, N)
    rate = sender_rates(net, rates)
    c = chip.core
    part = np.zeros(N, dtype=np.int64)
    order = np.arange(N, dtype=np.int64)
    if method == "random":
        order = np.random.default_rng(seed).permutation(N).astype(np.int64)
    elif method == "metis" and N > 1:  # as many parts as the greedy fill needs cores
        _check_metis_size(len(syn.tgt))
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
        out_ax = _output_axons(order, core_of, fanin_ptr, fanin_src)
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
        greedy = partition(net, chip, "greedy", rates, seed, syn)
        if packets(syn, core_of, rate) > packets(syn, neuron_cores(net, greedy), rate):
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
    return Placement({k: core_of[sl].copy() for k, sl in pop_slices.items()})


@njit
def _output_axons(order, core_of, fanin_ptr, fanin_src):
    """Output axons per core: one per (neuron, destination core) pair. The neurons are
    visited in `order`, along which `_greedy_fill` numbered the cores upwards, so a core's
    neurons come together and one mark per sender finds its distinct pairs."""
    N = core_of.shape[0]
    out = np.zeros(core_of.max() + 1 if N else 0, np.int64)
    mark = np.full(N, -1, np.int64)
    for k in range(order.shape[0]):
        i = order[k]
        c = core_of[i]
        for j in range(fanin_ptr[i], fanin_ptr[i + 1]):
            s = fanin_src[j]
            if s < N and mark[s] != c:
                mark[s] = c
                out[core_of[s]] += 1
    return out


METIS_BYTES_PER_SYNAPSE = 96   # the symmetric weighted graph built for pymetis (COO, CSR, its transpose, sum)


def _check_metis_size(n_syn: int) -> None:
    """Refuse a graph pymetis cannot index (int32 adjacency) or that would not fit in memory."""
    if 2 * n_syn >= 2**31:
        raise ValueError(f"partition method 'metis': {n_syn} synapses make a graph of up to {2 * n_syn} adjacency "
                         f"entries, beyond pymetis's int32 limit of {2**31 - 1}; use method='greedy'")
    check_memory(f"partition method 'metis' on {n_syn} synapses", n_syn * METIS_BYTES_PER_SYNAPSE, FitError,
                 "use method='greedy'")


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
