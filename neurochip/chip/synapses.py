"""The synapse table of a network on a chip: every synapse once, flat, built once per mapping
and shared by partitioning, placement, compilation and the mapping report."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurochip.chip.spec import ChipSpec
from neurochip.model.fixed import sign_mode
from neurochip.model.network import Network


def index(net: Network) -> tuple[dict, dict, int, int]:
    """(population slices of neuron ids, source slices of input channels, N, M)."""
    pop_slices, src_slices = {}, {}
    for names, slices in ((net.neurons(), pop_slices), (net.sources(), src_slices)):
        start = 0
        for name in names:
            slices[name] = slice(start, start + net.populations[name].n)
            start += net.populations[name].n
    return pop_slices, src_slices, sum(net.populations[k].n for k in net.neurons()), \
        sum(net.populations[k].n for k in net.sources())


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


def synapse_table(net: Network, chip: ChipSpec) -> SynapseTable:
    fixed = net.fixed_point
    pop_slices, src_slices, N, _ = index(net)
    dt = np.int64 if fixed else np.float64
    parts, sc_comp, sc_shift = [], [], []
    for proj in net.projections:
        post, pre, w, dly = proj.synapses(fixed)
        pre_is_src = proj.pre in src_slices
        sender = pre + (N + src_slices[proj.pre].start if pre_is_src else pop_slices[proj.pre].start)
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
        bits = np.full(len(tgt), _synapse_bits(proj, w, chip, fixed), dtype=np.int64)
        parts.append((sender, tgt, w.astype(dt), dly, row, bits))
    if parts:
        cols = [np.concatenate(x) for x in zip(*parts)]
    else:
        cols = [np.zeros(0, np.int64)] * 2 + [np.zeros(0, dt)] + [np.zeros(0, np.int64)] * 3
    return SynapseTable(*cols, np.asarray(sc_comp, dtype=np.int64), np.asarray(sc_shift, dtype=np.int64))


def _synapse_bits(proj, w: np.ndarray, chip: ChipSpec, fixed: bool) -> int:
    """Bits one synapse of `proj` takes: weight (+ sign if mixed), delay if any, target index."""

    wb = (proj.num_weight_bits + (sign_mode(w) == "mixed")) if fixed else chip.core.weight_bits + 1
    return wb + (chip.core.delay_bits if np.any(proj.delay) else 0) + chip.core.index_bits
