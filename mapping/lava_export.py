"""Build and run a neurochip network as Lava processes (lava-nc 0.10), imported lazily.

SpikeSource -> lava.proc.io.source.RingBuffer (column t is sent at Lava step t + 1),
LoihiLIF / FloatLIF -> lava.proc.lif.process.LIF, Projection -> Dense (DelayDense when it
has delays). neurochip's step t is Lava's time step t + 1, and both add one step per
projection, so rasters compare step for step. Subtractive reset has no Lava LIF model and
is refused.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from neurochip.errors import NetworkError
from neurochip.network import Network
from neurochip.neurons import FloatLIF, LoihiLIF, SpikeSource


class LavaNetwork:
    """The Lava processes of one network; `run(steps)` runs and always stops Lava."""

    def __init__(self, net: Network, inputs: dict | None, steps: int, record=("spikes", "u", "v")):
        from lava.proc.dense.process import Dense, DelayDense
        from lava.proc.io.source import RingBuffer
        from lava.proc.lif.process import LIF
        from lava.proc.monitor.process import Monitor

        self.net, self.steps, self.record = net, steps, tuple(record)
        self.fixed = net.fixed_point
        inputs = inputs or {}
        self.procs, self.monitors, self.sources = {}, [], {}
        for name, pop in net.populations.items():
            if isinstance(pop, SpikeSource):
                x = np.asarray(inputs.get(name, np.zeros((steps, pop.n))), dtype=int)
                if x.shape != (steps, pop.n):
                    raise NetworkError(f"inputs[{name!r}] has shape {x.shape}, expected ({steps}, {pop.n})")
                self.sources[name] = x.T
            elif pop.reset != "zero":
                raise NetworkError(f"population {name!r}: Lava's LIF resets to zero; reset={pop.reset!r} "
                                   "cannot be exported")
            elif isinstance(pop, LoihiLIF):
                self.procs[name] = LIF(shape=(pop.n,), du=int(pop.du), dv=int(pop.dv), vth=int(pop.vth),
                                       bias_mant=pop.bias_mant, bias_exp=pop.bias_exp, u=pop.u0, v=pop.v0, name=name)
            elif isinstance(pop, FloatLIF):
                self.procs[name] = LIF(shape=(pop.n,), du=float(pop.du), dv=float(pop.dv), vth=float(pop.vth),
                                       bias_mant=pop.bias, u=pop.u0, v=pop.v0, name=name)
        for proj in net.projections:
            w = proj.weights.toarray() if sp.issparse(proj.weights) else np.asarray(proj.weights)
            kw = dict(weight_exp=int(proj.weight_exp), num_weight_bits=int(proj.num_weight_bits)) if self.fixed else {}
            if np.any(proj.delay):
                d = np.broadcast_to(proj.delay, w.shape).astype(int)
                conn = DelayDense(weights=w, delays=d, **kw)
            else:
                conn = Dense(weights=w, **kw)
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
        networks, floating_pt for float ones); returns spikes/u/v traces and final u, v."""
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
        return out


def to_lava(net: Network, inputs: dict | None = None, steps: int = 1, record=("spikes", "u", "v")) -> LavaNetwork:
    """Lava processes for `net`, fed with `inputs` ({source: (steps, n) spikes}) for `steps`."""
    return LavaNetwork(net, inputs, steps, record)
