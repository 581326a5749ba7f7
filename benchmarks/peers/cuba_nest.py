"""Brette et al. 2007 CUBA in NEST (iaf_psc_exp), one thread, resolution 0.1 ms.

Brian2's dv/dt = (ge + gi - (v - El)) / taum with ge in volts is NEST's
dV/dt = -(V - E_L)/tau_m + I/C_m with I = ge C_m / tau_m: a jump of we = 1.62 mV in ge is
a current jump of 1.62 mV * 250 pF / 20 ms = 20.25 pA (wi = -9 mV: -112.5 pA); the synaptic
currents decay with tau_syn_ex = 5 ms, tau_syn_in = 10 ms.
    python cuba_nest.py [--duration 10] [--seed 0]
"""
import argparse
import json
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    import nest

    t_start = time.perf_counter()
    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": 0.1, "local_num_threads": 1, "rng_seed": args.seed + 1})
    params = dict(C_m=250.0, tau_m=20.0, t_ref=5.0, E_L=-49.0, V_th=-50.0, V_reset=-60.0,
                  tau_syn_ex=5.0, tau_syn_in=10.0, I_e=0.0)
    pop = nest.Create("iaf_psc_exp", 4000, params=params)
    rng = np.random.default_rng(args.seed)
    pop.V_m = list(-60.0 + 10.0 * rng.random(4000))
    exc, inh = pop[:3200], pop[3200:]
    conn = {"rule": "pairwise_bernoulli", "p": 0.02, "allow_autapses": True}
    nest.Connect(exc, pop, conn, {"synapse_model": "static_synapse", "weight": 250.0 * 1.62 / 20.0, "delay": 0.1})
    nest.Connect(inh, pop, conn, {"synapse_model": "static_synapse", "weight": -250.0 * 9.0 / 20.0, "delay": 0.1})
    rec = nest.Create("spike_recorder")
    nest.Connect(pop, rec)
    nest.Simulate(0.1)
    build = time.perf_counter() - t_start
    t0 = time.perf_counter()
    nest.Simulate(args.duration * 1000.0)
    wall = time.perf_counter() - t0
    ev = rec.get("events")
    senders = np.asarray(ev["senders"]) - pop[0].global_id
    out_deg = np.bincount(np.asarray(nest.GetConnections(source=pop).get("source")) - pop[0].global_id, minlength=4000)
    print(json.dumps(dict(peer="nest", mode="iaf_psc_exp, 1 thread", version=nest.__version__, n_neurons=4000,
                          steps=int(round(args.duration / 1e-4)), sim_seconds=args.duration,
                          build_seconds=round(build, 3), wall_seconds=round(wall, 3), n_spikes=int(len(senders)),
                          mean_rate_hz=len(senders) / 4000 / args.duration, syn_events=int(out_deg[senders].sum()))))


if __name__ == "__main__":
    main()
