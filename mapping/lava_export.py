"""Build and run a neurochip network as Lava processes (lava-nc 0.10), imported lazily.

SpikeSource -> lava.proc.io.source.RingBuffer (column t is sent at Lava step t + 1),
LoihiLIF / FloatLIF -> lava.proc.lif.process.LIF (LIFReset with `reset_interval`),
Projection -> Dense (DelayDense when it has delays), or Sparse (DelaySparse) when its
weights are scipy.sparse. neurochip's step t is Lava's time step t + 1, and both add one
step per projection, so rasters compare step for step. Subtractive reset has no Lava LIF
model and is refused.

Sparse connectivity (`sparse="auto"`, the default: scipy.sparse weights -> Sparse). lava-nc
0.10's `PySparseModelBitAcc` / `PyDelaySparseModelBitAcc` (tags "bit_accurate_loihi",
"fixed_pt"; lava/proc/sparse/models.py) compute what the Dense models compute: the sign
mode from the whole matrix (np.min/np.max of a csr_matrix count its implicit zeros, as
neurochip's `sign_mode` does), `clip_weights(..., num_bits=8)`, `truncate_weights` (the same
arithmetic shift on the magnitude; zeros eliminated), the sum of the spiking columns, then
`<< weight_exp` / `>> -weight_exp` (floor) on the sum, sent one step later (DelaySparse: one
step plus the synapse's delay, 0..63). So Sparse is exact and no Dense fallback is needed;
`sparse=False` densifies anyway (as before), `sparse=True` sends dense matrices to Sparse too.
Delays of a sparse projection are given to DelaySparse on the weights' sparsity pattern.

Per-sample resets (`reset_interval=k, reset_offset=o`): neurochip's semantics are "run each
sample from `Simulator.reset()`": samples start at the steps t with t % k == o (and at
t = 0). Lava's `LIFReset` (`PyLifResetModelBitAcc` / `PyLifResetModelFloat`) sets u and v
to 0 at the start of each Lava time step T with T % k == offset (T counts from 1), *before*
that step's input is integrated, so the reset step still integrates its input as a fresh
neuron does; with Lava's T = t + 1 the export passes offset = (o + 1) % k. That equals
neurochip's reset exactly when

1. every LIF has u0 = v0 = 0 (LIFReset resets to 0, `Simulator.reset()` to u0, v0;
   refused otherwise), and
2. no spike crosses a sample boundary: LIFReset resets only the neurons, not the synaptic
   buffers of Dense/Sparse (one step) and DelayDense/DelaySparse (1 + delay steps), so a
   spike of `pre` at step t with t + 1 + delay >= the next sample start would land in the
   next sample, where a freshly reset neurochip has nothing. Pad each sample with silent
   steps (`stream_samples(..., pad=...)`): for a feed-forward network whose neurons fall
   silent without input (no bias, no lasting current, e.g. du = 4095) `min_padding(net)`
   steps suffice (the longest source-to-population path, 1 + max delay per projection).
   Input spikes that would cross a boundary are refused before the run; spikes of neurons
   that do (bias, slow current decay, recurrence) are found in the Lava raster after the
   run, warned about (`SampleLeakWarning`) and listed in `out["leaks"]`: the rasters agree up
   to the first such step and may differ after it.
"""
from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp

from neurochip.model.errors import NetworkError
from neurochip.model.network import Network
from neurochip.model.neurons import FloatLIF, LoihiLIF, SpikeSource
import neurochip as nc


class SampleLeakWarning(UserWarning):
    """A spike crossed a per-sample reset boundary; the rasters may differ after it."""


def _per_pre_max_delay(proj) -> np.ndarray:
    """Largest delay of each presynaptic neuron's synapses (-1: it has none)."""
    n_pre = proj.shape[1]
    w = proj.weights
    if sp.issparse(w):
        coo = w.tocoo()
        keep = coo.data != 0
        post, pre = coo.row[keep], coo.col[keep]
    else:
        post, pre = np.nonzero(np.asarray(w))
    d = proj.delay
    dly = d[post, pre] if d.ndim else np.full(pre.size, int(d))
    out = np.full(n_pre, -1, dtype=np.int64)
    np.maximum.at(out, pre, dly)
    return out


