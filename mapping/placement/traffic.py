"""The traffic model: expected packets per step between the cores of a placement.

A spike costs one packet per core other than its own that holds synapses of its sender
(the host's spikes enter at tile (0, 0) of chip (0, 0), so all of theirs count); a sender
spikes `rate` times a step, from `rates` of a calibration run (per population or source)
or 1. Each packet travels the route `ChipSpec.routes` gives (dimension order over the
board's global mesh): mesh hops, and on a board chip links. `route_traffic` sums packets
x hops and packets x links; `placement_cost` weighs a link as `link_weight` hops.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from neurochip.chip.placement import Placement
from neurochip.chip.synapses import SynapseTable, index


def sender_rates(net, rates: dict | None) -> np.ndarray:
    """Spikes per step of every sender: neurons 0..N-1, then input channels N..N+M-1."""
    pop_slices, src_slices, N, M = index(net)
    rate = np.ones(N + M)
    for name, r in (rates or {}).items():
        sl = pop_slices.get(name) or src_slices.get(name)
        rate[sl if name in pop_slices else slice(N + sl.start, N + sl.stop)] = r
    return rate


def neuron_cores(net, placement: Placement) -> np.ndarray:
    """The core of every neuron, in global neuron order."""
    return np.concatenate([np.asarray(placement.cores[k]) for k in net.neurons()]) if net.neurons() \
        else np.zeros(0, np.int64)


def sender_core_pairs(table: SynapseTable, core_of: np.ndarray, n_cores: int) -> tuple[np.ndarray, np.ndarray]:
    """(sender, destination core) of every input axon: one per pair with synapses."""
    key = np.multiply(table.sender, n_cores, dtype=np.int64)   # int64: the table's ids may be int32
    key += core_of[table.tgt]
    pairs = np.unique(key)
    return pairs // n_cores, pairs % n_cores


def packets(table: SynapseTable, core_of: np.ndarray, rate: np.ndarray) -> float:
    """Expected packets per step from neuron to neuron between different cores."""
    src, dst = sender_core_pairs(table, core_of, int(core_of.max()) + 1)
    away = src < len(core_of)
    away[away] = core_of[src[away]] != dst[away]
    return float(rate[src[away]].sum())


def core_traffic(net, placement: Placement, table: SynapseTable, rates: dict | None = None):
    """(traffic between the cores in use, a sparse (n, n) matrix: [a, b] packets a step from
    core a to core b; host traffic into each; their core ids): expected packets per step."""
    core_of = neuron_cores(net, placement)
    rate = sender_rates(net, rates)
    ids, row = np.unique(core_of, return_inverse=True)
    snd, dst = sender_core_pairs(table, row, len(ids))
    on_chip = snd < len(core_of)
    traffic = sp.csr_matrix((rate[snd[on_chip]], (row[snd[on_chip]], dst[on_chip])), shape=(len(ids), len(ids)))
    host = np.bincount(dst[~on_chip], weights=rate[snd[~on_chip]], minlength=len(ids))
    return traffic, host, ids


def route_traffic(traffic, host: np.ndarray, slots: np.ndarray, chip) -> dict:
    """Packets a step with cores at chip cores `slots` (the host at tile (0, 0) of chip (0, 0)):
    hop_traffic = packets x mesh hops, link_traffic = packets x chip links, inter_chip_packets
    = packets that leave their chip (host packets into chips other than chip 0 included)."""
    t = sp.coo_matrix(traffic)
    keep = t.row != t.col
    rate = np.concatenate([t.data[keep], host])
    src = np.concatenate([slots[t.row[keep]], np.full(len(host), -1)])
    ew, ns, links = chip.routes(src, np.concatenate([slots[t.col[keep]], slots]))
    return dict(hop_traffic=float(rate @ (ew + ns)), link_traffic=float(rate @ links),
                inter_chip_packets=float(rate[links > 0].sum()))


def link_weight(chip) -> float:
    """A chip link's cost in hops for placement: the profile's link energy over its mean hop
    energy; 1 (a link costs a hop: chip-oblivious) when either is unknown."""
    hop = (chip.profile.cost("hops_ew") + chip.profile.cost("hops_ns")) / 2
    ratio = chip.profile.cost("chip_hops") / hop if hop else math.nan
    return 1.0 if math.isnan(ratio) else float(ratio)


def placement_cost(traffic, host: np.ndarray, slots: np.ndarray, chip, weight: float = 1.0) -> float:
    """Packets x (hops + `weight` x links): what `place` minimises."""
    r = route_traffic(traffic, host, slots, chip)
    return r["hop_traffic"] + weight * r["link_traffic"]
