"""Compile a placed network into the flat arrays the kernels run.

Indexing: chip neurons get global ids 0..N-1 (populations in order); host input channels
are senders N..N+M-1. One *input axon* exists per (sender, destination core) pair: it is
both the sender's out-axon entry (one packet) and the destination's fan-in axon, and it
owns the list (CSR) of the synapses it drives on that core.

Synapses of projections with weight_exp >= 0 carry w << weight_exp and add straight into
the dendritic ring buffer. Projections with weight_exp < 0 must shift the *sum* of a
step's spikes (Lava floors the sum, not each weight), so their synapses add into a
per-(projection, neuron, delay) scratch row that is shifted and flushed after delivery.

Analog input (`GradedSource` channels, `in_graded`) is delivered by `kernels.deliver_graded`:
on a chip with graded spikes (`graded_payload_bits` > 0) as packets whose payload multiplies
each weight; on one without (`host_side`, Loihi 1) the host walks the same synapses itself,
in the same arithmetic, and writes each compartment's sum (its hops from the host's tile
are `nrn_ew`, `nrn_ns`). Neurons that send graded spikes (`GradedVec`, `GradedReluVec`) are
delivered the same way and need a chip with graded spikes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurochip.chip.kernels import KERNELS
from neurochip.chip.placement import Placement
from neurochip.chip.spec import HOST_PAYLOAD_BITS, ChipSpec
from neurochip.chip.synapses import SynapseTable, index, synapse_table
from neurochip.model.errors import FitError, NetworkError
from neurochip.model.network import Network, id_dtype
from neurochip.model.neurons import GradedSource
from neurochip.model.numba_config import njit


@dataclass
class Program:
    """Everything a run needs, as flat numpy arrays (see module docstring)."""

    fixed_point: bool
    pop_slices: dict          # population name -> slice of global neuron ids
    src_slices: dict          # spike-source name -> slice of input channels
    n_neurons: int
    n_inputs: int
    in_graded: np.ndarray     # host channel -> 1 if its source is a GradedSource (analog payloads)
    host_side: int            # 1: no graded spikes on the chip: the host computes the graded sums
    payload_bits: int         # a graded payload's signed width (the chip's, or HOST_PAYLOAD_BITS)
    # neurons
    nrn_row: np.ndarray       # counter row (compact core index) of each neuron
    nrn_ew: np.ndarray        # hops east-west from the host's tile (0, 0) to each neuron's core
    nrn_ns: np.ndarray        # hops north-south likewise
    nrn_chip: np.ndarray      # chip links likewise (`ChipSpec.routes`: 0 on a single chip)
    run_ptr: np.ndarray       # neurons [run_ptr[j], run_ptr[j+1]) all sit on core row run_row[j]
    run_row: np.ndarray
    kernel_runs: np.ndarray   # (runs, 3): neurons [lo, hi) updated by one kernel kind (kernels.KERNELS)
    du_fac: np.ndarray        # fixed: 4096 - (du + 1); float: 1 - du
    dv_fac: np.ndarray        # fixed: 4096 - dv;       float: 1 - dv
    bias: np.ndarray          # fixed: bias_mant << bias_exp
    vth: np.ndarray           # fixed: vth << 6
    sub: np.ndarray           # amount a spike subtracts from v (subtractive reset); 0: reset to zero
    u0: np.ndarray
    v0: np.ndarray
    ramp_start: np.ndarray    # B1 (see neurons.B1): the step its window starts,
    ramp_steps: np.ndarray    # the ticks of its window,
    ramp_slope: np.ndarray    # the potential gained per tick
    # routing: sender -> input axons
    out_ptr: np.ndarray
    out_axon: np.ndarray
    out_ew: np.ndarray
    out_ns: np.ndarray
    out_chip: np.ndarray      # chip links a packet crosses (`ChipSpec.routes`)
    sender_row: np.ndarray    # counter row of each sender (host row for inputs)
    axon_row: np.ndarray      # counter row of each axon's destination core
    # synapses: input axon -> compartments
    syn_ptr: np.ndarray
    syn_tgt: np.ndarray
    syn_w: np.ndarray
    syn_dly: np.ndarray
    ax_dly: np.ndarray        # the delay all of an axon's direct synapses share, -1 if they differ
    ax_t0: np.ndarray         # an axon's first target if its targets are consecutive (a dense row), else -1
    sc_ptr: np.ndarray
    sc_row: np.ndarray
    sc_w: np.ndarray
    sc_dly: np.ndarray
    sc_comp: np.ndarray       # scratch row -> compartment
    sc_shift: np.ndarray      # scratch row -> right shift (-weight_exp)
    max_delay: int
    # cores
    core_ids: np.ndarray      # counter row -> chip core index (host row excluded)
    latency_ns: np.ndarray    # per event kind
    barrier_ns: float
    usage: dict               # per-core resource use, per limit name
    state_bytes: np.ndarray   # bytes of state held per core row

    @property
    def payload_max(self) -> int:
        """The largest payload magnitude a graded spike carries: payloads lie in [-max - 1, max]."""
        return (1 << (self.payload_bits - 1)) - 1

    @property
    def n_rows(self) -> int:
        """Counter rows: the cores in use, then the host."""
        return len(self.core_ids) + 1


def _lay_out(syn: SynapseTable, nrn_core: np.ndarray, n_senders: int, n_cores: int, fixed: bool) -> dict:
    """The synapse arrays of a program, from the table: one input axon per (sender,
    destination core), axons in (sender, core) order, each axon's synapses in target order
    (ties in table order), direct and scratch synapses apart. Linear passes (`_rank_order`,
    `_by_sender`, `_axons`): beside the outputs, one index array of the synapses (none if
    the table lists them by (core, target) already, as one projection on sequential cores).

    Compact outputs: syn_tgt as the table's ids, syn_w as the table's weights (int64 or
    float64 for plastic tables: learning writes them), delays int8, scratch rows int32,
    scratch weights int16; per axon int64."""
    S = len(syn.tgt)
    rank = np.empty(len(nrn_core), np.int64)   # targets in (core, id) order
    rank[np.argsort(nrn_core, kind="stable")] = np.arange(len(nrn_core))
    perm = np.zeros(0, np.int32)
    if not _in_rank_order(syn.tgt, rank):
        perm = _rank_order(syn.tgt, rank, np.empty(S, id_dtype(S)))
    row = syn.row if len(syn.sc_comp) else np.zeros(0, np.int64)
    n_sc = int(np.diff(syn.proj_ptr)[np.diff(syn.proj_rows) > 0].sum())
    w_dtype = (np.int64 if fixed else np.float64) if syn.plastic else syn.w.dtype
    out = dict(syn_tgt=np.empty(S - n_sc, syn.tgt.dtype), syn_w=np.empty(S - n_sc, w_dtype),
               syn_dly=np.empty(S - n_sc, np.int8), sc_row=np.empty(n_sc, np.int32), sc_w=np.empty(n_sc, np.int16),
               sc_dly=np.empty(n_sc, np.int8))
    d_ptr, s_ptr = _by_sender(syn.sender, syn.tgt, syn.w, syn.dly, row, perm, n_senders, out["syn_tgt"], out["syn_w"],
                              out["syn_dly"], out["sc_row"], out["sc_w"], out["sc_dly"])
    del perm, row
    nothing = np.zeros(0, np.int64)
    A = _axons(d_ptr, s_ptr, out["syn_tgt"], out["syn_dly"], out["sc_row"], syn.sc_comp, nrn_core, n_cores, False,
               *[nothing] * 7)
    ax = {k: np.zeros(A + (k.endswith("ptr")), np.int64) for k in ("syn_ptr", "sc_ptr", "ax_sender", "ax_core",
                                                                      "ax_dly", "ax_t0")}
    ax["out_ptr"] = np.zeros(n_senders + 1, np.int64)
    _axons(d_ptr, s_ptr, out["syn_tgt"], out["syn_dly"], out["sc_row"], syn.sc_comp, nrn_core, n_cores, True, *ax.values())
    return out | ax


@njit
def _in_rank_order(tgt, rank):
    for i in range(1, tgt.shape[0]):
        if rank[tgt[i]] < rank[tgt[i - 1]]:
            return False
    return True


@njit
def _rank_order(tgt, rank, perm):
    """perm: the synapse indices in ascending rank[tgt], ties in index order (counting sort)."""
    ptr = np.zeros(rank.shape[0] + 1, np.int64)
    for i in range(tgt.shape[0]):
        ptr[rank[tgt[i]] + 1] += 1
    for r in range(rank.shape[0]):
        ptr[r + 1] += ptr[r]
    for i in range(tgt.shape[0]):
        r = rank[tgt[i]]
        perm[ptr[r]] = i
        ptr[r] += 1
    return perm


@njit
def _by_sender(sender, tgt, w, dly, row, perm, n_senders, syn_tgt, syn_w, syn_dly, sc_row, sc_w, sc_dly):
    """Scatter the synapses, visited in `perm` order (table order if perm is empty), into
    per-sender lists (a stable counting sort by sender): direct ones into syn_*, scratch ones
    (row[i] >= 0; row empty: none) into sc_*. Returns both lists' pointers over senders."""
    has_row = row.shape[0] > 0
    d_ptr = np.zeros(n_senders + 1, np.int64)
    s_ptr = np.zeros(n_senders + 1, np.int64)
    for i in range(sender.shape[0]):
        if has_row and row[i] >= 0:
            s_ptr[sender[i] + 1] += 1
        else:
            d_ptr[sender[i] + 1] += 1
    for s in range(n_senders):
        d_ptr[s + 1] += d_ptr[s]
        s_ptr[s + 1] += s_ptr[s]
    nd = d_ptr[:-1].copy()
    ns = s_ptr[:-1].copy()
    by_perm = perm.shape[0] > 0
    for q in range(sender.shape[0]):
        i = perm[q] if by_perm else q
        s = sender[i]
        if has_row and row[i] >= 0:
            j = ns[s]
            ns[s] = j + 1
            sc_row[j] = row[i]
            sc_w[j] = w[i]
            sc_dly[j] = dly[i]
        else:
            j = nd[s]
            nd[s] = j + 1
            syn_tgt[j] = tgt[i]
            syn_w[j] = w[i]
            syn_dly[j] = dly[i]
    return d_ptr, s_ptr


