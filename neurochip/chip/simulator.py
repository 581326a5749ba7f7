"""The simulator: compile once, run many steps inside compiled code, read counters."""
from __future__ import annotations

import hashlib
import os
import warnings
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from tqdm import tqdm

from neurochip.chip import kernels, plastic_kernels
from neurochip.chip.placement import Placement
from neurochip.chip.plastic import BPTT_SG, EVENT_RULES, STD_ED, PlasticProgram, Plasticity, compile_plasticity
from neurochip.chip.program import Program, compile_network
from neurochip.chip.spec import ChipSpec, Profile, loihi1
from neurochip.chip.synapses import SynapseTable, synapse_table
from neurochip.model.errors import FitError, NetworkError
from neurochip.model.events import ALL_EVENTS, EVENTS, N_EVENTS
from neurochip.model.files import save_npz_atomic
from neurochip.model.network import Network
from neurochip.model.neurons import GradedSource

RECORDABLE = ("spikes", "u", "v", "core_time", "step_counters")


class PayloadClipWarning(UserWarning):
    """Analog input values did not fit a graded spike's payload and were clipped."""


def _step_ptr(t_idx: np.ndarray, steps: int) -> np.ndarray:
    """CSR pointer over steps of events at steps `t_idx` (sorted)."""
    ptr = np.zeros(steps + 1, dtype=np.int64)
    np.add.at(ptr, t_idx + 1, 1)
    return np.cumsum(ptr)


@dataclass
class RunResult:
    """What one `Simulator.run` returns; every array covers the steps of that run.

    spikes[pop]   (steps, n) bool, for recorded populations
    u[pop], v[pop] (steps, n) state after each step's update (v after reset)
    spike_counts[pop] (n,) spikes per neuron, always
    counters      (rows, len(EVENTS)) int64: one row per core in use, then the host;
                  row names in `rows`, column names in `EVENTS`
    step_latency_ns (steps,) slowest core + barrier for each step (NaN if unknown)
    core_busy_ns  (cores,) summed per-core time
    core_time_ns  (steps, cores) per-step per-core time, if 'core_time' was recorded
    step_counters (steps, rows, len(EVENTS)) each step's counters, if 'step_counters' was recorded
    state_bytes   (rows,) bytes of state held per core
    sample_counters (samples, rows, len(EVENTS)) each sample's counters (`Simulator.run_samples` only)
    """

    steps: int
    spikes: dict = field(default_factory=dict)
    u: dict = field(default_factory=dict)
    v: dict = field(default_factory=dict)
    spike_counts: dict = field(default_factory=dict)
    counters: np.ndarray | None = None
    rows: list = field(default_factory=list)
    step_latency_ns: np.ndarray | None = None
    core_busy_ns: np.ndarray | None = None
    core_time_ns: np.ndarray | None = None
    step_counters: np.ndarray | None = None
    state_bytes: np.ndarray | None = None
    sample_counters: np.ndarray | None = None   # (samples, rows, kinds): each sample's, from run_samples

    @classmethod
    def stacked(cls, runs: list) -> "RunResult":
        """One result of many runs of the same program (one per sample): counters, busy time and
        the step counters summed; spikes, u, v, spike_counts, step_latency_ns and core_time_ns
        stacked on a new first axis (samples, ...)."""
        first = runs[0]
        stacked = {f: {k: np.stack([getattr(r, f)[k] for r in runs]) for k in getattr(first, f)}
                   for f in ("spikes", "u", "v", "spike_counts")}
        summed = {f: None if getattr(first, f) is None else sum(getattr(r, f) for r in runs)
                  for f in ("counters", "core_busy_ns", "step_counters")}
        return cls(steps=first.steps, rows=first.rows, state_bytes=first.state_bytes, **stacked, **summed,
                   step_latency_ns=np.stack([r.step_latency_ns for r in runs]),
                   core_time_ns=None if first.core_time_ns is None else np.stack([r.core_time_ns for r in runs]))

    def total(self, kind: str) -> int:
        """Sum of one event kind over all rows (cores and host)."""
        return int(self.counters[:, EVENTS.index(kind)].sum())

    def totals(self) -> dict:
        return {k: int(c) for k, c in zip(EVENTS, self.counters.sum(axis=0))}


