"""A neurochip network as Lava processes (lava-nc 0.10, imported lazily), and its standalone script.

`describe` turns the network into the plain description that `mapping.lava.graph`, the one
builder, makes processes of: sources -> RingBuffer (column t is sent at Lava step t + 1), each
population -> Lava's LIF with the keywords of its model's `lava_lif()` (LIFReset with
`reset_interval`; models without a Lava process, and subtractive reset, are refused),
projections -> Dense / DelayDense, or Sparse / DelaySparse for scipy.sparse weights.
A `GradedSource` sends graded spikes: its RingBuffer holds the payloads (fixed point:
`GradedSource.payload` at `payload_bits`, 24 as Lava's graded vectors; float: the values) and
its projections get `num_message_bits = payload_bits`, so that Lava's Dense computes
a = (W @ q) << weight_exp, what the chip's graded delivery computes. Graded-spike neurons
(`GradedVec`, `GradedReluVec`) become Lava's processes of the same names (lava.proc.graded),
their projections graded Dense likewise.
neurochip's step t is Lava's time step t + 1, and both add one step per projection, so
rasters compare step for step.

Sparse connectivity is exact: lava-nc 0.10's `PySparseModelBitAcc` / `PyDelaySparseModelBitAcc`
compute what the Dense models do (sign mode from the whole matrix, implicit zeros included, as
`sign_mode` does; 8-bit clip and truncation; the shift on the sum; one step later, plus the
synapse's delay), so no Dense fallback is needed.

Per-sample resets (`reset_interval=k, reset_offset=o`) match neurochip running each sample
(steps t with t % k == o start one, and t = 0) from `Simulator.reset()`. Lava's `LIFReset`
zeroes u and v at the start of Lava steps T % k == offset, before that step's input is
integrated (as a fresh neuron does); with T = t + 1 the export passes offset = (o + 1) % k.
It is exact when (1) every LIF has u0 = v0 = 0 (refused otherwise), and (2) no spike crosses a
sample boundary: LIFReset resets neurons, not the synaptic buffers of (Delay)Dense/Sparse, so a
spike at step t with t + 1 + delay >= the next sample start lands in the next sample, where a
reset neurochip has nothing. Pad each sample with silent steps (`stream_samples`); for a
feed-forward network silent without input (no bias, no lasting current) `min_padding(net)`
suffice. Input spikes that would cross are refused before the run; neuron spikes that do are
warned about (`SampleLeakWarning`) and listed in `out["leaks"]`: the rasters agree up to the
first one.
"""
from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from neurochip.chip.simulator import Simulator
from neurochip.chip.spec import HOST_PAYLOAD_BITS
from neurochip.mapping.lava import graph as standalone
from neurochip.mapping.lava.graph import LavaGraph, save
from neurochip.model.errors import NetworkError
from neurochip.model.network import Network
from neurochip.model.neurons import GradedSource


class SampleLeakWarning(UserWarning):
    """A spike crossed a per-sample reset boundary; the rasters may differ after it."""


def _per_pre_max_delay(proj) -> np.ndarray:
    """Largest delay of each presynaptic neuron's synapses (-1: it has none)."""
    post, pre = sp.coo_matrix(proj.weights).nonzero()
    out = np.full(proj.shape[1], -1, dtype=np.int64)
    np.maximum.at(out, pre, np.broadcast_to(proj.delay, proj.shape)[post, pre])
    return out


def min_padding(net: Network) -> int | None:
    """Silent steps after each sample's input for the input's direct consequences to
    arrive within the sample: the longest path from a source through the projections,
    counting 1 + max delay per projection. None if the network is recurrent (no bound)."""
    longest = dict.fromkeys(net.populations, 0)
    for _ in range(len(longest) + 1):  # a path has fewer edges than there are populations
        before = dict(longest)
        for p in net.projections:
            longest[p.post] = max(longest[p.post], longest[p.pre] + 1 + int(np.max(p.delay)))
        if longest == before:
            return max(longest.values())
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
    k = x.shape[1] + pad
    return np.pad(x, ((0, 0), (0, pad), (0, 0))).reshape(len(x) * k, x.shape[2]), k


def run_per_sample(net: Network, inputs: dict | None, steps: int, reset_interval: int, reset_offset: int = 0,
                   record=("spikes", "u", "v"), chip=None) -> dict:
    """neurochip's side of a per-sample run: every sample (steps [o + i k, o + (i+1) k)) runs
    from `Simulator.reset()`; returns {"spikes"|"u"|"v": {pop: (steps, n)}} concatenated."""
    sim = Simulator(net, chip)
    inputs = inputs or {}
    starts = sorted({0} | set(range(reset_offset % reset_interval, steps, reset_interval)))
    runs = []
    for a, b in zip(starts, starts[1:] + [steps]):
        sim.reset()
        runs.append(sim.run(b - a, inputs={k: np.asarray(v)[a:b] for k, v in inputs.items()}, record=list(record)))
    return {var: {name: np.concatenate([getattr(r, var)[name] for r in runs]) for name in net.neurons()}
            for var in record}


