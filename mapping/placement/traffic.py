"""The traffic model: expected packets per step between the cores of a placement.

A spike costs one packet per core other than its own that holds synapses of its sender
(the host's spikes enter at tile (0, 0), so all of theirs count); a sender spikes `rate`
times a step, from `rates` of a calibration run (per population or source) or 1. The hop
cost weighs each packet by the Manhattan distance between the tiles it travels.
"""
from __future__ import annotations

import numpy as np

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
    pairs = np.unique(table.sender * n_cores + core_of[table.tgt])
    return pairs // n_cores, pairs % n_cores


def packets(table: SynapseTable, core_of: np.ndarray, rate: np.ndarray) -> float:
    """Expected packets per step from neuron to neuron between different cores."""
    src, dst = sender_core_pairs(table, core_of, int(core_of.max()) + 1)
    away = src < len(core_of)
    away[away] = core_of[src[away]] != dst[away]
    return float(rate[src[away]].sum())


def core_traffic(net, placement: Placement, table: SynapseTable, rates: dict | None = None):
    """(traffic matrix between the cores in use, host traffic into each, their core ids):
    expected packets per step."""
    core_of = neuron_cores(net, placement)
    rate = sender_rates(net, rates)
    ids, row = np.unique(core_of, return_inverse=True)
    snd, dst = sender_core_pairs(table, row, len(ids))
    on_chip = snd < len(core_of)
    traffic = np.zeros((len(ids), len(ids)))
    np.add.at(traffic, (row[snd[on_chip]], dst[on_chip]), rate[snd[on_chip]])
    host = np.bincount(dst[~on_chip], weights=rate[snd[~on_chip]], minlength=len(ids))
    return traffic, host, ids


def hop_cost(traffic: np.ndarray, host: np.ndarray, slots: np.ndarray, xy: np.ndarray) -> float:
    """Packets times hops, cores at mesh positions xy[slots], the host at tile (0, 0)."""
    pos = xy[slots]
    dist = np.abs(pos[:, None, :] - pos[None, :, :]).sum(-1)
    return float((traffic * dist).sum() + (host * np.abs(pos).sum(-1)).sum())