def min_padding(net: Network) -> int | None:
    """Silent steps after each sample's input for the input's direct consequences to
    arrive within the sample: the longest path from a source through the projections,
    counting 1 + max delay per projection. None if the network is recurrent (no bound)."""
    fed = {p.post for p in net.projections}
    longest = {k: 0 for k in net.populations if k not in fed}
    pending = list(net.projections)
    for _ in range(len(net.projections) + 1):
        rest = []
        for p in pending:
            if p.pre in longest and all(q.pre in longest for q in net.projections if q.post == p.pre):
                longest[p.post] = max(longest.get(p.post, 0), longest[p.pre] + 1 + int(np.max(p.delay)))
            else:
                rest.append(p)
        if not rest:
            return max([0] + list(longest.values()))
        if len(rest) == len(pending):
            return None
        pending = rest
    return None


def stream_samples(samples, pad: int):
    """Concatenate samples into one stream, each followed by `pad` silent steps.

    `samples` is an array (n_samples, T, channels) or a dict {source: such array}; returns
    (stream, k) with stream shaped (n_samples * k, channels) (or a dict of those) and
    k = T + pad, the `reset_interval` to export with."""
    if isinstance(samples, dict):
        out = {name: stream_samples(x, pad) for name, x in samples.items()}
        ks = {k for _, k in out.values()}
        if len(ks) != 1:
            raise NetworkError(f"stream_samples: the sources' samples differ in length: {sorted(ks)}")
        return {name: s for name, (s, _) in out.items()}, ks.pop()
    x = np.asarray(samples)
    if x.ndim != 3:
        raise NetworkError(f"stream_samples: samples must be (n_samples, steps, channels), got shape {x.shape}")
    if pad < 0:
        raise NetworkError(f"stream_samples: pad must be >= 0, got {pad}")
    n, T, c = x.shape
    out = np.zeros((n, T + pad, c), dtype=x.dtype)
    out[:, :T] = x
    return out.reshape(n * (T + pad), c), T + pad


def _segments(steps: int, k: int, offset: int):
    """(start, stop) of the samples of a run with resets at t % k == offset and at t = 0."""
    starts = sorted({0} | set(range(offset % k, steps, k)))
    return [(a, b) for a, b in zip(starts, starts[1:] + [steps]) if a < b]


def run_per_sample(net: Network, inputs: dict | None, steps: int, reset_interval: int, reset_offset: int = 0,
                   record=("spikes", "u", "v"), chip=None) -> dict:
    """neurochip's side of a per-sample run: every sample (steps [o + i k, o + (i+1) k)) runs
    from `Simulator.reset()`; returns {"spikes"|"u"|"v": {pop: (steps, n)}} concatenated."""

    sim = nc.Simulator(net, chip)
    inputs = inputs or {}
    out = {var: {name: [] for name in net.neurons()} for var in record}
    for a, b in _segments(steps, reset_interval, reset_offset):
        sim.reset()
        res = sim.run(b - a, inputs={k: np.asarray(v)[a:b] for k, v in inputs.items()}, record=list(record))
        for var in record:
            for name in net.neurons():
                out[var][name].append(getattr(res, var)[name])
    return {var: {name: np.concatenate(parts) for name, parts in d.items()} for var, d in out.items()}


def import_lava() -> None:
    """Import lava-nc's runtime. It sets multiprocessing's start method to 'fork' on import
    and fails if something fixed the context first (tqdm's lock does): undo that first."""
    import multiprocessing as mp
    import sys

    if "lava.magma.runtime.message_infrastructure.multiprocessing" not in sys.modules and \
            mp.get_start_method(allow_none=True) is not None:
        mp.set_start_method(None, force=True)
    import lava.magma.runtime.message_infrastructure.multiprocessing  # noqa: F401


