"""The one builder of Lava (lava-nc 0.10) process graphs, from a plain description. It imports
numpy, scipy and lava only: `mapping.lava.network` describes neurochip networks and runs them
here, and `export_lava_script` copies this file beside a description's .npz as a standalone
script (`python net.py` -> net_spikes.npz, each population's (steps, n) raster).

The description is a dict (`save` / `load` keep it in one .npz):
    steps, fixed (run fixed_pt or floating_pt), record (of "spikes", "u", "v"),
    reset        None, or {"interval": k, "offset": o}: LIFReset zeroes u and v at the start of
                 every Lava step T (counted from 1) with T % k == o
    sources      {name: spikes (n, steps)}; column t is sent at Lava step t + 1
    neurons      [{name, n, lif: the keywords of Lava's LIF (du, dv, vth, bias_mant[, bias_exp], u, v)
                 [, process: "GradedVec" or "GradedReluVec" (lava.proc.graded), lif then (vth)]}];
                 a graded vector's "spikes" are its payloads s_out != 0, its "v" the payloads
                 s_out themselves (Lava zeroes its v after each send), its "u" zeros
    projections  [{name, pre, post, weights (n_post, n_pre), delays (a scalar or shaped as the
                 weights), sparse, weight_exp, num_weight_bits[, graded_bits]}] -> Dense, DelayDense,
                 or with `sparse` Sparse, DelaySparse (delays on the weights' sparsity pattern);
                 graded_bits > 0: num_message_bits (the pre sends graded spikes)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

PORTS = {"spikes": "s_out", "u": "u", "v": "v"}
GRADED_PORTS = {"spikes": "s_out", "v": "s_out"}   # a graded vector's payloads; it has no u


def import_lava() -> None:
    """Import lava-nc's runtime. It sets multiprocessing's start method to 'fork' on import
    and fails if something fixed the context first (tqdm's lock does): undo that first."""
    import multiprocessing as mp

    if "lava.magma.runtime.message_infrastructure.multiprocessing" not in sys.modules and \
            mp.get_start_method(allow_none=True) is not None:
        mp.set_start_method(None, force=True)
    import lava.magma.runtime.message_infrastructure.multiprocessing  # noqa: F401


def _connection(proj: dict, fixed: bool):
    """The Lava process of one projection of the description."""
    from lava.proc.dense.process import DelayDense, Dense
    from lava.proc.sparse.process import DelaySparse, Sparse

    kw = dict(weight_exp=int(proj["weight_exp"]), num_weight_bits=int(proj["num_weight_bits"])) if fixed else {}
    if int(proj.get("graded_bits", 0)):  # graded spikes: Lava multiplies each payload by the weight
        kw["num_message_bits"] = int(proj["graded_bits"])
    delays = np.asarray(proj["delays"])
    if proj["sparse"]:
        w = sp.csr_matrix(proj["weights"]).astype(np.int64 if fixed else np.float64)
        w.eliminate_zeros()
        if not np.any(delays):
            return Sparse(weights=w, **kw)
        rows, cols = w.nonzero()
        per_synapse = delays[rows, cols] if delays.ndim else np.full(rows.size, int(delays))
        d = sp.csr_matrix((per_synapse.astype(np.int64), (rows, cols)), shape=w.shape)
        d.eliminate_zeros()
        return DelaySparse(weights=w, delays=d, max_delay=int(np.max(delays)), **kw)
    w = proj["weights"].toarray() if sp.issparse(proj["weights"]) else np.asarray(proj["weights"])
    if np.any(delays):
        return DelayDense(weights=w, delays=np.broadcast_to(delays, w.shape).astype(int), **kw)
    return Dense(weights=w, **kw)


class LavaGraph:
    """The Lava processes of a description; `run(tag)` runs them and always stops Lava."""

    def __init__(self, graph: dict):
        import_lava()
        from lava.proc.graded import process as graded
        from lava.proc.io.source import RingBuffer
        from lava.proc.lif.process import LIF, LIFReset
        from lava.proc.monitor.process import Monitor

        self.graph, reset = graph, graph["reset"]
        lif, per_sample = (LIF, {}) if reset is None else \
            (LIFReset, {"reset_interval": int(reset["interval"]), "reset_offset": int(reset["offset"])})
        self.neurons, self.ports = {}, {}
        for p in graph["neurons"]:
            kind = p.get("process", "LIF")
            if kind == "LIF":
                self.neurons[p["name"]] = lif(shape=(p["n"],), name=p["name"], **per_sample, **p["lif"])
                self.ports[p["name"]] = PORTS
            else:   # graded vectors keep no state: nothing to reset per sample
                proc = getattr(graded, kind)(shape=(p["n"],), **p["lif"])
                proc.name = p["name"]   # their __init__ takes no name; the monitors key data by it
                self.neurons[p["name"]] = proc
                self.ports[p["name"]] = GRADED_PORTS
        self.kinds = {}
        for proj in graph["projections"]:
            conn = _connection(proj, graph["fixed"])
            self.kinds[proj["name"]] = type(conn).__name__
            if proj["pre"] in self.neurons:
                self.neurons[proj["pre"]].s_out.connect(conn.s_in)
            else:  # one RingBuffer per projection: a fanned-out RingBuffer segfaults in lava-nc 0.10
                RingBuffer(data=graph["sources"][proj["pre"]]).s_out.connect(conn.s_in)
            conn.a_out.connect(self.neurons[proj["post"]].a_in)
        # one monitor a probed port (a graded vector's spikes and v are both its s_out)
        self.monitors = [(name, port, Monitor()) for name in self.neurons
                         for port in dict.fromkeys(self.ports[name][v] for v in graph["record"] if v in self.ports[name])]
        for name, port, mon in self.monitors:
            mon.probe(getattr(self.neurons[name], port), graph["steps"])

    def components(self) -> list[list[str]]:
        """Connected groups of neuron populations: Lava runs what is connected to the
        process it is asked to run, so each group runs on its own."""
        names = list(self.neurons)
        edges = np.array([(names.index(p["pre"]), names.index(p["post"])) for p in self.graph["projections"]
                          if p["pre"] in self.neurons], dtype=np.int64).reshape(-1, 2)
        _, label = connected_components(sp.coo_matrix((np.ones(len(edges)), edges.T), shape=(len(names),) * 2),
                                        directed=False)
        return [[name for name, c in zip(names, label) if c == group] for group in dict.fromkeys(label)]

    def run(self, tag: str | None = None) -> dict:
        """Run all steps in `Loihi2SimCfg(select_tag=tag)` (default: fixed_pt for fixed-point
        graphs, floating_pt for float ones); returns the recorded traces {var: {population:
        (steps, n)}} and the final u, v ("final_u", "final_v")."""
        from lava.magma.core.run_conditions import RunSteps
        from lava.magma.core.run_configs import Loihi2SimCfg

        tag = tag or ("fixed_pt" if self.graph["fixed"] else "floating_pt")
        out = {"spikes": {}, "u": {}, "v": {}, "final_u": {}, "final_v": {}}
        for names in self.components():
            anchor = self.neurons[names[0]]
            try:
                anchor.run(condition=RunSteps(num_steps=self.graph["steps"]), run_cfg=Loihi2SimCfg(select_tag=tag))
                data = {(name, port): mon.get_data()[name][port] for name, port, mon in self.monitors if name in names}
                for name in names:
                    proc, ports = self.neurons[name], self.ports[name]
                    for var in self.graph["record"]:
                        if var not in ports:   # a graded vector's u: it has none
                            out[var][name] = np.zeros((self.graph["steps"], proc.shape[0]), dtype=np.int64)
                            continue
                        x = data[name, ports[var]]
                        out[var][name] = x.astype(bool) if var == "spikes" else x
                    out["final_u"][name] = proc.u.get() if hasattr(proc, "u") else np.zeros(proc.shape[0])
                    out["final_v"][name] = proc.v.get()
            finally:
                anchor.stop()
        return out


def save(graph: dict, path) -> None:
    """Write a description to the .npz `path`: its arrays (sparse ones densified) as arrays, the
    rest as JSON."""
    arrays = {}

    def array(x):
        arrays[str(len(arrays))] = x.toarray() if sp.issparse(x) else np.asarray(x)
        return {"npz": str(len(arrays) - 1)}

    np.savez(path, graph=np.array(json.dumps(graph, default=array)), **arrays)


def load(path) -> dict:
    """The description `save` wrote to `path`."""
    data = np.load(path)
    return json.loads(str(data["graph"]), object_hook=lambda d: data[d["npz"]] if set(d) == {"npz"} else d)


if __name__ == "__main__":
    here = Path(__file__).resolve()
    spikes = LavaGraph(load(here.with_suffix(".npz"))).run()["spikes"]
    np.savez(here.with_name(here.stem + "_spikes.npz"), **spikes)
    print("wrote", here.with_name(here.stem + "_spikes.npz"))
