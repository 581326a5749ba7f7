"""The one builder of Lava (lava-nc 0.10) process graphs, from a plain description. It imports
numpy, scipy and lava only: `mapping.lava.network` describes neurochip networks and runs them
here, and `export_lava_script` copies this file beside a description's .npz as a standalone
script (`python net.py` -> net_spikes.npz, each population's (steps, n) raster).

The description is a dict (`save` / `load` keep it in one .npz):
    steps, fixed (run fixed_pt or floating_pt), record (of "spikes", "u", "v"),
    reset        None, or {"interval": k, "offset": o}: LIFReset zeroes u and v at the start of
                 every Lava step T (counted from 1) with T % k == o
    sources      {name: spikes (n, steps)}; column t is sent at Lava step t + 1
    neurons      [{name, n, lif: the keywords of Lava's LIF (du, dv, vth, bias_mant[, bias_exp], u, v)}]
    projections  [{name, pre, post, weights (n_post, n_pre), delays (a scalar or shaped as the
                 weights), sparse, weight_exp, num_weight_bits}] -> Dense, DelayDense, or with
                 `sparse` Sparse, DelaySparse (delays on the weights' sparsity pattern)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

PORTS = {"spikes": "s_out", "u": "u", "v": "v"}


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
        from lava.proc.io.source import RingBuffer
        from lava.proc.lif.process import LIF, LIFReset
        from lava.proc.monitor.process import Monitor

        self.graph, reset = graph, graph["reset"]
        lif, per_sample = (LIF, {}) if reset is None else \
            (LIFReset, {"reset_interval": int(reset["interval"]), "reset_offset": int(reset["offset"])})
        self.lifs = {p["name"]: lif(shape=(p["n"],), name=p["name"], **per_sample, **p["lif"])
                     for p in graph["neurons"]}
        self.kinds = {}
        for proj in graph["projections"]:
            conn = _connection(proj, graph["fixed"])
            self.kinds[proj["name"]] = type(conn).__name__
            if proj["pre"] in self.lifs:
                self.lifs[proj["pre"]].s_out.connect(conn.s_in)
            else:  # one RingBuffer per projection: a fanned-out RingBuffer segfaults in lava-nc 0.10
                RingBuffer(data=graph["sources"][proj["pre"]]).s_out.connect(conn.s_in)
            conn.a_out.connect(self.lifs[proj["post"]].a_in)
        self.monitors = [(name, var, Monitor()) for name in self.lifs for var in graph["record"]]
        for name, var, mon in self.monitors:
            mon.probe(getattr(self.lifs[name], PORTS[var]), graph["steps"])

    def components(self) -> list[list[str]]:
        """Connected groups of neuron populations: Lava runs what is connected to the
        process it is asked to run, so each group runs on its own."""
        names = list(self.lifs)
        edges = np.array([(names.index(p["pre"]), names.index(p["post"])) for p in self.graph["projections"]
                          if p["pre"] in self.lifs], dtype=np.int64).reshape(-1, 2)
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
            anchor = self.lifs[names[0]]
            try:
                anchor.run(condition=RunSteps(num_steps=self.graph["steps"]), run_cfg=Loihi2SimCfg(select_tag=tag))
                for name, var, mon in self.monitors:
                    if name in names:
                        data = mon.get_data()[name][PORTS[var]]
                        out[var][name] = data.astype(bool) if var == "spikes" else data
                for name in names:
                    out["final_u"][name] = self.lifs[name].u.get()
                    out["final_v"][name] = self.lifs[name].v.get()
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
