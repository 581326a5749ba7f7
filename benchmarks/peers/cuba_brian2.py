"""Brette et al. 2007 CUBA in Brian2 (its documented example), one thread.

    python cuba_brian2.py --mode runtime|cpp_standalone [--duration 10] [--seed 0]
Prints one line of JSON. cpp_standalone reports the run time Brian measures
(device._last_run_time) apart from code generation and compilation.
"""
import argparse
import json
import tempfile
import time

import brian2 as b2
from brian2 import ms, mV, second


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["runtime", "cpp_standalone"], default="runtime")
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    t_start = time.perf_counter()
    if args.mode == "cpp_standalone":
        b2.set_device("cpp_standalone", directory=tempfile.mkdtemp(prefix="cuba_b2_"), build_on_run=True)
        b2.prefs.devices.cpp_standalone.openmp_threads = 1
    else:
        b2.prefs.codegen.target = "cython"
    b2.seed(args.seed)
    b2.defaultclock.dt = 0.1 * ms
    taum, taue, taui = 20 * ms, 5 * ms, 10 * ms
    Vt, Vr, El = -50 * mV, -60 * mV, -49 * mV
    eqs = """dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
             dge/dt = -ge/taue : volt
             dgi/dt = -gi/taui : volt"""
    P = b2.NeuronGroup(4000, eqs, threshold="v>Vt", reset="v = Vr", refractory=5 * ms, method="exact")
    P.v = "Vr + rand() * (Vt - Vr)"
    we, wi = (60 * 0.27 / 10) * mV, (-20 * 4.5 / 10) * mV
    Ce = b2.Synapses(P, P, on_pre="ge += we")
    Ci = b2.Synapses(P, P, on_pre="gi += wi")
    Ce.connect("i<3200", p=0.02)
    Ci.connect("i>=3200", p=0.02)
    mon = b2.SpikeMonitor(P)
    net = b2.Network(P, Ce, Ci, mon)
    if args.mode == "runtime":
        net.run(1 * ms)  # code generation and compilation happen here, outside the timing
        build = time.perf_counter() - t_start
        t0 = time.perf_counter()
        net.run(args.duration * second)
        wall = time.perf_counter() - t0
        n_spikes = int(mon.num_spikes)
    else:
        net.run(args.duration * second)
        wall = float(b2.device._last_run_time)
        build = time.perf_counter() - t_start - wall
        n_spikes = int(mon.num_spikes)
    # synaptic events: every spike of neuron i reaches its out-degree
    import numpy as np

    i_sp = np.asarray(mon.i)
    deg = np.bincount(np.concatenate([np.asarray(Ce.i), np.asarray(Ci.i)]), minlength=4000)
    syn = int(deg[i_sp].sum())
    print(json.dumps(dict(peer="brian2", mode=args.mode, version=b2.__version__, n_neurons=4000,
                          steps=int(round(args.duration / 1e-4)), sim_seconds=args.duration,
                          build_seconds=round(build, 3), wall_seconds=round(wall, 3), n_spikes=n_spikes,
                          mean_rate_hz=n_spikes / 4000 / args.duration, syn_events=syn,
                          note="refractory 5 ms, two synaptic time constants (Brian2's own CUBA example)")))


if __name__ == "__main__":
    main()
