"""The synapse table of a network on a chip: every synapse once, flat, built once per mapping
and shared by partitioning, placement, compilation and the mapping report."""
from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate

import numpy as np

from neurochip.chip.spec import ChipSpec
from neurochip.model.fixed import sign_mode
from neurochip.model.network import Network


def _slices(net: Network, names: list[str]) -> tuple[dict, int]:
    """Consecutive id ranges of the populations `names`, and their total size."""
    ends = list(accumulate((net.populations[name].n for name in names), initial=0))
    return {name: slice(a, b) for name, a, b in zip(names, ends, ends[1:])}, ends[-1]


def index(net: Network) -> tuple[dict, dict, int, int]:
    """(population slices of neuron ids, source slices of input channels, N, M)."""
    (pop_slices, N), (src_slices, M) = _slices(net, net.neurons()), _slices(net, net.sources())
    return pop_slices, src_slices, N, M


@dataclass
class SynapseTable:
    """Every synapse of a network, flat: sender (neuron id, or N + input channel), target
    neuron, weight (shifted by weight_exp >= 0), delay, scratch row (-1: direct), and the
    bits it takes in synaptic memory; scratch rows map to a compartment and a right shift."""

    sender: np.ndarray
    tgt: np.ndarray
    w: np.ndarray
    dly: np.ndarray
    row: np.ndarray
    bits: np.ndarray
    sc_comp: np.ndarray
    sc_shift: np.ndarray


def synapse_table(net: Network, chip: ChipSpec, plastic: bool = False) -> SynapseTable:
    """`plastic`: every projection learns (zero weights are synapses too, signs mixed)."""
    fixed = net.fixed_point
    pop_slices, src_slices, N, _ = index(net)
    dt = np.int64 if fixed else np.float64
    empty = np.zeros(0, np.int64)
    parts, sc_comp, sc_shift = [(empty, empty, np.zeros(0, dt), empty, empty, empty)], [], []
    for proj in net.projections:
        post, pre, w, dly = proj.synapses(fixed, plastic)
        sender = pre + (N + src_slices[proj.pre].start if proj.pre in src_slices else pop_slices[proj.pre].start)
        tgt = post + pop_slices[proj.post].start
        if fixed and proj.weight_exp < 0:
            # one scratch row per (projection, post neuron) that has synapses
            uniq, row = np.unique(tgt, return_inverse=True)
            row = row + len(sc_comp)
            sc_comp.extend(uniq.tolist())
            sc_shift.extend([-proj.weight_exp] * len(uniq))
        else:
            row = np.full(len(tgt), -1, dtype=np.int64)
            if fixed:
                w = w << proj.weight_exp
        bits = np.full(len(tgt), _synapse_bits(proj, w, chip, fixed, plastic), dtype=np.int64)
        parts.append((sender, tgt, w.astype(dt), dly, row, bits))
    return SynapseTable(*(np.concatenate(column) for column in zip(*parts)), np.asarray(sc_comp, dtype=np.int64),
                        np.asarray(sc_shift, dtype=np.int64))


def _synapse_bits(proj, w: np.ndarray, chip: ChipSpec, fixed: bool, plastic: bool) -> int:
    """Bits one synapse of `proj` takes: weight (+ sign if mixed), delay if any, target index."""
    mixed = plastic or sign_mode(w) == "mixed"
    wb = (proj.num_weight_bits + mixed) if fixed else chip.core.weight_bits + 1
    return wb + (chip.core.delay_bits if np.any(proj.delay) else 0) + chip.core.index_bits
