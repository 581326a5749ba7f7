"""SANA-FE half of benchmarks/throughput.py: a neurochip network on SANA-FE's Loihi architecture
(`sanafe.load_loihi()`), run sample after sample. Runs under the peers venv's python
(benchmarks/.venvs/peers); SANA-FE is GPL: run as a program, never imported by neurochip.

    <peers python> throughput_sanafe.py NET.npz OUT.json

NET.npz (written by benchmarks/throughput.py):
  meta        JSON: source {name, n}, populations [{name, n, threshold, leak_decay, input_decay,
              bias}], projections [{pre, post, key}]
  samples     (n_samples, T, n_source) bool: the source's spikes of each sample
  post_<key>, pre_<key>, w_<key>: every synapse (weights in the populations' threshold unit)
  tile_<pop>, core_<pop>: SANA-FE tile id and core offset of every neuron (sources included)
  soma_<source>: each input neuron's `loihi_inputs[i]` soma (distinct within a core)

Model: `loihi_lif` somas (I *= input_decay; v *= leak_decay; v += bias + (I += input); spike
if v > threshold, hard reset to 0), `loihi_dense_synapse`, `loihi_dendrites`; the source on
the zero-cost `loihi_inputs[i]` somas. Per sample, what a SANA-FE user does to
run a data set on one loaded chip: give the input neurons the sample's spikes
(`MappedNeuron.set_attributes`), `chip.reset()` (neuron states and hardware buffers) and
`chip.sim(T)` (simple timing model, one thread, spike trace on: the outputs).

OUT.json: version, build_seconds (network + load), per-sample seconds (set inputs + reset +
sim), spike counts per population (n_samples, n) and the chip's counters summed over samples.
"""
import json
import sys
import time
from importlib.metadata import version

import numpy as np
import sanafe

def build(d, meta):
    arch = sanafe.load_loihi()
    net = sanafe.Network()
    src = meta["source"]
    groups = {src["name"]: net.create_neuron_group(src["name"], int(src["n"]))}
    tiles, cores, somas = (d[f"{a}_{src['name']}"] for a in ("tile", "core", "soma"))
    for i, neuron in enumerate(groups[src["name"]].neurons):
        neuron.set_attributes(soma_hw_name=f"loihi_inputs[{int(somas[i])}]", log_spikes=False)
        neuron.map_to_core(arch.tiles[int(tiles[i])].cores[int(cores[i])])
    for pop in meta["populations"]:
        attrs = dict(threshold=float(pop["threshold"]), reset=0.0, reset_mode="hard",
                     leak_decay=float(pop["leak_decay"]), input_decay=float(pop["input_decay"]),
                     bias=float(pop["bias"]))
        g = groups[pop["name"]] = net.create_neuron_group(pop["name"], int(pop["n"]), model_attributes=attrs)
        tiles, cores = d[f"tile_{pop['name']}"], d[f"core_{pop['name']}"]
        for i, neuron in enumerate(g.neurons):
            neuron.set_attributes(soma_hw_name="loihi_lif", dendrite_hw_name="loihi_dendrites",
                                  default_synapse_hw_name="loihi_dense_synapse", log_spikes=True)
            neuron.map_to_core(arch.tiles[int(tiles[i])].cores[int(cores[i])])
    for proj in meta["projections"]:
        k = proj["key"]
        groups[proj["pre"]].connect_neurons_sparse(
            groups[proj["post"]], {"weight": d[f"w_{k}"].astype(float).tolist()},
            list(zip(d[f"pre_{k}"].tolist(), d[f"post_{k}"].tolist())))
    chip = sanafe.SpikingChip(arch)
    chip.load(net)
    return chip


def main(npz_path: str, out_path: str) -> None:
    d = np.load(npz_path)
    meta = json.loads(str(d["meta"]))
    samples = d["samples"].astype(bool)
    t0 = time.perf_counter()
    chip = build(d, meta)
    build_s = time.perf_counter() - t0
    inputs = chip.mapped_neuron_groups[meta["source"]["name"]]
    index = {p["name"]: k for k, p in enumerate(meta["populations"])}
    counts = [np.zeros((len(samples), int(p["n"])), np.int64) for p in meta["populations"]]
    totals = dict.fromkeys(("spikes", "packets_sent", "neurons_updated", "neurons_fired"), 0)
    seconds = []
    for s, x in enumerate(samples):
        t0 = time.perf_counter()
        for i, neuron in enumerate(inputs):
            neuron.set_attributes(model_attributes={"spikes": x[:, i].tolist()})
        chip.reset()
        res = chip.sim(len(x), timing_model="simple", processing_threads=1, spike_trace=True)
        seconds.append(time.perf_counter() - t0)
        for fired in res["spike_trace"]:
            for a in fired:
                if a.group_name in index:
                    counts[index[a.group_name]][s, a.neuron_offset] += 1
        for k in totals:
            totals[k] += int(res[k])
    out = dict(version=version("sanafe"), build_seconds=build_s, sample_seconds=seconds, counters=totals,
               spike_counts={p["name"]: c.tolist() for p, c in zip(meta["populations"], counts)})
    with open(out_path, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
