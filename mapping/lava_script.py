"""A standalone Lava script plus an .npz that rebuild a neurochip network without neurochip.

`export_lava_script(net, "out/net", inputs, steps)` writes out/net.py and out/net.npz; then
`python out/net.py` (any Python with lava-nc 0.10) builds RingBuffer -> Dense/DelayDense ->
LIF exactly as `mapping.lava_export.to_lava` does, runs `Loihi2SimCfg` (fixed_pt or
floating_pt), always stops Lava, and saves every population's spike raster to
out/net_spikes.npz (arrays (steps, n), keyed by population).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp

from neurochip.model.errors import NetworkError
from neurochip.model.network import Network
from neurochip.model.neurons import FloatLIF, LoihiLIF, SpikeSource

SCRIPT = '''"""Rebuilds a network exported by neurochip in Lava (lava-nc 0.10) and runs it.

    python {name}.py            -> {name}_spikes.npz (spike raster of every population)

Data: {name}.npz beside this file. Written by neurochip.mapping.lava_script; needs only
numpy and lava-nc.
"""
import json
from pathlib import Path

import numpy as np
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc.dense.process import Dense, DelayDense
from lava.proc.io.source import RingBuffer
from lava.proc.lif.process import LIF
from lava.proc.monitor.process import Monitor

HERE = Path(__file__).resolve().parent
data = np.load(HERE / "{name}.npz")
graph = json.loads(str(data["graph"]))
steps, fixed = graph["steps"], graph["fixed"]

lifs = {{}}
for p in graph["neurons"]:
    arr = lambda key: data[f"{{p['name']}}/{{key}}"]  # noqa: E731
    if fixed:
        lifs[p["name"]] = LIF(shape=(p["n"],), du=p["du"], dv=p["dv"], vth=p["vth"], bias_mant=arr("bias_mant"),
                              bias_exp=arr("bias_exp"), u=arr("u0"), v=arr("v0"), name=p["name"])
    else:
        lifs[p["name"]] = LIF(shape=(p["n"],), du=p["du"], dv=p["dv"], vth=p["vth"], bias_mant=arr("bias"),
                              u=arr("u0"), v=arr("v0"), name=p["name"])
group = {{k: k for k in lifs}}


def find(k):
    while group[k] != k:
        k = group[k]
    return k


for i, c in enumerate(graph["projections"]):
    w = data[f"proj{{i}}/weights"]
    kw = dict(weight_exp=c["weight_exp"], num_weight_bits=c["num_weight_bits"]) if fixed else {{}}
    conn = DelayDense(weights=w, delays=data[f"proj{{i}}/delays"], **kw) if c["delayed"] else Dense(weights=w, **kw)
    if c["pre"] in lifs:
        lifs[c["pre"]].s_out.connect(conn.s_in)
        group[find(c["pre"])] = find(c["post"])
    else:  # one RingBuffer per projection: a fanned-out RingBuffer segfaults in lava-nc 0.10
        RingBuffer(data=data[f"input/{{c['pre']}}"]).s_out.connect(conn.s_in)
    conn.a_out.connect(lifs[c["post"]].a_in)

monitors = {{}}
for name, lif in lifs.items():
    monitors[name] = Monitor()
    monitors[name].probe(lif.s_out, steps)
spikes = {{}}
components = {{}}
for name in lifs:
    components.setdefault(find(name), []).append(name)
for names in components.values():
    anchor = lifs[names[0]]
    try:
        anchor.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt" if fixed else "floating_pt"))
        for name in names:
            spikes[name] = monitors[name].get_data()[name]["s_out"].astype(bool)
    finally:
        anchor.stop()
np.savez(HERE / "{name}_spikes.npz", **spikes)
print("wrote", HERE / "{name}_spikes.npz")
'''


def export_lava_script(net: Network, path, inputs: dict | None = None, steps: int = 1) -> tuple[Path, Path]:
    """Write `path`.py and `path`.npz (see module doc); returns both paths."""
    import json

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    inputs = inputs or {}
    arrays, neurons, projections = {}, [], []
    for name, pop in net.populations.items():
        if isinstance(pop, SpikeSource):
            x = np.asarray(inputs.get(name, np.zeros((steps, pop.n))), dtype=int)
            if x.shape != (steps, pop.n):
                raise NetworkError(f"inputs[{name!r}] has shape {x.shape}, expected ({steps}, {pop.n})")
            arrays[f"input/{name}"] = x.T
            continue
        if pop.reset != "zero":
            raise NetworkError(f"population {name!r}: Lava's LIF resets to zero; reset={pop.reset!r} cannot be exported")
        if isinstance(pop, LoihiLIF):
            neurons.append(dict(name=name, n=pop.n, du=int(pop.du), dv=int(pop.dv), vth=int(pop.vth)))
            arrays.update({f"{name}/bias_mant": pop.bias_mant, f"{name}/bias_exp": pop.bias_exp})
        elif isinstance(pop, FloatLIF):
            neurons.append(dict(name=name, n=pop.n, du=float(pop.du), dv=float(pop.dv), vth=float(pop.vth)))
            arrays[f"{name}/bias"] = np.broadcast_to(pop.bias, (pop.n,)).astype(np.float64)
        arrays.update({f"{name}/u0": np.broadcast_to(pop.u0, (pop.n,)), f"{name}/v0": np.broadcast_to(pop.v0, (pop.n,))})
    for i, proj in enumerate(net.projections):
        w = proj.weights.toarray() if sp.issparse(proj.weights) else np.asarray(proj.weights)
        arrays[f"proj{i}/weights"] = w
        delayed = bool(np.any(proj.delay))
        if delayed:
            arrays[f"proj{i}/delays"] = np.broadcast_to(proj.delay, w.shape).astype(int)
        projections.append(dict(pre=proj.pre, post=proj.post, weight_exp=int(proj.weight_exp),
                                num_weight_bits=int(proj.num_weight_bits), delayed=delayed))
    graph = dict(steps=int(steps), fixed=bool(net.fixed_point), neurons=neurons, projections=projections)
    npz, py = path.with_suffix(".npz"), path.with_suffix(".py")
    np.savez(npz, graph=np.array(json.dumps(graph)), **arrays)
    py.write_text(SCRIPT.format(name=path.stem))
    return py, npz