class Simulator:
    """A network compiled onto a chip, with its state. `run` continues from where the last
    run stopped; `reset` goes back to the initial state.

    >>> sim = Simulator(net, chip=loihi1())
    >>> res = sim.run(100, inputs={"in": spikes}, record=["spikes", "v"])
    """

    def __init__(self, net: Network, chip: ChipSpec | None = None, placement: Placement | None = None,
                 table: SynapseTable | None = None, plasticity: Plasticity | None = None):
        self.net = net
        self.chip = chip or loihi1()
        self.plastic: PlasticProgram | None = None
        if plasticity is not None:  # every projection learns: its zero weights are synapses too
            placement = placement or Placement.sequential(net, self.chip)
            table = synapse_table(net, self.chip, plastic=True)
        self.program: Program = compile_network(net, self.chip, placement, table)
        if plasticity is not None:
            self.plastic = compile_plasticity(net, self.chip, placement, table, self.program, plasticity)
            self.tag = np.zeros(len(self.program.syn_w))
            self.steps_learned = np.zeros(1, np.int64)
        self.reset()

    def reset(self) -> None:
        p = self.program
        self.t = 0
        self.u = p.u0.copy()
        self.v = p.v0.copy()
        self.dend = np.zeros((p.max_delay + 2, p.n_neurons), dtype=p.u0.dtype)
        self.scratch = np.zeros((p.max_delay + 1, len(p.sc_comp)), dtype=np.int64)

    _STATE = ("u", "v", "dend", "scratch")

    def _fixed32(self, g_val=None) -> bool:
        """Whether `run` may take the int32 fast path (`kernels.run_fixed32`): fixed point, LIF
        neurons only, a state and parameters that fit it, and no dendritic slot that could leave
        int32 with these graded payloads `g_val` (checked at every run; the result is exact)."""
        p = self.program
        if not p.fixed_point or self.u.dtype.kind != "i" or np.any(p.kernel_runs[:, 2] != kernels.LIF):
            return False
        if p.n_neurons == 0 or p.run_ptr[0] != 0 or p.run_ptr[-1] != p.n_neurons:   # updates walk the core runs
            return False
        if not kernels.fixed32_fits(self.u, self.v, p.du_fac, p.dv_fac, p.bias, p.sub):
            return False
        if getattr(self, "_bound_key", None) != self._synapse_key():
            self._bound_key = self._synapse_key()
            self._bound = kernels.dend_bound(p.n_neurons, p.out_ptr, p.out_axon, p.in_graded, p.syn_ptr, p.syn_tgt,
                                             p.syn_w, p.sc_ptr, p.sc_row, p.sc_w, p.sc_comp, p.sc_shift)
        spk, grd, const = self._bound
        g_max = int(np.abs(g_val).max()) if g_val is not None and len(g_val) else 0
        pending = int(np.abs(self.dend).max()) if self.dend.size else 0
        if g_max and g_max > kernels.I32_MAX // max(1, int(grd.max())):
            return False
        return int((spk + grd * g_max + const).max()) + pending <= kernels.I32_MAX

    @contextmanager
    def _payload_check(self):
        """A graded-spike neuron's payload that the chip cannot carry (`kernels.graded_senders`)
        as a FitError naming the population, the neuron, the step, the value and the limit."""
        try:
            yield
        except OverflowError as e:
            if len(e.args) != 3:
                raise
            t, i, payload = (int(a) for a in e.args)
            p = self.program
            name = next(k for k, sl in p.pop_slices.items() if sl.start <= i < sl.stop)
            raise FitError(f"population {name!r}: neuron {i - p.pop_slices[name].start} sends a graded payload of "
                           f"{payload} at step {t}, outside the {p.payload_bits}-bit payload of {self.chip.name} "
                           f"([{-p.payload_max - 1}, {p.payload_max}]); Lava would send the int32 on, the chip "
                           "cannot: scale the weights into this population down") from None

    def _synapse_key(self) -> tuple:
        """Identifies the synapse arrays and their weights' values: the tables derived from them
        are rebuilt when learning (or anything else) has changed a weight."""
        p = self.program
        arrays = (p.out_ptr, p.out_axon, p.syn_ptr, p.syn_tgt, p.syn_w, p.syn_dly, p.ax_dly, p.sc_ptr, p.sc_w)
        return tuple(id(a) for a in arrays) + (zlib.crc32(np.ascontiguousarray(p.syn_w)),
                                               zlib.crc32(np.ascontiguousarray(p.sc_w)))

    def _kernel(self, batch: bool, in_ptr, in_idx, g_ptr, g_idx, g_val) -> tuple:
        """(kernel, its program arguments): the int32 fast path where it is exact (`_fixed32`),
        else the generic kernels; `batch`: the one over samples (`run_samples`), else `run`'s."""
        p = self.program
        inputs = (in_ptr, in_idx, p.n_neurons, g_ptr, g_idx, g_val, p.host_side)
        routes = (p.out_ptr, p.out_axon, p.out_ew, p.out_ns, p.out_chip, p.sender_row, p.axon_row)
        if self._fixed32(g_val):
            snd, ept = self._route_tables()
            return (kernels.batch_fixed32 if batch else kernels.run_fixed32), (
                p.run_ptr, p.run_row, p.du_fac, p.dv_fac, p.bias, p.vth, p.sub,
                *inputs, p.nrn_ew, p.nrn_ns, p.nrn_chip, *routes,
                p.syn_ptr, p.syn_tgt, p.syn_w, p.syn_dly, p.sc_ptr, p.sc_row, p.sc_w, p.sc_dly,
                p.sc_comp, p.sc_shift, snd, ept, p.latency_ns, p.barrier_ns)
        return (kernels.batch_generic if batch else kernels.run), (
            p.run_ptr, p.run_row, p.kernel_runs, p.du_fac, p.dv_fac, p.bias, p.vth, p.sub,
            p.ramp_start, p.ramp_steps, p.ramp_slope,
            *inputs, p.payload_max, p.nrn_ew, p.nrn_ns, p.nrn_chip, *routes,
            p.syn_ptr, p.syn_tgt, p.syn_w, p.syn_dly, p.ax_dly, p.ax_t0, p.sc_ptr, p.sc_row, p.sc_w,
            p.sc_dly, p.sc_comp, p.sc_shift, p.latency_ns, p.barrier_ns)

    def _route_tables(self) -> tuple:
        """Per-packet and per-sender sums for the walk of the synapse memory (`kernels.route_tables`),
        int32 where everything fits; rebuilt when a weight has changed (`_synapse_key`)."""
        if getattr(self, "_routes_key", None) != self._synapse_key():
            self._routes_key = self._synapse_key()
            p = self.program
            lim = kernels.I32_MAX
            small = max(len(p.syn_tgt), len(p.sc_w), len(p.out_ptr)) < lim and all(
                len(a) == 0 or np.abs(a).max() <= lim for a in (p.axon_row, p.ax_t0))
            ept = np.zeros((len(p.out_axon), 8), np.int32 if small else np.int64)
            snd = kernels.route_tables(p.out_ptr, p.out_axon, p.out_ew, p.out_ns, p.out_chip, p.syn_ptr, p.sc_ptr,
                                       p.axon_row, p.ax_dly, p.ax_t0, ept)
            self._routes = snd, ept
        return self._routes

    def fingerprint(self) -> str:
        """A hash of the compiled program: a checkpoint only loads into the same network on
        the same chip and placement."""
        h = hashlib.sha256()
        for name in sorted(vars(self.program)):
            value = getattr(self.program, name)
            if isinstance(value, np.ndarray):
                h.update(name.encode() + value.tobytes())
        return h.hexdigest()

    def save(self, path) -> None:
        """Checkpoint the state (step, u, v, dendritic ring, pending scratch) to an .npz; a run
        resumed with `load` continues bit-identically. The file is written to a temporary file
        of its own beside `path` and moved into place atomically: a checkpoint is never half
        written, and two saves to one path at once do not collide (the last one wins)."""
        save_npz_atomic(path, NetworkError, t=self.t, fingerprint=self.fingerprint(),
                        **{k: getattr(self, k) for k in self._STATE})

    def load(self, path) -> None:
        """Restore a checkpoint written by `save` for this same compiled network. A file that
        is not such a checkpoint (missing, empty, truncated, corrupted, of another network,
        with a missing key, or an array of the wrong shape or dtype or with NaN/inf) raises
        `NetworkError` naming the file and what is wrong, and leaves the state untouched."""
        where = f"{path}: not a neurochip simulator checkpoint"
        try:
            with open(path, "rb") as f:
                head = f.read(6)
                if not head.startswith(b"PK") and head != b"\x93NUMPY":
                    what = "it is empty" if not head else f"it starts with {head!r}, not as an .npz file does"
                    raise NetworkError(f"{where} ({what}); give the file Simulator.save wrote")
                f.seek(0)
                d = np.load(f, allow_pickle=False)
                if not isinstance(d, np.lib.npyio.NpzFile):
                    raise NetworkError(f"{where} (it holds one bare array, not the .npz that Simulator.save writes)")
                with d:
                    missing = [k for k in ("t", "fingerprint", *self._STATE) if k not in d.files]
                    if missing:
                        raise NetworkError(f"{where}: missing key(s) {missing} (it has {d.files}; "
                                           "Simulator.save writes t, fingerprint, " + ", ".join(self._STATE) + ")")
                    arrays = {k: d[k] for k in ("t", "fingerprint", *self._STATE)}
        except NetworkError:
            raise
        except FileNotFoundError:
            raise NetworkError(f"{path}: no such checkpoint file") from None
        except IsADirectoryError:
            raise NetworkError(f"{path}: is a folder, not a checkpoint file") from None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as e:
            what = f"{type(e).__name__}: {e}"
            raise NetworkError(f"{where} ({what}); it may be truncated or damaged: save it again") from None
        t, fp = arrays.pop("t"), arrays.pop("fingerprint")
        if t.shape != () or t.dtype.kind not in "iu" or int(t) < 0:
            raise NetworkError(f"{where}: 't' must be a non-negative integer step, got {t!r}")
        if fp.shape != () or fp.dtype.kind != "U":
            raise NetworkError(f"{where}: 'fingerprint' must be a text hash, got {fp.dtype} of shape {fp.shape}")
        if str(fp) != self.fingerprint():
            raise NetworkError(f"{path}: the checkpoint is of another network, chip or placement "
                               "(its program fingerprint differs); build the Simulator as when it was saved")
        for k, value in arrays.items():
            want = getattr(self, k)
            if value.shape != want.shape or value.dtype != want.dtype:
                raise NetworkError(f"{path}: array {k!r} is {value.dtype} of shape {value.shape}, but this network's "
                                   f"is {want.dtype} of shape {want.shape}; the checkpoint is damaged: save it again")
            if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
                raise NetworkError(f"{path}: array {k!r} holds {int(np.sum(~np.isfinite(value)))} NaN or inf "
                                   "value(s); the checkpoint is damaged: save it again")
        for k, value in arrays.items():
            getattr(self, k)[...] = value
        self.t = int(t)

    def _inputs(self, steps: int, inputs) -> tuple:
        """(in_ptr, in_idx) of the spike sources' spikes and (g_ptr, g_idx, g_val) of the graded
        sources' non-zero values, per step (CSR over steps). Spike sources take 0/1 or bool;
        graded sources (`GradedSource`) take finite real values, sent as they are in float
        networks and as payloads `GradedSource.payload` (warned about when clipped) in fixed point."""
        p = self.program
        if inputs is None:
            inputs = {}
        elif not isinstance(inputs, dict):
            if len(p.src_slices) != 1:
                raise NetworkError(f"inputs: give a dict {{source name: (steps, n) array}}; sources are {list(p.src_slices)}")
            inputs = {next(iter(p.src_slices)): inputs}
        unknown = set(inputs) - set(p.src_slices)
        if unknown:
            raise NetworkError(f"inputs: {sorted(unknown)} are not spike sources; sources are {list(p.src_slices)}")
        dense = np.zeros((steps, p.n_inputs), dtype=bool)
        values = np.zeros((steps, p.n_inputs), dtype=p.u0.dtype)
        for name, arr in inputs.items():
            sl = p.src_slices[name]
            pop = self.net.populations[name]
            a = np.asarray(arr)
            if a.shape != (steps, sl.stop - sl.start):
                raise NetworkError(f"inputs[{name!r}] has shape {a.shape}, expected (steps, n) = "
                                   f"({steps}, {sl.stop - sl.start})")
            if a.dtype.kind not in "biuf":
                raise NetworkError(f"inputs[{name!r}] must hold real numbers, got dtype {a.dtype}")
            if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
                where = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
                raise NetworkError(f"inputs[{name!r}] contains NaN or inf (the first, {a[where]}, at step, "
                                   f"channel {where})")
            if not isinstance(pop, GradedSource):
                if not np.all((a == 0) | (a == 1)):
                    where = tuple(int(i) for i in np.argwhere((a != 0) & (a != 1))[0])
                    raise NetworkError(f"inputs[{name!r}] must hold spikes (0/1 or bool), found {a[where]} at step, "
                                       f"channel {where}; analog input needs a GradedSource")
                dense[:, sl] = a.astype(bool)
            elif p.fixed_point:
                q, clipped, top = pop.payload(a, p.payload_bits)
                if clipped:
                    warnings.warn(f"inputs[{name!r}]: {clipped} value(s) (largest |x| {top:g}) do not fit the "
                                  f"{p.payload_bits}-bit payload at scale {pop.scale:g} and were clipped to "
                                  f"+-{2 ** (p.payload_bits - 1) * pop.scale:g}", PayloadClipWarning, stacklevel=3)
                values[:, sl] = q
            else:
                values[:, sl] = a
        t_idx, ch = np.nonzero(dense)
        g_t, g_ch = np.nonzero(values)
        return (_step_ptr(t_idx, steps), ch.astype(np.int64), _step_ptr(g_t, steps), g_ch.astype(np.int64),
                values[g_t, g_ch])

    def run(self, steps: int, inputs=None, record=("spikes",), populations=None) -> RunResult:
        """Run `steps` steps. `record` is any of 'spikes', 'u', 'v', 'core_time', 'step_counters';
        `populations` limits spike/u/v recording to those names (default: all)."""
        if not isinstance(steps, (int, np.integer)) or steps < 0:
            raise NetworkError(f"steps must be a non-negative integer, got {steps!r}")
        bad = set(record) - set(RECORDABLE)
        if bad:
            raise NetworkError(f"record: unknown {sorted(bad)}; choose from {RECORDABLE}")
        p = self.program
        pops, rec_col, col = self._record_columns(populations)
        in_ptr, in_idx, g_ptr, g_idx, g_val = self._inputs(steps, inputs)
        rows = lambda what: steps if what in record else 0  # noqa: E731
        rec_spk = np.zeros((rows("spikes"), col), dtype=np.bool_)
        rec_u = np.zeros((rows("u"), col), dtype=self.u.dtype)
        rec_v = np.zeros((rows("v"), col), dtype=self.v.dtype)
        n_cores = len(p.core_ids)
        rec_core_time = np.zeros((rows("core_time"), n_cores))
        counters = np.zeros((p.n_rows, N_EVENTS), dtype=np.int64)
        rec_counts = np.zeros((rows("step_counters"), p.n_rows, N_EVENTS), dtype=np.int64)
        core_busy = np.zeros(n_cores)
        step_lat = np.zeros(steps)
        spike_count = np.zeros(p.n_neurons, dtype=np.int64)
        sc_dirty = np.zeros((max(1, self.scratch.size), 2), dtype=np.int64)  # touched scratch cells

        kernel, program = self._kernel(False, in_ptr, in_idx, g_ptr, g_idx, g_val)
        with self._payload_check():
            kernel(steps, self.t, self.u, self.v, self.dend, self.scratch, sc_dirty, *program,
                   counters, core_busy, step_lat, rec_col, rec_spk, rec_u, rec_v, rec_core_time, rec_counts, spike_count)
        self.t += steps

        res = RunResult(steps=steps, counters=counters,
                        rows=[f"core {c}" for c in p.core_ids] + ["host"],
                        step_latency_ns=step_lat, core_busy_ns=core_busy,
                        core_time_ns=rec_core_time if "core_time" in record else None,
                        step_counters=rec_counts if "step_counters" in record else None,
                        state_bytes=p.state_bytes)
        for name, sl in p.pop_slices.items():
            res.spike_counts[name] = spike_count[sl]
            if name in pops:
                cols = rec_col[sl]
                if "spikes" in record:
                    res.spikes[name] = rec_spk[:, cols]
                if "u" in record:
                    res.u[name] = rec_u[:, cols]
                if "v" in record:
                    res.v[name] = rec_v[:, cols]
        return res

    def run_samples(self, samples, steps: int | None = None, record=("spikes",), populations=None,
                    progress: str | None = None, workers: int | None = None) -> RunResult:
        """Run each sample from the initial state and return `RunResult.stacked` of the runs
        (with `sample_counters`, each sample's counters). `samples` holds what `run` takes as
        inputs, one per sample (an array or a dict of arrays); each is zero-padded to `steps`
        steps (default: the longest). `progress` is the label of a progress bar (none without it).

        `workers` threads run the samples in compiled code, each on a state of its own, over
        disjoint ranges of samples (the kernels release the GIL); every result is identical to
        running the samples one at a time (tests/test_throughput.py). Default: the environment
        variable NEUROCHIP_WORKERS, else every core this process may use. The simulator is left
        as after the last sample, as one `reset` and `run` per sample would leave it."""
        samples = [s if isinstance(s, dict) else {None: s} for s in samples]
        if not samples:
            raise NetworkError("run_samples: no samples given")
        if workers is None:
            usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
            workers = int(os.environ.get("NEUROCHIP_WORKERS", "0") or 0) or usable
        if not isinstance(workers, (int, np.integer)) or workers < 1:
            raise NetworkError(f"run_samples: workers must be a positive integer, got {workers!r}")
        bad = set(record) - set(RECORDABLE)
        if bad:
            raise NetworkError(f"record: unknown {sorted(bad)}; choose from {RECORDABLE}")
        steps = max(len(a) for s in samples for a in s.values()) if steps is None else steps
        if not isinstance(steps, (int, np.integer)) or steps < 0:
            raise NetworkError(f"steps must be a non-negative integer, got {steps!r}")
        p = self.program
        pops, rec_col, col = self._record_columns(populations)
        S = len(samples)
        in_ptr = np.zeros((S, steps + 1), np.int64)
        g_ptr = np.zeros((S, steps + 1), np.int64)
        in_idx, g_idx, g_val = [], [], []
        n_in = n_g = 0
        for i, sample in enumerate(samples):
            if max(len(a) for a in sample.values()) > steps:
                raise NetworkError(f"run_samples: sample {i} is longer than steps = {steps}")
            padded = {k: np.concatenate([a, np.zeros((steps - len(a),) + np.shape(a)[1:], np.asarray(a).dtype)])
                      for k, a in sample.items()}
            ip, ii, gp, gi, gv = self._inputs(steps, padded.pop(None) if None in padded else padded)
            in_ptr[i], g_ptr[i] = ip + n_in, gp + n_g
            in_idx.append(ii)
            g_idx.append(gi)
            g_val.append(gv)
            n_in += len(ii)
            n_g += len(gi)
        in_idx, g_idx = np.concatenate(in_idx), np.concatenate(g_idx)
        g_val = np.concatenate(g_val).astype(p.u0.dtype)

        rows = lambda what: steps if what in record else 0  # noqa: E731
        n_cores = len(p.core_ids)
        rec_spk = np.zeros((S, rows("spikes"), col), dtype=np.bool_)
        rec_u = np.zeros((S, rows("u"), col), dtype=self.u.dtype)
        rec_v = np.zeros((S, rows("v"), col), dtype=self.v.dtype)
        rec_core_time = np.zeros((S, rows("core_time"), n_cores))
        counters = np.zeros((S, p.n_rows, N_EVENTS), dtype=np.int64)
        rec_counts = np.zeros((S, rows("step_counters"), p.n_rows, N_EVENTS), dtype=np.int64)
        core_busy = np.zeros((S, n_cores))
        step_lat = np.zeros((S, steps))
        spike_count = np.zeros((S, p.n_neurons), dtype=np.int64)
        outputs = (counters, core_busy, step_lat, rec_col, rec_spk, rec_u, rec_v, rec_core_time, rec_counts,
                   spike_count)

        self.reset()
        kernel, program = self._kernel(True, in_ptr, in_idx, g_ptr, g_idx, g_val)

        def chunk(lo: int, hi: int) -> tuple:
            """Samples lo..hi-1 on a state of their own; returns that state after sample hi-1."""
            state = (self.u.copy(), self.v.copy(), self.dend.copy(), self.scratch.copy(),
                     np.zeros((max(1, self.scratch.size), 2), dtype=np.int64))
            with self._payload_check():
                kernel(lo, hi, steps, p.u0, p.v0, *state, *program, *outputs)
            return state

        workers = min(int(workers), S)
        size = max(1, -(-S // (4 * workers))) if workers > 1 else S   # a few chunks a worker: even loads
        bounds = [(lo, min(S, lo + size)) for lo in range(0, S, size)]
        with tqdm(total=S, desc=progress, unit="sample", disable=progress is None) as bar:
            if workers == 1:
                for lo, hi in bounds:
                    last = chunk(lo, hi)
                    bar.update(hi - lo)
            else:
                with ThreadPoolExecutor(workers) as pool:
                    futures = [pool.submit(chunk, lo, hi) for lo, hi in bounds]
                    for (lo, hi), f in zip(bounds, futures):
                        last = f.result()
                        bar.update(hi - lo)
        for name, value in zip(("u", "v", "dend", "scratch"), last):
            getattr(self, name)[...] = value
        self.t = steps

        total = lambda a: sum(a[k] for k in range(S))  # noqa: E731  (in sample order, as RunResult.stacked)
        res = RunResult(steps=steps, counters=total(counters), rows=[f"core {c}" for c in p.core_ids] + ["host"],
                        step_latency_ns=step_lat, core_busy_ns=total(core_busy),
                        core_time_ns=rec_core_time if "core_time" in record else None,
                        step_counters=total(rec_counts) if "step_counters" in record else None,
                        state_bytes=p.state_bytes, sample_counters=counters)
        for name, sl in p.pop_slices.items():
            res.spike_counts[name] = spike_count[:, sl]
            if name in pops:
                cols = rec_col[sl]
                if "spikes" in record:
                    res.spikes[name] = rec_spk[:, :, cols]
                if "u" in record:
                    res.u[name] = rec_u[:, :, cols]
                if "v" in record:
                    res.v[name] = rec_v[:, :, cols]
        return res

    def _record_columns(self, populations) -> tuple:
        """(populations recorded, column of each neuron or -1, number of columns)."""
        p = self.program
        pops = list(p.pop_slices) if populations is None else list(populations)
        for name in pops:
            if name not in p.pop_slices:
                raise NetworkError(f"populations: {name!r} is not a neuron population; have {list(p.pop_slices)}")
        rec_col = np.full(p.n_neurons, -1, dtype=np.int64)
        col = 0
        for name in pops:
            sl = p.pop_slices[name]
            rec_col[sl] = np.arange(col, col + sl.stop - sl.start)
            col += sl.stop - sl.start
        return pops, rec_col, col


@dataclass
class LearnResult:
    """What `Simulator.learn` returns for a batch of samples.

    losses        (samples,) each sample's loss
    infer_counters (rows, len(EVENTS)) the forward pass of the learning steps
    learn_counters (rows, len(ALL_EVENTS)) the learning phases (errors' packets and hops too)
    sample_ns     (samples, 3): forward steps, learning phases, whole steps (ns); latencies
                  the profile does not publish count 0 and are listed in `unknown_latency`
    """

    losses: np.ndarray
    infer_counters: np.ndarray
    learn_counters: np.ndarray
    sample_ns: np.ndarray
    unknown_latency: list


def learn(sim: Simulator, samples, labels, profile: Profile | None = None) -> LearnResult:
    """Learn `samples` ((T, n) spike arrays of the network's source, one T) with `labels` on
    the plastic cores of `sim` (built with `plasticity`), one after the other."""
    p, lp = sim.program, sim.plastic
    if lp is None:
        raise NetworkError("learn: the simulator was built without plasticity (Simulator(..., plasticity=...))")
    x = np.asarray(samples)
    n_in = p.n_inputs
    if x.ndim != 3 or x.shape[2] != n_in or len(x) != len(labels) or len(x) == 0:
        raise NetworkError(f"learn: samples must be (samples, T, {n_in}) with one label each, got {x.shape} and "
                           f"{len(labels)} labels")
    if not np.all((x == 0) | (x == 1)):
        raise NetworkError("learn: samples must hold spikes (0/1)")
    y = np.asarray(labels, np.int64)
    C = lp.readout[1] - lp.readout[0]
    if y.min() < 0 or y.max() >= C:
        raise NetworkError(f"learn: labels must lie in [0, {C}), got [{y.min()}, {y.max()}]")
    T = x.shape[1]
    flat = x.reshape(-1, n_in).astype(bool)
    t_idx, ch = np.nonzero(flat)
    in_ptr = np.searchsorted(t_idx, np.arange(len(flat) + 1)).astype(np.int64)
    profile = profile or sim.chip.profile
    lat = profile.vector("latency_ns", all_events=True)
    unknown = [k for k, value in zip(ALL_EVENTS, lat) if np.isnan(value)]
    lat = np.nan_to_num(lat)
    infer = np.zeros((p.n_rows, N_EVENTS), np.int64)
    learned = np.zeros((p.n_rows, len(ALL_EVENTS)), np.int64)
    losses, sample_ns = np.zeros(len(y)), np.zeros((len(y), 3))
    sc_dirty = np.zeros((max(1, sim.scratch.size), 2), dtype=np.int64)
    chip_args = (T, y, in_ptr, ch.astype(np.int64), sim.u, sim.v, sim.dend, sim.scratch, sc_dirty, p.u0, p.v0,
                 p.nrn_row, p.run_ptr, p.run_row, p.kernel_runs, p.du_fac, p.dv_fac, p.bias, p.vth, p.sub,
                 p.ramp_start, p.ramp_steps, p.ramp_slope, p.out_ptr, p.out_axon, p.out_ew, p.out_ns, p.out_chip, p.sender_row,
                 p.axon_row, p.syn_ptr, p.syn_tgt, p.syn_w, p.syn_dly, p.ax_dly, p.ax_t0, p.sc_ptr, p.sc_row, p.sc_w,
                 p.sc_dly, p.sc_comp, p.sc_shift, lat[:N_EVENTS], p.barrier_ns)
    feedback = (lp.fb_out_ptr, lp.fb_ew, lp.fb_ns, lp.fb_chip, lp.fb_row, lp.fb_syn_ptr, lp.fb_tgt, lp.fb_t0, lp.fb_w,
                lp.fb_syn_row)
    state = (lat, sim.tag, sim.steps_learned, infer, learned, losses, sample_ns)
    if lp.rule in EVENT_RULES:
        _, c_p, c_w = lp.event_constants(T)
        plastic_kernels.event_samples(
            *chip_args, int(lp.rule == STD_ED), int(lp.fixed), lp.depth_of, lp.L, lp.readout[0], lp.readout[1],
            lp.gamma, lp.seed, lp.syn_id, lp.mirror_of, lp.seg, lp.ax_sender, *feedback,
            lp.lam, lp.impulse, lp.trace_max, lp.error_scale, lp.error_max, lp.tag_max, lp.c_d, c_p, c_w, lp.lsb,
            lp.w_min, lp.w_max, lp.wexp, lp.lut, lp.lut_shift, lp.alpha, lp.theta, lp.s_min, lp.readout_scale,
            lp.kappa_theta, lp.rate, lp.thr_min, lp.thr_max, lp.sub_follows, *state)
    elif lp.rule == BPTT_SG:
        plastic_kernels.bptt_samples(
            *chip_args, int(lp.fixed), lp.depth_of, lp.L, lp.readout[0], lp.readout[1], lp.theta, lp.alpha, lp.gamma,
            lp.seed, lp.syn_id, lp.mirror_of, lp.ax_sender, *feedback, lp.lam, lp.impulse, lp.error_scale,
            lp.error_max, lp.tag_max, lp.c_u, lp.s_scale, int(lp.reset_full), lp.c_w, lp.lsb, lp.w_min, lp.w_max,
            lp.wexp, lp.lut, lp.lut_shift, lp.step_state_bits, *state)
    else:
        plastic_kernels.learn_samples(
            *chip_args, lp.rule, int(lp.fixed), lp.depth_of, lp.L, lp.H, lp.readout[0], lp.readout[1], lp.theta,
            lp.alpha, lp.gamma, lp.seed, lp.syn_id, lp.mirror_of, lp.seg, lp.ax_sender, *feedback,
            lp.lam, lp.impulse, lp.trace_max, lp.error_scale, lp.error_max, lp.tag_max, lp.c_e, lp.c_w, lp.lsb,
            lp.w_min, lp.w_max, lp.wexp, lp.lut, lp.lut_shift, *state)
    sim.reset()
    return LearnResult(losses, infer, learned, sample_ns, unknown)


def weights(sim: Simulator) -> dict:
    """The weights of every projection of a plastic simulator, read from the cores' synapse
    memory: {projection name: (n_post, n_pre)}, mantissas in fixed point; a projection given
    as a sparse matrix (e.g. an unrolled convolution) comes back as a CSR matrix of the same
    structure (its stored entries are its synapses)."""
    if sim.plastic is None:
        raise NetworkError("weights: the simulator was built without plasticity")
    flat = np.zeros(len(sim.program.syn_w))
    flat[sim.plastic.syn_id] = sim.program.syn_w / (2.0**sim.plastic.wexp if sim.plastic.fixed else 1.0)
    out, start = {}, 0
    for proj in sim.net.projections:
        if sp.issparse(proj.weights):   # synapses in (post, pre) order, as `Projection.synapses` lists them
            coo = proj.weights.tocoo()
            order = np.lexsort((coo.col, coo.row))
            n = len(order)
            out[proj.name] = sp.csr_matrix((flat[start:start + n], (coo.row[order], coo.col[order])), proj.shape)
        else:
            n = proj.shape[0] * proj.shape[1]
            out[proj.name] = flat[start:start + n].reshape(proj.shape)
        start += n
    return out