@njit
def _axons(d_ptr, s_ptr, syn_tgt, syn_dly, sc_row, sc_comp, nrn_core, n_cores, fill,
           syn_ptr, sc_ptr, ax_sender, ax_core, ax_dly, ax_t0, out_ptr):
    """Count the input axons (one per sender and destination core of its direct or scratch
    synapses, whose lists `_by_sender` sorted by core); with `fill`, also write each axon's
    synapse ranges, sender, core, shared delay (-1: they differ or none), first target if its
    targets are consecutive (-1: not), and the senders' CSR over axons."""
    a = 0
    for s in range(d_ptr.shape[0] - 1):
        jd, jd1, js, js1 = d_ptr[s], d_ptr[s + 1], s_ptr[s], s_ptr[s + 1]
        while jd < jd1 or js < js1:
            c = min(nrn_core[syn_tgt[jd]] if jd < jd1 else n_cores, nrn_core[sc_comp[sc_row[js]]] if js < js1 else n_cores)
            j0, k0 = jd, js
            while jd < jd1 and nrn_core[syn_tgt[jd]] == c:
                jd += 1
            while js < js1 and nrn_core[sc_comp[sc_row[js]]] == c:
                js += 1
            if fill:
                syn_ptr[a] = j0
                sc_ptr[a] = k0
                ax_sender[a] = s
                ax_core[a] = c
                dl, t0 = -1, -1
                if jd > j0:
                    dl = syn_dly[j0]
                    for j in range(j0 + 1, jd):
                        if syn_dly[j] != dl:
                            dl = -1
                    if syn_tgt[jd - 1] - syn_tgt[j0] == jd - 1 - j0:
                        t0 = syn_tgt[j0]
                ax_dly[a] = dl
                ax_t0[a] = t0
            a += 1
        if fill:
            out_ptr[s + 1] = a
    if fill:
        syn_ptr[a] = d_ptr[-1]
        sc_ptr[a] = s_ptr[-1]
    return a


