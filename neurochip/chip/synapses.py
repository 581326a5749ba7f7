"""The synapse table of a network on a chip: every synapse once, flat, built once per mapping
and shared by partitioning, placement, compilation and the mapping report."""
from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate

import numpy as np

from neurochip.chip.spec import ChipSpec
from neurochip.model.fixed import sign_mode
from neurochip.model.network import Network, id_dtype
from neurochip.model.numba_config import njit


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
    """Every synapse of a network, flat, in compact dtypes: sender (neuron id, or N + input
    channel) and target neuron as `ids` (`id_dtype`: int32 below 2**31 senders), weight
    (shifted by weight_exp >= 0; int16 in fixed point: an effective weight << 7 lies in
    [-2**15, 2**15); float64 in float), delay (int8).

    Per projection k, not per synapse: its synapses are [proj_ptr[k], proj_ptr[k+1]), each
    takes proj_bits[k] bits of synaptic memory, and scratch rows [proj_rows[k],
    proj_rows[k+1]) (none: direct synapses; weight_exp < 0: one row per target it has, in
    target order), each mapping to a compartment (sc_comp) and a right shift (sc_shift).
    `plastic`: built for learning (zero weights are synapses; the program keeps int64 or
    float64 weights, which learning writes)."""

    sender: np.ndarray
    tgt: np.ndarray
    w: np.ndarray
    dly: np.ndarray
    proj_ptr: np.ndarray
    proj_bits: np.ndarray
    proj_rows: np.ndarray
    sc_comp: np.ndarray
    sc_shift: np.ndarray
    plastic: bool = False

    @property
    def row(self) -> np.ndarray:
        """The scratch row of every synapse (-1: direct), int64, built on each call."""
        row = np.full(len(self.tgt), -1, np.int64)
        for k in np.flatnonzero(np.diff(self.proj_rows)):
            r0, r1, lo, hi = self.proj_rows[k], self.proj_rows[k + 1], self.proj_ptr[k], self.proj_ptr[k + 1]
            row[lo:hi] = r0 + np.searchsorted(self.sc_comp[r0:r1], self.tgt[lo:hi])
        return row

    def fan_in(self, n_neurons: int) -> tuple[np.ndarray, np.ndarray]:
        """(synapses, synaptic memory bits) per target neuron, int64, without per-synapse
        temporaries."""
        return _fan_in(self.tgt, self.proj_ptr, self.proj_bits, n_neurons)


@njit
def _fan_in(tgt, proj_ptr, proj_bits, n):
    count = np.zeros(n, np.int64)
    bits = np.zeros(n, np.int64)
    for k in range(proj_bits.shape[0]):
        for i in range(proj_ptr[k], proj_ptr[k + 1]):
            count[tgt[i]] += 1
            bits[tgt[i]] += proj_bits[k]
    return count, bits


def synapse_table(net: Network, chip: ChipSpec, plastic: bool = False) -> SynapseTable:
    """`plastic`: every projection learns (zero weights are synapses too, signs mixed).
    Each projection's synapses come from `Projection.synapses` in (post, pre) order; a
    single projection's arrays are used as they are (no concatenated copy)."""
    fixed = net.fixed_point
    pop_slices, src_slices, N, M = index(net)
    ids = id_dtype(N + M)
    wdt = np.int16 if fixed else np.float64
    parts = [(np.zeros(0, ids), np.zeros(0, ids), np.zeros(0, wdt), np.zeros(0, np.int8))]
    proj_ptr, proj_bits, proj_rows = [0], [], [0]
    sc_comp, sc_shift = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for proj in net.projections:
        post, pre, w, dly = proj.synapses(fixed, plastic)
        start = N + src_slices[proj.pre].start if proj.pre in src_slices else pop_slices[proj.pre].start
        sender = np.add(pre, start, dtype=ids)
        del pre
        tgt = np.add(post, pop_slices[proj.post].start, out=post if post.dtype == ids else None, dtype=ids)
        del post
        rows = 0
        if fixed and proj.weight_exp < 0:   # one scratch row per (projection, post neuron) that has synapses
            uniq = np.unique(tgt).astype(np.int64)
            rows = len(uniq)
            sc_comp.append(uniq)
            sc_shift.append(np.full(rows, -proj.weight_exp, np.int64))
        elif fixed:
            w <<= proj.weight_exp   # in int16: 255 << 7 and -256 << 7 fit
        proj_rows.append(proj_rows[-1] + rows)
        proj_ptr.append(proj_ptr[-1] + len(tgt))
        proj_bits.append(_synapse_bits(proj, w, chip, fixed, plastic))
        parts.append((sender, tgt, w, dly))
    columns = parts[1] if len(parts) == 2 else [np.concatenate(c) for c in zip(*parts)]
    del parts
    return SynapseTable(*columns, proj_ptr=np.asarray(proj_ptr, np.int64), proj_bits=np.asarray(proj_bits, np.int64),
                        proj_rows=np.asarray(proj_rows, np.int64), sc_comp=np.concatenate(sc_comp),
                        sc_shift=np.concatenate(sc_shift), plastic=plastic)


def _synapse_bits(proj, w: np.ndarray, chip: ChipSpec, fixed: bool, plastic: bool) -> int:
    """Bits one synapse of `proj` takes: weight (+ sign if mixed), delay if any, target index."""
    mixed = plastic or sign_mode(w) == "mixed"
    wb = (proj.num_weight_bits + mixed) if fixed else chip.core.weight_bits + 1
    return wb + (chip.core.delay_bits if np.any(proj.delay) else 0) + chip.core.index_bits
