"""Brette et al. 2007 CUBA benchmark: neurochip (all counters on) against its peers.

4000 LIF neurons (3200 excitatory, 800 inhibitory), connection probability 0.02,
self-sustained activity, dt = 0.1 ms, 10 s simulated = 100,000 steps, in Loihi fixed point
on a multi-core `loihi1` placement. Brian2, NEST and SANA-FE run the same network from
their own venvs (benchmarks/peers/); Lava runs a few hundred steps of the identical
fixed-point network and is extrapolated per step.

    python benchmarks/cuba.py [--duration 10] [--lava-steps 200] [--no-peers] [--generic] [--json out.json]

Conversion to Loihi's CUBA LIF (one synaptic time constant per compartment, no refractory
period): v is measured from the reset potential Vr = -60 mV with vth << 6 = 2**22 units for
the 10 mV to threshold; dv = 4096 dt / tau_m; du + 1 = 4096 dt / tau_e; the bias holds v at
El - Vr = 11 mV; an excitatory spike adds the same voltage integral as Brian2's
we * tau_e / tau_m (0.405 mV), an inhibitory one the same as wi * tau_i / tau_m (-4.5 mV),
delivered through the 5 ms current time constant.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

import neurochip as nc

HERE = Path(__file__).resolve().parent
DT_MS, TAU_M, TAU_E, TAU_I = 0.1, 20.0, 5.0, 10.0
N_EXC, N_INH, P_CONN = 3200, 800, 0.02
VTH = 2**16                        # vth << 6 = 2**22 units = 10 mV
UNITS_PER_MV = 2**22 / 10.0


def cuba_network(seed: int = 0) -> nc.Network:
    rng = np.random.default_rng(seed)
    dv = round(4096 * DT_MS / TAU_M)                    # 20
    du = round(4096 * DT_MS / TAU_E) - 1                # 81: the hidden +1 makes 82/4096
    bias = 11.0 * UNITS_PER_MV * dv / 4096              # equilibrium v = bias * 4096 / dv
    bias_exp = 3
    bias_mant = int(round(bias / 2**bias_exp))
    steps_per_tau_e = 4096 / (du + 1)                   # u's impulse response sums to this
    # Brian2: a jump w in g adds w * tau_syn / tau_m to v in total
    w_exc = 60 * 0.27 / 10 * TAU_E / TAU_M * UNITS_PER_MV / steps_per_tau_e / 64
    w_inh = -20 * 4.5 / 10 * TAU_I / TAU_M * UNITS_PER_MV / steps_per_tau_e / 64 / 4  # weight_exp 2
    net = nc.Network()
    n = N_EXC + N_INH
    for name, size in (("exc", N_EXC), ("inh", N_INH)):
        net.add(nc.LoihiLIF(size, du=du, dv=dv, vth=VTH, bias_mant=bias_mant, bias_exp=bias_exp,
                            v0=rng.integers(0, VTH << 6, size), name=name))
    for pre, size, w, wexp in (("exc", N_EXC, round(w_exc), 0), ("inh", N_INH, round(w_inh), 2)):
        conn = sp.random(n, size, density=P_CONN, format="csr", random_state=rng, data_rvs=lambda k: np.full(k, w))
        conn = conn.astype(np.int64)
        net.connect(pre, "exc", conn[:N_EXC], weight_exp=wexp, name=f"{pre}->exc")
        net.connect(pre, "inh", conn[N_EXC:], weight_exp=wexp, name=f"{pre}->inh")
    return net


def run_neurochip(duration_s: float, per_core: int = 256, seed: int = 0, generic: bool = False) -> dict:
    """neurochip on one thread; `generic`: through the generic kernels (`kernels.run`, the path
    before the int32 fast path `kernels.run_fixed32`), for a before/after in the same run."""
    steps = int(round(duration_s * 1000 / DT_MS))
    t0 = time.perf_counter()
    net = cuba_network(seed)
    chip = nc.loihi1()
    sim = nc.Simulator(net, chip, nc.Placement.sequential(net, chip, per_core=per_core))
    if generic:
        sim._fixed32 = lambda *a: False
    build = time.perf_counter() - t0
    sim.run(10, record=())                              # compile (or load the Numba cache)
    sim.reset()
    t0 = time.perf_counter()
    res = sim.run(steps, record=())
    wall = time.perf_counter() - t0
    spikes = res.total("spikes_out")
    syn = res.total("syn_ops")
    mode = "fixed point, loihi1, all counters on" + (", generic kernels" if generic else "")
    return dict(peer="neurochip", mode=mode, n_neurons=4000, steps=steps,
                cores=len(sim.program.core_ids), sim_seconds=duration_s, build_seconds=round(build, 3),
                wall_seconds=round(wall, 3), n_spikes=spikes, mean_rate_hz=spikes / 4000 / duration_s,
                syn_events=syn, neuron_steps_per_s=4000 * steps / wall, syn_events_per_s=syn / wall,
                chip_time_per_step_us=float(np.mean(res.step_latency_ns)) / 1e3, totals=res.totals())


def run_lava(steps: int, seed: int = 0) -> dict:
    """The identical fixed-point network in Lava (Sparse + LIF), wall time per step."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.lif.process import LIF
    from lava.proc.sparse.process import Sparse

    net = cuba_network(seed)
    lifs = {k: LIF(shape=(p.n,), du=p.du, dv=p.dv, vth=p.vth, bias_mant=p.bias_mant, bias_exp=p.bias_exp,
                   v=p.v0, u=p.u0) for k, p in net.populations.items()}
    for proj in net.projections:
        conn = Sparse(weights=proj.weights.tocsr(), weight_exp=proj.weight_exp, num_weight_bits=8)
        lifs[proj.pre].s_out.connect(conn.s_in)
        conn.a_out.connect(lifs[proj.post].a_in)
    proc = lifs["exc"]
    t0 = time.perf_counter()
    try:
        proc.run(condition=RunSteps(num_steps=10), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        warm = time.perf_counter() - t0
        t0 = time.perf_counter()
        proc.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        wall = time.perf_counter() - t0
    finally:
        proc.stop()
    return dict(peer="lava", mode="Loihi2SimCfg fixed_pt, Sparse + LIF", n_neurons=4000, steps=steps,
                build_seconds=round(warm, 3), wall_seconds=round(wall, 3), wall_per_step_s=wall / steps,
                extrapolated_wall_seconds_10s=wall / steps * 100_000, extrapolated=True)


def run_small(steps: int = 2000, n: int = 64, seed: int = 0) -> dict:
    """Per-step time of a small network (n inputs -> n LIF) in Lava and in neurochip,
    where Lava's fixed per-step cost dominates; identical rasters are checked."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIF
    from lava.proc.monitor.process import Monitor

    rng = np.random.default_rng(seed)
    w = rng.integers(-40, 80, (n, n))
    x = rng.random((steps, n)) < 0.2
    net = nc.Network()
    net.add(nc.SpikeSource(n, name="in"))
    net.add(nc.LoihiLIF(n, du=410, dv=205, vth=300, name="lif"))
    net.connect("in", "lif", w)
    sim = nc.Simulator(net)
    sim.run(10, inputs={"in": x[:10]})
    sim.reset()
    t0 = time.perf_counter()
    res = sim.run(steps, inputs={"in": x}, record=["spikes"])
    ours = (time.perf_counter() - t0) / steps
    src, dense = RingBuffer(data=x.T.astype(int)), Dense(weights=w)
    lif = LIF(shape=(n,), du=410, dv=205, vth=300)
    mon = Monitor()
    src.s_out.connect(dense.s_in)
    dense.a_out.connect(lif.a_in)
    mon.probe(lif.s_out, steps)
    try:
        t0 = time.perf_counter()
        lif.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        lava = (time.perf_counter() - t0) / steps
        lava_spikes = mon.get_data()[lif.name]["s_out"].astype(bool)
    finally:
        lif.stop()
    return dict(peer=f"lava vs neurochip, {n} -> {n} LIF", steps=steps, neurochip_s_per_step=ours,
                lava_s_per_step=lava, ratio=lava / ours,
                rasters_identical=bool(np.array_equal(lava_spikes, res.spikes["lif"])))


def run_peers(duration_s: float) -> list:
    driver = HERE / "peers" / "run_peers.py"
    if not driver.exists():
        return [dict(peer="peers", available=False, why=f"{driver} missing")]
    out = subprocess.run([sys.executable, str(driver), "--duration", str(duration_s)],
                         capture_output=True, text=True)
    try:
        return json.loads(out.stdout)
    except json.JSONDecodeError:
        return [dict(peer="peers", available=False, why=out.stderr[-2000:])]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=10.0, help="simulated seconds")
    ap.add_argument("--lava-steps", type=int, default=200, help="Lava steps to time (0: skip Lava)")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--generic", action="store_true",
                    help="also time neurochip through the generic kernels (the path before the fast one)")
    ap.add_argument("--json", type=Path, help="write all results here")
    args = ap.parse_args(argv)
    results = [run_neurochip(args.duration)]
    print(json.dumps(results[0]), flush=True)
    if args.generic:
        results.append(run_neurochip(args.duration, generic=True))
        print(json.dumps(results[-1]), flush=True)
        if results[-1]["totals"] != results[0]["totals"]:
            raise SystemExit("the generic and the fast kernels disagree on the counters")
    if args.lava_steps:
        results.append(run_lava(args.lava_steps))
        print(json.dumps(results[-1]), flush=True)
        for n in (1, 64):
            results.append(run_small(n=n))
            print(json.dumps(results[-1]), flush=True)
    if not args.no_peers:
        for r in run_peers(args.duration):
            results.append(r)
            print(json.dumps(r), flush=True)
    brian = [r for r in results if r.get("peer") == "brian2" and r.get("mode") == "cpp_standalone"]
    if brian:
        for r in results:
            if r.get("peer") == "neurochip":
                ratio = r["wall_seconds"] / brian[0]["wall_seconds"]
                r["ratio_to_brian2_cpp_standalone"] = round(ratio, 3)
                print(f"neurochip ({r['mode']}) / Brian2 C++ standalone wall time: {r['wall_seconds']:.3f} s / "
                      f"{brian[0]['wall_seconds']:.3f} s = {ratio:.2f}", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
