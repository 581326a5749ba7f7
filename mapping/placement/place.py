"""Logical cores onto the cores of a chip or board, to cut the cost of their traffic
(`traffic.placement_cost`: packets x (mesh hops + w x chip links), w = `link_weight(chip)`,
a link's energy in hops, so that cores that talk a lot share a chip), and `map_network`,
the whole mapping step on one synapse table.

"greedy+swap": a first placement, then swaps. Up to `GREEDY_MAX` cores, greedy: the
heaviest-talking core onto the slot nearest the host, then each next core (most traffic with
those placed) onto the free slot cheapest for it. Beyond, a space-filling order: logical cores
(numbered in neuron order by the partitioner, so neighbours in it talk) along a serpentine
over the chips, and inside each chip over its tiles (with w = 1, chip-oblivious, over the
tiles of the board's mesh). Then sweeps of moves, each core trying
the slots of the tiles of its heaviest partners, the host's tile and a few random slots,
taking the move (a swap with the slot's core, or into a free slot) that cuts the cost most.
The cost change of a move is computed from the two cores' own partners only:

    d(swap a at p with b at q) = [C_a(q) - C_a(p)] + [C_b(p) - C_b(q)] + 2 S_ab dist(p, q)

with C_x(r) = sum_y S_xy dist(r, slot_y) + host_x dist(r, host), S = T + T^T (the last
term puts back the a-b pair, whose distance a swap does not change).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from neurochip.chip.placement import Placement
from neurochip.chip.spec import ChipSpec
from neurochip.chip.synapses import SynapseTable, synapse_table
from neurochip.mapping.placement.partition import partition
from neurochip.mapping.placement.report import mapping_report
from neurochip.mapping.placement.traffic import core_traffic, link_weight
from neurochip.model.errors import FitError
from neurochip.model.network import Network
from neurochip.model.numba_config import njit

GREEDY_MAX = 256      # the greedy first placement is O(cores^2 x slots): beyond, the serpentine
PARTNERS = 16         # a core tries the tiles of at most this many of its heaviest partners
RANDOM_TRIES = 8      # and this many random slots, a sweep


def place(placement: Placement, net: Network, chip: ChipSpec, method: str = "greedy+swap", rates=None,
          seed: int = 0, sweeps: int = 20, table: SynapseTable | None = None,
          weight: float | None = None) -> Placement:
    """Move logical cores onto chip cores to cut the cost of their traffic (see module doc);
    `weight`: a chip link's cost in hops (default `link_weight(chip)`; 1: chip-oblivious)."""
    traffic, host, ids = core_traffic(net, placement, table or synapse_table(net, chip), rates)
    n = len(ids)
    if n > chip.n_cores:
        raise FitError(f"{n} cores do not fit {chip.name}'s {chip.n_cores}")
    rng = np.random.default_rng(seed)
    if method == "random":
        slots = rng.permutation(chip.n_cores)[:n]
    elif method == "greedy+swap":
        weight = link_weight(chip) if weight is None else float(weight)
        coords = _coords(chip)
        sym = sp.csr_matrix(traffic + traffic.T)
        sym.setdiag(0)
        sym.eliminate_zeros()
        slots = _greedy_slots(sym.toarray(), host, coords, weight, n) if n <= GREEDY_MAX \
            else serpentine(chip, by_chip=weight != 1.0)[:n]
        slots = _refine(sym, host, coords, weight, slots, chip.cores_per_tile, sweeps, seed)
    else:
        raise ValueError(f"place method must be 'greedy+swap' or 'random', got {method!r}")
    return Placement({k: slots[np.searchsorted(ids, v)].astype(np.int64) for k, v in placement.cores.items()})


def _coords(chip: ChipSpec) -> np.ndarray:
    """(n_cores, 4) global mesh x, y and chip-grid x, y of every core."""
    xy, chip_xy = chip.coordinates()
    return np.concatenate([xy, chip_xy], axis=1).astype(np.int64)


def _dist(a: np.ndarray, b: np.ndarray, weight: float) -> np.ndarray:
    """Cost of a packet between positions a[..., 4] and b[..., 4]: hops + weight x links
    (a packet crossing a link makes one mesh step fewer: `ChipSpec.routes`)."""
    d = np.abs(a - b)
    return d[..., 0] + d[..., 1] + (weight - 1.0) * (d[..., 2] + d[..., 3])


def serpentine(chip: ChipSpec, by_chip: bool = True) -> np.ndarray:
    """All cores of a board in a locality-keeping order, a tile's cores together: by_chip,
    chips row by row, alternate rows reversed (consecutive chips are neighbours), and inside a
    chip its tiles likewise; else the tiles of the board's global mesh likewise, blind to chips."""
    xy, chip_xy = chip.coordinates()
    if by_chip:
        local = xy - chip_xy * (chip.tiles_x, chip.tiles_y)
        keys = [chip_xy[:, 1], _snake(chip_xy), local[:, 1], _snake(local)]
    else:
        keys = [xy[:, 1], _snake(xy)]
    return np.lexsort(tuple(reversed(keys))).astype(np.int64)   # np.arange: a tile's cores in order