def describe(net: Network, inputs: dict | None, steps: int, record=("spikes", "u", "v"),
             sparse: bool | str = "auto", reset_interval: int | None = None, reset_offset: int = 0,
             payload_bits: int = HOST_PAYLOAD_BITS) -> dict:
    """The description of `net` that `mapping.lava.graph` builds (see `to_lava` for the arguments);
    each neuron model gives its Lava LIF (`NeuronModel.lava_lif`)."""
    if sparse not in ("auto", True, False):
        raise NetworkError(f"sparse must be 'auto', True or False, got {sparse!r}")
    reset = None
    if reset_interval is not None:
        if not isinstance(reset_interval, (int, np.integer)) or reset_interval < 1:
            raise NetworkError(f"reset_interval must be a positive integer (steps per sample), got {reset_interval!r}")
        if not isinstance(reset_offset, (int, np.integer)) or not 0 <= reset_offset < reset_interval:
            raise NetworkError(f"reset_offset must be an integer in [0, reset_interval = {reset_interval}), "
                               f"got {reset_offset!r}")
        reset = {"interval": int(reset_interval), "offset": (int(reset_offset) + 1) % int(reset_interval)}
    inputs = inputs or {}
    sources, neurons = {}, []
    for name, pop in net.populations.items():
        if isinstance(pop, GradedSource):
            x = np.asarray(inputs.get(name, np.zeros((steps, pop.n))), dtype=np.float64)
            if x.shape != (steps, pop.n):
                raise NetworkError(f"inputs[{name!r}] has shape {x.shape}, expected ({steps}, {pop.n})")
            sources[name] = (pop.payload(x, payload_bits)[0] if net.fixed_point else x).T
            continue
        if not pop.on_chip:
            x = np.asarray(inputs.get(name, np.zeros((steps, pop.n))), dtype=int)
            if x.shape != (steps, pop.n):
                raise NetworkError(f"inputs[{name!r}] has shape {x.shape}, expected ({steps}, {pop.n})")
            sources[name] = x.T
            continue
        lif = pop.lava_lif()
        if reset is not None and (np.any(lif.get("u", 0) != 0) or np.any(lif.get("v", 0) != 0)):
            raise NetworkError(f"population {name!r}: reset_interval needs u0 = v0 = 0: Lava's LIFReset resets "
                               "u and v to 0, neurochip's Simulator.reset() to u0, v0")
        neurons.append({"name": name, "n": pop.n, "lif": lif, "process": pop.lava_process})
    projections = [{"name": p.name, "pre": p.pre, "post": p.post, "weights": p.weights, "delays": p.delay,
                    "sparse": sparse is True or (sparse == "auto" and sp.issparse(p.weights)),
                    "weight_exp": int(p.weight_exp), "num_weight_bits": int(p.num_weight_bits),
                    "graded_bits": payload_bits if net.populations[p.pre].sends_payloads else 0}
                   for p in net.projections]
    return {"steps": int(steps), "fixed": bool(net.fixed_point), "record": list(record), "reset": reset,
            "sources": sources, "neurons": neurons, "projections": projections}


class LavaNetwork(LavaGraph):
    """The Lava processes of one network (see `to_lava`); `run(tag)` runs them, always stops
    Lava, and with `reset_interval` lists the spikes that crossed a sample boundary ("leaks")."""

    def __init__(self, net: Network, inputs: dict | None, steps: int, record=("spikes", "u", "v"),
                 sparse: bool | str = "auto", reset_interval: int | None = None, reset_offset: int = 0):
        graph = describe(net, inputs, steps, record, sparse, reset_interval, reset_offset)
        self.net, self.reset_interval, self.reset_offset = net, reset_interval, int(reset_offset)
        if reset_interval is not None:
            for proj, late in self._late({name: x.T != 0 for name, x in graph["sources"].items()}):
                raise NetworkError(
                    f"projection {proj.name!r}: {len(late)} input spikes (first at step {late[0, 0]}, channel "
                    f"{late[0, 1]}) would arrive after the next reset (reset_interval={self.reset_interval}, "
                    f"reset_offset={self.reset_offset}); Lava resets neurons, not synaptic buffers: pad each "
                    f"sample with at least {1 + int(np.max(proj.delay))} silent steps (stream_samples)")
        super().__init__(graph)

    def _late(self, spikes: dict):
        """(projection, (step, neuron) of the spikes of its pre that would arrive after the next
        reset) for each projection from a population of `spikes` ({name: (steps, n)}) with any."""
        k, o = self.reset_interval, self.reset_offset
        for proj in self.net.projections:
            if proj.pre in spikes:
                dmax = _per_pre_max_delay(proj)
                t, j = np.nonzero(spikes[proj.pre])
                keep = dmax[j] >= 0
                t, j = t[keep], j[keep]
                nxt = t + (k - (t - o) % k)          # the next reset step after t (t = 0 and t < o included)
                late = np.stack([t, j], 1)[(t + 1 + dmax[j] >= nxt) & (nxt < len(spikes[proj.pre]))]
                if len(late):
                    yield proj, late

    def run(self, tag: str | None = None) -> dict:
        out = super().run(tag)
        if self.reset_interval is not None and "spikes" in self.graph["record"]:
            out["leaks"] = {}
            for proj, late in self._late(out["spikes"]):
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


def export_lava_script(net: Network, path, inputs: dict | None = None, steps: int = 1) -> tuple[Path, Path]:
    """Write `path`.npz, the description of `net` fed with `inputs` for `steps`, and `path`.py,
    a copy of `mapping/lava/graph.py` that needs only numpy, scipy and lava-nc: `python path.py`
    builds the graph as `to_lava` does, runs it, stops Lava and saves every population's spike
    raster (steps, n) to `path`_spikes.npz. Returns (script, data)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    py, npz = path.with_suffix(".py"), path.with_suffix(".npz")
    save(describe(net, inputs, steps, record=("spikes",)), npz)
    shutil.copyfile(standalone.__file__, py)
    return py, npz
