"""SANA-FE half of validation/sanafe_energy.py. Runs under the peers venv's python
(benchmarks/.venvs/peers), never imported by neurochip: SANA-FE is GPL and is only run.

    <peers python> sanafe_side.py NET.npz OUT.json

NET.npz (written by sanafe_energy.py):
  meta        JSON: steps, source name, populations [{name, n, vth}], projections
              [{pre, post, key}], input_tile, input_core
  spikes_in   (steps, n_source) bool: the source's spike at row t is emitted in SANA-FE
              time-step t + 1 (SANA-FE counts steps from 1)
  W_<key>     (n_post, n_pre) integer weights; zero = no synapse
  tile_<pop>, core_<pop>: SANA-FE tile id and core offset of every neuron

Model: Loihi LIF soma (`loihi_lif`) as integrate-and-fire: leak_decay = 1, input_decay = 0
(the current is this step's input only), bias 0, hard reset to 0, spike if v > threshold.
Weights and thresholds are integers in the same unit, so SANA-FE's 1/64 truncation of v is
exact. The source neurons use the zero-cost `loihi_inputs[i]` somas of the input tile/core.

OUT.json: SANA-FE's run summary (energy per category in J, counters), per-neuron spike
rasters, packets and hops split by direction and by sender (source or chip neurons, from
the message trace), and the energy constants of the loihi.yaml that load_loihi() used.
"""
import json
import re
import sys
from importlib.metadata import version
from importlib.resources import files

import numpy as np
import sanafe


def arch_constants() -> dict:
    """energy_* values (J) of arch/loihi.yaml per unit name, read line by line (no pyyaml here)."""
    text = (files("sanafe.examples") / "loihi.yaml").read_text()
    unit, out = None, {}
    for line in text.splitlines():
        m = re.match(r"\s*-\s*name:\s*(\S+)", line)
        if m:
            unit = m.group(1)
            continue
        m = re.match(r"\s*(energy_\w+):\s*([-+0-9.eE]+)", line)
        if m and unit:
            out.setdefault(unit, {})[m.group(1)] = float(m.group(2))
    return out


def main(npz_path: str, out_path: str) -> None:
    d = np.load(npz_path)
    meta = json.loads(str(d["meta"]))
    steps, src = int(meta["steps"]), meta["source"]
    spikes_in = d["spikes_in"].astype(bool)
    arch = sanafe.load_loihi()
    net = sanafe.Network()
    groups = {}

    g = net.create_neuron_group(src, spikes_in.shape[1])
    in_core = arch.tiles[meta["input_tile"]].cores[meta["input_core"]]
    for i, neuron in enumerate(g.neurons):
        neuron.set_attributes(soma_hw_name=f"loihi_inputs[{i}]", log_spikes=True,
                              model_attributes={"spikes": [bool(x) for x in spikes_in[:, i]]})
        neuron.map_to_core(in_core)
    groups[src] = g

    for pop in meta["populations"]:
        name = pop["name"]
        attrs = dict(threshold=float(pop["vth"]), reset=0.0, reset_mode="hard", leak_decay=1.0,
                     input_decay=0.0, bias=0.0)
        g = net.create_neuron_group(name, int(pop["n"]), model_attributes=attrs)
        tiles, cores = d[f"tile_{name}"], d[f"core_{name}"]
        for i, neuron in enumerate(g.neurons):
            neuron.set_attributes(soma_hw_name="loihi_lif", dendrite_hw_name="loihi_dendrites",
                                  default_synapse_hw_name="loihi_dense_synapse", log_spikes=True)
            neuron.map_to_core(arch.tiles[int(tiles[i])].cores[int(cores[i])])
        groups[name] = g

    n_syn = 0
    for proj in meta["projections"]:
        w = d[f"W_{proj['key']}"]
        post, pre = np.nonzero(w)
        n_syn += len(post)
        groups[proj["pre"]].connect_neurons_sparse(
            groups[proj["post"]], {"weight": [float(x) for x in w[post, pre]]},
            list(zip(pre.tolist(), post.tolist())))

    chip = sanafe.SpikingChip(arch)
    chip.load(net)
    res = chip.sim(steps, timing_model="simple", processing_threads=1,
                   spike_trace=True, message_trace=True, perf_trace=True)

    rasters = {name: [] for name in groups}
    for t, fired in enumerate(res["spike_trace"]):
        for a in fired:
            rasters[a.group_name].append([t, int(a.neuron_offset)])

    traffic = {who: dict(packets=0, hops_ew=0, hops_ns=0, hops=0) for who in ("source", "chip")}
    for msgs in res["message_trace"]:
        for m in msgs:
            if m["placeholder"]:
                continue
            c = traffic["source" if m["src_neuron_group_id"] == src else "chip"]
            c["packets"] += 1
            c["hops_ew"] += abs(m["dest_x"] - m["src_x"])
            c["hops_ns"] += abs(m["dest_y"] - m["src_y"])
            c["hops"] += m["hops"]

    perf = res["perf_trace"]
    out = dict(
        version=version("sanafe"), steps=steps, n_synapses=n_syn,
        energy_j=dict(res["energy"]), sim_time_s=res["sim_time"],
        counters={k: int(res[k]) for k in ("spikes", "packets_sent", "neurons_updated", "neurons_fired")},
        perf_hops=int(np.sum(perf["hops"])), rasters=rasters, traffic=traffic,
        arch_energy_j=arch_constants(),
    )
    with open(out_path, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