class LavaNetwork:
    """The Lava processes of one network; `run(steps)` runs and always stops Lava."""

    def __init__(self, net: Network, inputs: dict | None, steps: int, record=("spikes", "u", "v"),
                 sparse: bool | str = "auto", reset_interval: int | None = None, reset_offset: int = 0):
        import_lava()
        from lava.proc.dense.process import DelayDense, Dense
        from lava.proc.io.source import RingBuffer
        from lava.proc.lif.process import LIF, LIFReset
        from lava.proc.monitor.process import Monitor
        from lava.proc.sparse.process import DelaySparse, Sparse

        if sparse not in ("auto", True, False):
            raise NetworkError(f"sparse must be 'auto', True or False, got {sparse!r}")
        if reset_interval is not None:
            if not isinstance(reset_interval, (int, np.integer)) or reset_interval < 1:
                raise NetworkError(f"reset_interval must be a positive integer (steps per sample), got {reset_interval!r}")
            if not isinstance(reset_offset, (int, np.integer)) or not 0 <= reset_offset < reset_interval:
                raise NetworkError(f"reset_offset must be an integer in [0, reset_interval = {reset_interval}), "
                                   f"got {reset_offset!r}")
        self.net, self.steps, self.record = net, steps, tuple(record)
        self.reset_interval, self.reset_offset = reset_interval, int(reset_offset)
        self.fixed = net.fixed_point
        inputs = inputs or {}
        self.procs, self.monitors, self.sources, self.kinds = {}, [], {}, {}
        for name, pop in net.populations.items():
            if isinstance(pop, SpikeSource):
                x = np.asarray(inputs.get(name, np.zeros((steps, pop.n))), dtype=int)
                if x.shape != (steps, pop.n):
                    raise NetworkError(f"inputs[{name!r}] has shape {x.shape}, expected ({steps}, {pop.n})")
                self.sources[name] = x.T
                continue
            if pop.reset != "zero":
                raise NetworkError(f"population {name!r}: Lava's LIF resets to zero; reset={pop.reset!r} "
                                   "cannot be exported")
            if reset_interval is not None and (np.any(pop.u0 != 0) or np.any(pop.v0 != 0)):
                raise NetworkError(f"population {name!r}: reset_interval needs u0 = v0 = 0: Lava's LIFReset resets "
                                   "u and v to 0, neurochip's Simulator.reset() to u0, v0")
            if isinstance(pop, LoihiLIF):
                kw = dict(du=int(pop.du), dv=int(pop.dv), vth=int(pop.vth), bias_mant=pop.bias_mant,
                          bias_exp=pop.bias_exp)
            elif isinstance(pop, FloatLIF):
                kw = dict(du=float(pop.du), dv=float(pop.dv), vth=float(pop.vth), bias_mant=pop.bias)
            else:
                raise NetworkError(f"population {name!r}: {type(pop).__name__} has no Lava export")
            if reset_interval is None:
                self.procs[name] = LIF(shape=(pop.n,), u=pop.u0, v=pop.v0, name=name, **kw)
            else:
                self.procs[name] = LIFReset(shape=(pop.n,), u=pop.u0, v=pop.v0, name=name,
                                            reset_interval=int(reset_interval),
                                            reset_offset=(self.reset_offset + 1) % int(reset_interval), **kw)
        if reset_interval is not None:
            self._check_input_boundaries()
        for proj in net.projections:
            use_sparse = sparse is True or (sparse == "auto" and sp.issparse(proj.weights))
            kw = dict(weight_exp=int(proj.weight_exp), num_weight_bits=int(proj.num_weight_bits)) if self.fixed else {}
            if use_sparse:
                w = sp.csr_matrix(proj.weights)
                w = w.astype(np.int64 if self.fixed else np.float64)
                w.eliminate_zeros()
                if np.any(proj.delay):
                    rows, cols = w.nonzero()
                    dd = proj.delay[rows, cols] if proj.delay.ndim else np.full(rows.size, int(proj.delay))
                    d = sp.csr_matrix((dd.astype(np.int64), (rows, cols)), shape=w.shape)
                    d.eliminate_zeros()
                    conn = DelaySparse(weights=w, delays=d, max_delay=int(np.max(proj.delay)), **kw)
                else:
                    conn = Sparse(weights=w, **kw)
            else:
                w = proj.weights.toarray() if sp.issparse(proj.weights) else np.asarray(proj.weights)
                if np.any(proj.delay):
                    d = np.broadcast_to(proj.delay, w.shape).astype(int)
                    conn = DelayDense(weights=w, delays=d, **kw)
                else:
                    conn = Dense(weights=w, **kw)
            self.kinds[proj.name] = type(conn).__name__
            if proj.pre in self.sources:
                # one RingBuffer per projection: a RingBuffer fanning out to two Dense
                # processes segfaults in lava-nc 0.10's shared-memory channel
                RingBuffer(data=self.sources[proj.pre]).s_out.connect(conn.s_in)
            else:
                self.procs[proj.pre].s_out.connect(conn.s_in)
            conn.a_out.connect(self.procs[proj.post].a_in)
        for name in net.neurons():
            lif = self.procs[name]
            for var in self.record:
                mon = Monitor()
                mon.probe({"spikes": lif.s_out, "u": lif.u, "v": lif.v}[var], steps)
                self.monitors.append((name, var, mon, lif))

    def _late(self, spikes: np.ndarray, proj) -> np.ndarray:
        """(step, neuron) of the spikes of `proj.pre` that would arrive after the next reset."""
        k, o = self.reset_interval, self.reset_offset
        dmax = _per_pre_max_delay(proj)
        t, j = np.nonzero(spikes)
        keep = dmax[j] >= 0
        t, j = t[keep], j[keep]
        nxt = t + (k - (t - o) % k)          # the next reset step after t (t = 0 and t < o included)
        return np.stack([t, j], 1)[(t + 1 + dmax[j] >= nxt) & (nxt < self.steps)]

    def _check_input_boundaries(self):
        for proj in self.net.projections:
            if proj.pre in self.sources:
                late = self._late(self.sources[proj.pre].T != 0, proj)
                if len(late):
                    raise NetworkError(
                        f"projection {proj.name!r}: {len(late)} input spikes (first at step {late[0, 0]}, channel "
                        f"{late[0, 1]}) would arrive after the next reset (reset_interval={self.reset_interval}, "
                        f"reset_offset={self.reset_offset}); Lava resets neurons, not synaptic buffers: pad each "
                        f"sample with at least {1 + int(np.max(proj.delay))} silent steps (stream_samples)")

    def components(self) -> list[list[str]]:
        """Connected groups of neuron populations: Lava runs what is connected to the
        process it is asked to run, so each group runs on its own."""
        group = {k: k for k in self.net.neurons()}

        def find(k):
            while group[k] != k:
                k = group[k]
            return k

        for p in self.net.projections:
            if p.pre in group:
                group[find(p.pre)] = find(p.post)
        out = {}
        for k in self.net.neurons():
            out.setdefault(find(k), []).append(k)
        return list(out.values())

    def run(self, tag: str | None = None) -> dict:
        """Run all steps in `Loihi2SimCfg(select_tag=tag)` (default: fixed_pt for fixed-point
        networks, floating_pt for float ones); returns spikes/u/v traces and final u, v, and
        with `reset_interval` the spikes that crossed a sample boundary ("leaks")."""
        from lava.magma.core.run_conditions import RunSteps
        from lava.magma.core.run_configs import Loihi2SimCfg

        tag = tag or ("fixed_pt" if self.fixed else "floating_pt")
        out = {"spikes": {}, "u": {}, "v": {}, "final_u": {}, "final_v": {}}
        for names in self.components():
            anchor = self.procs[names[0]]
            try:
                anchor.run(condition=RunSteps(num_steps=self.steps), run_cfg=Loihi2SimCfg(select_tag=tag))
                for name, var, mon, lif in self.monitors:
                    if name in names:
                        port = {"spikes": "s_out", "u": "u", "v": "v"}[var]
                        data = mon.get_data()[lif.name][port]
                        out[var][name] = data.astype(bool) if var == "spikes" else data
                for name in names:
                    out["final_u"][name] = self.procs[name].u.get()
                    out["final_v"][name] = self.procs[name].v.get()
            finally:
                anchor.stop()
        if self.reset_interval is not None and "spikes" in self.record:
            out["leaks"] = {}
            for proj in self.net.projections:
                if proj.pre in out["spikes"]:
                    late = self._late(out["spikes"][proj.pre], proj)
                    if len(late):
                        out["leaks"][proj.name] = late
                        warnings.warn(f"projection {proj.name!r}: {len(late)} spikes of {proj.pre!r} (first at step "
                                      f"{late[0, 0]}, neuron {late[0, 1]}) arrive after the next per-sample reset; "
                                      "neurochip's per-sample run drops them, so the rasters may differ from then "
                                      "on: pad samples with more silent steps", SampleLeakWarning, stacklevel=2)
        return out


def to_lava(net: Network, inputs: dict | None = None, steps: int = 1, record=("spikes", "u", "v"),
            sparse: bool | str = "auto", reset_interval: int | None = None, reset_offset: int = 0) -> LavaNetwork:
    """Lava processes for `net`, fed with `inputs` ({source: (steps, n) spikes}) for `steps`.

    `sparse`: "auto" exports scipy.sparse weights with Sparse/DelaySparse (bit-exact, see the
    module docstring), True all projections, False none (densified Dense/DelayDense).
    `reset_interval=k`, `reset_offset=o`: LIFReset zeroes u and v at the start of every
    neurochip step t with t % k == o, matching `run_per_sample` (samples run from
    `Simulator.reset()`) when u0 = v0 = 0 and samples are padded (`stream_samples`)."""
    return LavaNetwork(net, inputs, steps, record, sparse, reset_interval, reset_offset)