def compile_network(net: Network, chip: ChipSpec, placement: Placement | None = None,
                    table: SynapseTable | None = None) -> Program:
    """The program of `net` placed on `chip`; `table` is the network's synapse table if the
    mapping built it already."""
    fixed = net.fixed_point
    placement = placement or Placement.sequential(net, chip)
    placement.validate(net, chip)
    pop_slices, src_slices, N, M = index(net)

    nrn_core = np.concatenate([np.asarray(placement.cores[k], dtype=np.int64) for k in net.neurons()]) \
        if N else np.zeros(0, np.int64)
    core_ids = np.unique(nrn_core)
    row_of_core = np.full(chip.n_cores, -1, dtype=np.int64)
    row_of_core[core_ids] = np.arange(len(core_ids))
    host_row = len(core_ids)
    nrn_row = row_of_core[nrn_core]
    run_ptr = np.append(np.flatnonzero(np.diff(nrn_row, prepend=-1)), N).astype(np.int64) if N \
        else np.zeros(1, np.int64)

    dt = np.int64 if fixed else np.float64
    neuron = {k: np.zeros(N, dt) for k in ("du_fac", "dv_fac", "bias", "vth", "sub", "u0", "v0", "ramp_slope")}
    neuron.update(ramp_start=np.zeros(N, np.int64), ramp_steps=np.zeros(N, np.int64))
    kind = np.zeros(N, np.int64)
    for name, sl in pop_slices.items():
        pop = net.populations[name]
        if pop.kernel not in KERNELS:
            raise NetworkError(f"population {name!r}: kernel {pop.kernel!r} is not one of the chip's {list(KERNELS)}")
        if pop.sends_payloads and not chip.core.graded_payload_bits:
            raise FitError(f"population {name!r}: {type(pop).__name__} sends graded spikes, which {chip.name} does not "
                           "have (graded_payload_bits = 0); use a chip with graded spikes, e.g. loihi2")
        kind[sl] = KERNELS[pop.kernel]
        for k, value in pop.kernel_arrays().items():
            neuron[k][sl] = value
    starts = np.flatnonzero(np.diff(kind, prepend=-1))   # populations are contiguous: runs of one kernel

    syn = table or synapse_table(net, chip)
    lay = _lay_out(syn, nrn_core, N + M, chip.n_cores, fixed)   # input axons and their synapses
    ax_sender, ax_core = lay.pop("ax_sender"), lay.pop("ax_core")
    A = len(ax_sender)

    src_core = np.concatenate([nrn_core, np.full(M, -1, np.int64)])  # -1: the host, at tile (0, 0) of chip (0, 0)
    out_ew, out_ns, out_chip = chip.routes(src_core[ax_sender], ax_core)
    sender_row = np.concatenate([nrn_row, np.full(M, host_row, dtype=np.int64)])

    in_graded = np.zeros(M, np.int64)
    for name, sl in src_slices.items():
        in_graded[sl] = isinstance(net.populations[name], GradedSource)
    nrn_ew, nrn_ns, nrn_chip = chip.routes(np.full(N, -1, np.int64), nrn_core)
    bits = chip.core.graded_payload_bits

    usage = _usage(len(core_ids), row_of_core, nrn_row, ax_sender, ax_core, N, *syn.fan_in(N))
    check_fit(chip, core_ids, usage, net, pop_slices, nrn_core)
    tiles_used = len(np.unique(core_ids // chip.cores_per_tile))
    chips_used = len(np.unique(core_ids // chip.cores_per_chip))

    return Program(
        fixed_point=fixed, pop_slices=pop_slices, src_slices=src_slices, n_neurons=N, n_inputs=M,
        in_graded=in_graded, host_side=int(bits == 0), payload_bits=bits or HOST_PAYLOAD_BITS,
        nrn_row=nrn_row, nrn_ew=nrn_ew, nrn_ns=nrn_ns, nrn_chip=nrn_chip, run_ptr=run_ptr, run_row=nrn_row[run_ptr[:-1]],
        kernel_runs=np.stack([starts, np.append(starts, N)[1:], kind[starts]], axis=1), **neuron,
        out_axon=np.arange(A, dtype=np.int64), out_ew=out_ew, out_ns=out_ns, out_chip=out_chip,
        sender_row=sender_row, axon_row=row_of_core[ax_core], **lay,
        sc_comp=syn.sc_comp, sc_shift=syn.sc_shift,
        max_delay=int(syn.dly.max()) if len(syn.dly) else 0,
        core_ids=core_ids, latency_ns=chip.profile.vector("latency_ns"),
        barrier_ns=chip.barrier(tiles_used, chips_used) * 1e9, usage=usage,
        state_bytes=_state_bytes(usage, fixed),
    )


def _usage(R, row_of_core, nrn_row, ax_sender, ax_core, N, fan_in, fan_in_bits) -> dict:
    chip_sender = ax_sender < N
    return {
        "compartments": np.bincount(nrn_row, minlength=R),
        "input_axons": np.bincount(row_of_core[ax_core], minlength=R),
        "output_axons": np.bincount(nrn_row[ax_sender[chip_sender]], minlength=R),
        "synapse_memory_bits": np.bincount(nrn_row, weights=fan_in_bits, minlength=R).astype(np.int64),
        "synapses": np.bincount(nrn_row, weights=fan_in, minlength=R).astype(np.int64),
    }


def check_fit(chip, core_ids, usage, net, pop_slices, nrn_core, what: str = ""):
    """A FitError naming the first core over a limit (`what` says what the usage includes)."""
    for limit in ("compartments", "input_axons", "output_axons", "synapse_memory_bits"):
        cap = getattr(chip.core, limit)
        over = np.flatnonzero(usage[limit] > cap)
        if len(over):
            r = over[0]
            core = int(core_ids[r])
            pops = [k for k, sl in pop_slices.items() if np.any(nrn_core[sl] == core)]
            raise FitError(
                f"core {core} of {chip.name} breaks the {limit} limit{what}: {int(usage[limit][r])} > {cap} "
                f"(populations on it: {pops}). Spread them over more cores, e.g. "
                f"Placement.sequential(net, chip, per_core=...) with fewer neurons a core, or "
                f"neurochip.mapping's partitioner.")


def _state_bytes(usage: dict, fixed: bool) -> np.ndarray:
    """Bytes held per core: u and v (3 bytes each in fixed point, 4 in float), synapse memory."""
    per_neuron = 6 if fixed else 8
    b = usage["compartments"] * per_neuron + (usage["synapse_memory_bits"] + 7) // 8
    return np.append(b, 0).astype(np.int64)

