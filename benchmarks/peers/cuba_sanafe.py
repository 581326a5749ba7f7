"""The neurochip CUBA network (Loihi CUBA LIF: one 5 ms current decay, no refractory
period) in SANA-FE on its Loihi architecture (`sanafe.load_loihi()`, arch/loihi.yaml).
SANA-FE is GPL: it is run here as an external program from its own venv, never vendored.

SANA-FE's Loihi LIF: I *= input_decay; v *= leak_decay; v += bias + (I += input); spike if
v > threshold, v = reset. Units: mV above Vr = -60 mV. leak_decay = 1 - dt/tau_m,
input_decay = 1 - dt/tau_e, bias = 11 mV * dt/tau_m, weights 0.405 mV and -4.5 mV of
total voltage per spike divided by the 50-step sum of the current's impulse response, all
in units of 10 mV / 2**16 (as neurochip's threshold), since SANA-FE truncates v to 1/64.
    python cuba_sanafe.py [--duration 10] [--steps N] [--seed 0]
--steps times N steps and extrapolates to the duration (SANA-FE is slow): marked in JSON.
"""
import argparse
import json
import time
from importlib.metadata import version

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--steps", type=int, default=0, help="steps to time (default: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-core", type=int, default=256)
    args = ap.parse_args()
    import sanafe

    total_steps = int(round(args.duration / 1e-4))
    steps = args.steps or total_steps
    t_start = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    arch = sanafe.load_loihi()
    cores = [c for t in arch.tiles for c in t.cores]
    net = sanafe.Network()
    dt, taum, taue = 0.1, 20.0, 5.0
    K = 2**16 / 10.0  # units per mV: SANA-FE truncates v to 1/64 each step, so mV would stall below threshold
    attrs = dict(threshold=10.0 * K, reset=0.0, leak_decay=1 - dt / taum, input_decay=1 - dt / taue,
                 bias=11.0 * K * dt / taum)
    n = 4000
    groups, start = [], 0
    for k in range(0, n, args.per_core):  # one group per core: SANA-FE maps whole groups
        g = net.create_neuron_group(f"g{k // args.per_core}", min(args.per_core, n - k), model_attributes=attrs)
        g.map_to_core(cores[k // args.per_core])
        groups.append((k, g))
    v0 = rng.random(n) * 10.0 * K
    for k, g in groups:
        for i, neuron in enumerate(g.neurons):
            neuron.set_attributes(model_attributes={"potential": float(v0[k + i])})
    steps_per_tau = 1.0 / (dt / taue)
    w = {True: 0.405 * K / steps_per_tau, False: -4.5 * K / steps_per_tau}
    src, dst = np.nonzero(rng.random((n, n)) < 0.02)  # pre, post
    deg = np.bincount(src, minlength=n)
    group_of = np.arange(n) // args.per_core
    for gs, (ks, gsrc) in enumerate(groups):
        for gd, (kd, gdst) in enumerate(groups):
            sel = (group_of[src] == gs) & (group_of[dst] == gd)
            if not sel.any():
                continue
            pairs = list(zip((src[sel] - ks).tolist(), (dst[sel] - kd).tolist()))
            weights = [w[bool(s < 3200)] for s in src[sel]]
            gsrc.connect_neurons_sparse(gdst, {"weight": weights}, pairs)
    chip = sanafe.SpikingChip(arch)
    chip.load(net)
    build = time.perf_counter() - t_start
    t0 = time.perf_counter()
    res = chip.sim(steps, timing_model="simple", processing_threads=1)
    wall = time.perf_counter() - t0
    n_spikes = int(res["neurons_fired"])
    print(json.dumps(dict(peer="sanafe", mode="Loihi arch, simple timing, 1 thread", version=version("sanafe"),
                          n_neurons=n, steps=steps, sim_seconds=steps * 1e-4, build_seconds=round(build, 3),
                          wall_seconds=round(wall, 3), extrapolated=steps != total_steps,
                          extrapolated_wall_seconds=wall * total_steps / steps, n_spikes=n_spikes,
                          mean_rate_hz=n_spikes / n / (steps * 1e-4), syn_events=int(res["spikes"]),
                          packets=int(res["packets_sent"]), neurons_updated=int(res["neurons_updated"]),
                          energy_j=res["energy"], chip_time_s=res["sim_time"])))


if __name__ == "__main__":
    main()
