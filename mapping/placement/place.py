"""Logical cores onto the mesh, to cut hop-weighted traffic (`traffic.hop_cost`): the
heaviest-talking core first, then greedy, then pairwise swaps; and `map_network`, the whole
mapping step on one synapse table.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurochip.chip.placement import Placement
from neurochip.chip.spec import ChipSpec
from neurochip.chip.synapses import SynapseTable, synapse_table
from neurochip.mapping.placement.partition import partition
from neurochip.mapping.placement.report import mapping_report
from neurochip.mapping.placement.traffic import core_traffic, hop_cost
from neurochip.model.errors import FitError
from neurochip.model.network import Network


def place(placement: Placement, net: Network, chip: ChipSpec, method: str = "greedy+swap", rates=None,
          seed: int = 0, sweeps: int = 20, table: SynapseTable | None = None) -> Placement:
    """Move logical cores onto mesh cores to cut hop-weighted traffic (see module doc)."""
    traffic, host, ids = core_traffic(net, placement, table or synapse_table(net, chip), rates)
    xy = np.array([chip.core_xy(c) for c in range(chip.n_cores)])
    n = len(ids)
    if n > chip.n_cores:
        raise FitError(f"{n} cores do not fit {chip.name}'s {chip.n_cores}")
    rng = np.random.default_rng(seed)
    if method == "random":
        slots = rng.permutation(chip.n_cores)[:n]
    elif method == "greedy+swap":
        slots = _greedy_slots(traffic + traffic.T, host, xy, n)
        slots = _swap(traffic, host, xy, slots, sweeps, rng)
    else:
        raise ValueError(f"place method must be 'greedy+swap' or 'random', got {method!r}")
    return Placement({k: slots[np.searchsorted(ids, v)].astype(np.int64) for k, v in placement.cores.items()})


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


def _swap(traffic, host, xy, slots, sweeps, rng, max_targets=32):
    """Pairwise swaps of cores (and moves into free slots) while they cut the hop cost;
    beyond 64 cores each core tries `max_targets` random slots a sweep."""
    all_slots = np.arange(len(xy))
    best = hop_cost(traffic, host, slots, xy)
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
                cost = hop_cost(traffic, host, trial, xy)
                if cost < best - 1e-9:
                    slots, best, improved = trial, cost, True
        if not improved:
            break
    return slots


@dataclass
class Mapping:
    """A network mapped onto a chip: the synapse table, built once (so its clip warnings come
    once) and shared by partition, place, the report and compile; and the placement."""

    net: Network
    chip: ChipSpec
    table: SynapseTable
    placement: Placement

    def report(self, rates: dict | None = None) -> dict:
        return mapping_report(self.net, self.chip, self.placement, rates, self.table)


def map_network(net: Network, chip: ChipSpec, partition_method: str = "greedy", place_method: str = "greedy+swap",
                rates: dict | None = None, seed: int = 0) -> Mapping:
    """`partition`, then `place`, on one synapse table."""
    table = synapse_table(net, chip)
    placement = partition(net, chip, partition_method, rates, seed, table)
    return Mapping(net, chip, table, place(placement, net, chip, place_method, rates, seed, table=table))