def _snake(xy: np.ndarray) -> np.ndarray:
    """x along even rows, -x along odd rows."""
    return np.where(xy[:, 1] % 2 == 0, xy[:, 0], -xy[:, 0])


def _greedy_slots(S, host, coords, weight, n):
    """Heaviest-talking core first onto the slot nearest the host, then each next core
    (most traffic with those placed) onto the free slot cheapest for it."""
    free = np.ones(len(coords), dtype=bool)
    slots = np.full(n, -1, dtype=np.int64)
    order = [int(np.argmax(S.sum(1) + host))]
    dist_host = _dist(coords, np.zeros(4, np.int64), weight)
    while order:
        c = order.pop()
        placed = np.flatnonzero(slots >= 0)
        cost = dist_host * host[c] + (S[c, placed][None, :] *
                                      _dist(coords[:, None, :], coords[slots[placed]][None, :, :], weight)).sum(1)
        cost[~free] = np.inf
        slots[c] = int(np.argmin(cost))
        free[slots[c]] = False
        rest = np.flatnonzero(slots < 0)
        if len(rest):
            order.append(int(rest[np.argmax(S[np.ix_(rest, np.flatnonzero(slots >= 0))].sum(1))]))
    return slots


def _refine(sym, host, coords, weight, slots, cores_per_tile, sweeps, seed):
    """Moves while they cut the cost (module doc), on the partner lists of `sym` sorted
    heaviest first."""
    sym = sp.csr_matrix(sym)
    ptr, nbr, wt = sym.indptr.astype(np.int64), sym.indices.astype(np.int64), sym.data.astype(np.float64)
    for a in range(len(ptr) - 1):   # heaviest partners first
        order = ptr[a] + np.argsort(-wt[ptr[a]:ptr[a + 1]], kind="stable")
        nbr[ptr[a]:ptr[a + 1]], wt[ptr[a]:ptr[a + 1]] = nbr[order], wt[order]
    slots = np.ascontiguousarray(slots, dtype=np.int64)
    occupant = np.full(len(coords), -1, np.int64)
    occupant[slots] = np.arange(len(slots))
    _sweep(slots, occupant, ptr, nbr, wt, np.asarray(host, np.float64), coords, float(weight), cores_per_tile,
           sweeps, PARTNERS, RANDOM_TRIES, seed)
    return slots


@njit
def _d(coords, p, q, weight):
    """dist(p, q) (q = -1: the host's position, all zeros)."""
    s = 0.0
    for k in range(4):
        x = coords[p, k] - (coords[q, k] if q >= 0 else 0)
        s += (x if x >= 0 else -x) * (1.0 if k < 2 else weight - 1.0)
    return s


@njit
def _core_cost(a, r, slots, ptr, nbr, wt, host, coords, weight):
    """C_a(r): the cost of core a's traffic with a at slot r, the others where they are."""
    c = host[a] * _d(coords, r, -1, weight) if host[a] != 0 else 0.0
    for j in range(ptr[a], ptr[a + 1]):
        c += wt[j] * _d(coords, r, slots[nbr[j]], weight)
    return c


@njit
def _move_delta(a, q, slots, occupant, ptr, nbr, wt, host, coords, weight, ca_p):
    """Cost change of moving core a to slot q (swapping with its core, if any)."""
    p = slots[a]
    delta = _core_cost(a, q, slots, ptr, nbr, wt, host, coords, weight) - ca_p
    b = occupant[q]
    if b >= 0:
        delta += _core_cost(b, p, slots, ptr, nbr, wt, host, coords, weight) - \
            _core_cost(b, q, slots, ptr, nbr, wt, host, coords, weight)
        for j in range(ptr[a], ptr[a + 1]):
            if nbr[j] == b:
                delta += 2.0 * wt[j] * _d(coords, p, q, weight)
    return delta


@njit
def _sweep(slots, occupant, ptr, nbr, wt, host, coords, weight, cores_per_tile, sweeps, partners, tries, seed):
    np.random.seed(seed)
    n_slots = coords.shape[0]
    for _ in range(sweeps):
        moved = 0
        for a in range(slots.shape[0]):
            p = slots[a]
            ca_p = _core_cost(a, p, slots, ptr, nbr, wt, host, coords, weight)
            best, best_q = -1e-9, -1
            n_cand = min(partners, ptr[a + 1] - ptr[a]) + (1 if host[a] != 0 else 0)
            for k in range(n_cand + tries):
                if k < n_cand:   # the tiles of the heaviest partners, and the host's tile
                    anchor = slots[nbr[ptr[a] + k]] if ptr[a] + k < ptr[a + 1] else 0
                    t0 = anchor - anchor % cores_per_tile
                    lo, hi = t0, t0 + cores_per_tile
                else:
                    lo = np.random.randint(0, n_slots)
                    hi = lo + 1
                for q in range(lo, hi):
                    if q == p:
                        continue
                    delta = _move_delta(a, q, slots, occupant, ptr, nbr, wt, host, coords, weight, ca_p)
                    if delta < best:
                        best, best_q = delta, q
            if best_q >= 0:
                b = occupant[best_q]
                occupant[best_q], occupant[p] = a, b
                slots[a] = best_q
                if b >= 0:
                    slots[b] = p
                moved += 1
        if moved == 0:
            break


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
