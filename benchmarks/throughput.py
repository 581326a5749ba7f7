"""Throughput over data sets: samples/s of inference in neurochip, Lava and SANA-FE, and of learning.

    .venv/bin/python benchmarks/throughput.py [--repeat 3] [--quick] [--only digits,cnn,temporal]
                                              [--no-lava] [--no-sanafe] [--json out.json]

Three networks, all fixed point (Loihi LIF), mapped onto loihi1 by pymetis:
- digits: the network of `neurochip demo` (64 pixels -> 256 LIF -> 10 readout, T = 32) on its
  450 test samples (Bernoulli spikes at rate 0.5);
- cnn: the Sinabs N-MNIST CNN of the golden NIR graphs (quantized, reset to zero: as
  benchmarks/lava_step_time.py builds it), on N-MNIST-like inputs made here: scikit-learn
  digits at 34 x 34 (26 pixels in 34) before the emulated event camera of the temporal
  default (`event_data.saccade_events`: three saccades, 300 steps of 2 x 34 x 34 channels);
- temporal: the temporal default (saccade digits, 512 -> 128 -> 10 over 32-neuron cores, as
  `neurochip demo` and `learn --data saccade` build it) learned by OTTT_A for one epoch on the
  chip (the demo's MPD-ED adapts every neuron's threshold, which a LoihiLIF population and
  Lava's LIF cannot hold), exported with reset to zero (Lava's), on its 450 test samples of
  300 steps.

neurochip: `Simulator.reset` + `run` per sample from Python ("one at a time"), and
`Simulator.run_samples` on 1 and N threads (N = the cores usable); all three must give identical
spike counts and counters (exit 1 otherwise).
Lava 0.10 (`to_lava`, Loihi2SimCfg fixed_pt): what a Lava user does for a data set, one long
run of the samples back to back with `LIFReset` zeroing u and v at each sample start; Lava does
not reset synaptic buffers, so each sample is followed by silent steps (`stream_samples`; the
demo's 32 for digits, whose currents linger, else `min_padding`), which Lava runs and neurochip
does not need. Runs of n1 and n2 samples, each timed build + compile + run + stop (best of
`--lava-repeat`) without monitors (Lava's cheapest run; to read outputs a user adds monitors,
which cost more: on every population of the CNN they take longer than the simulation); per
sample (t2 - t1) / (n2 - n1), the build excluded. A further run with spike monitors on every LIF
population (wall reported, not used as the rate) must give every checked sample's spike counts
(its first T steps) equal to neurochip's.
SANA-FE (its own venv, benchmarks/peers/throughput_sanafe.py): the same neurons, weights and
core placement on its Loihi architecture; per sample the inputs are set, the chip reset and
run (seconds per sample: median over the samples, the build excluded). Its LIF decays in
floating point where Loihi's truncates in integers, and it has no 24-bit u and v (Loihi wraps u
and clips v): spike counts can agree exactly only for networks that stay off those limits; the
agreement is reported, with whether neurochip's first sample reached a limit.
Learning: `Learner.learn_samples` one sample at a time (weights change after every sample,
so samples cannot run in parallel): OTTT_A and MPD-ED on digits 64-128-10, T = 16 (as
benchmarks/learning.py), and one epoch of OTTT_A on the temporal default.

Each figure is the best (and median) of `--repeat` runs; the machine may be shared:
`cpu_over_wall` is the process's CPU time over the wall time, `load_average` the 1-minute load
when the network's runs began.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np

from neurochip.chip.simulator import Simulator
from neurochip.chip.spec import loihi1
from neurochip.mapping.lava.network import min_padding, stream_samples
from neurochip.mapping.placement.place import map_network
from neurochip.model.fixed import ACT_SHIFT, DECAY_ONE, U_MAX, V_LIMIT, VTH_SHIFT
from neurochip.model.neurons import LoihiLIF
from neurochip.rules.rule import OTTT, EventDriven
from neurochip.studies import demo
from neurochip.studies.datasets import digits
from neurochip.studies.event_data import SACCADE_PER_CORE, digit_images, saccade_digits, saccade_events
from neurochip.studies.learning_study import make

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from benchmarks.lava_step_time import cnn_case as sinabs_cnn  # noqa: E402
from validation.sanafe_energy import PEER_PY, peer_python_ok, sanafe_location  # noqa: E402

SANAFE_SIDE = HERE / "peers" / "throughput_sanafe.py"
SANAFE_NEURONS_PER_CORE = 1024   # max_neurons_supported of arch/loihi.yaml's cores
CNN_SIZE = 34            # N-MNIST's sensor: 34 x 34, two polarities
LEARN_T = 16             # benchmarks/learning.py's digits


class Case:
    """One network: its simulator, test samples (n, T, channels) of one source, how Lava pads."""

    def __init__(self, key, label, sim, placement, source, x, lava_pad, lava_samples, lava_check, sanafe_samples,
                 extra=None):
        self.key, self.label, self.sim, self.placement, self.source, self.x = key, label, sim, placement, source, x
        self.lava_pad, self.lava_samples, self.lava_check = lava_pad, lava_samples, lava_check
        self.sanafe_samples = sanafe_samples
        self.extra = extra or {}


def digits_case(seed: int = 0, quick: bool = False) -> Case:
    """The demo's network on its mapping, and the test samples (as the demo draws them)."""
    rng = np.random.default_rng(seed)
    x, y = digits(demo.T, seed=rng, rate=0.5, split=False)
    train_idx, test_idx = np.split(rng.permutation(len(y)), [int(0.75 * len(y))])
    chip = loihi1()
    net, _ = demo.train(rng, x, y, train_idx, test_idx, chip)
    mapping = map_network(net, chip, "metis")
    sim = Simulator(net, chip, mapping.placement, mapping.table)
    x, y = x[test_idx], y[test_idx]
    acc = float(np.mean(np.argmax(sim.run_samples([{"pixels": s} for s in x], record=["v"], populations=["readout"])
                                  .v["readout"][:, -1], axis=1) == y))
    return Case("digits", f"digits (neurochip demo): 64 -> {demo.N_HIDDEN} LIF -> 10, T = {demo.T}", sim,
                mapping.placement, "pixels",
                x, demo.LAVA_PAD, (2, 4) if quick else (4, 12), 4 if quick else 12, 5 if quick else 20,
                dict(accuracy=acc))


def cnn_case(quick: bool = False) -> Case:
    _, net, _, placement = sinabs_cnn()
    images, _ = digit_images(CNN_SIZE)
    n = 8 if quick else 40
    x = saccade_events(images[-n:])   # the last digits: any n will do, the network is not trained on these
    sim = Simulator(net, loihi1(), placement)
    return Case("cnn", "Sinabs N-MNIST CNN (golden NIR, quantized, reset zero), N-MNIST-like saccade events "
                f"2 x {CNN_SIZE} x {CNN_SIZE}, T = {x.shape[1]}", sim, placement, "input", x, min_padding(net),
                (1, 2) if quick else (1, 3), 1, 1 if quick else 3)


def temporal_case(quick: bool = False) -> Case:
    """OTTT_A learns the saccade digits for one epoch on the chip (timed: learning throughput),
    then its network, with Lava's reset to zero, runs the test samples. (The demo's MPD-ED adapts
    each neuron's threshold, which neither a LoihiLIF population nor Lava's LIF can hold.)"""
    x_tr, y_tr, x_te, _ = saccade_digits()
    if quick:
        x_tr, y_tr, x_te = x_tr[:100], y_tr[:100], x_te[:40]
    T = x_tr.shape[1]
    learner = lambda: make(OTTT(), True, sizes=[x_tr.shape[2], 128, 10], per_core=SACCADE_PER_CORE)  # noqa: E731
    learner().learn_sample(x_tr[0], y_tr[0])  # compile outside the timing
    load, learner = os.getloadavg()[0], learner()
    t0, c0 = time.perf_counter(), time.process_time()
    learner.fit(x_tr, y_tr, 1)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    learning = dict(method="OTTT_A", network=f"temporal default {x_tr.shape[2]}-128-10, T = {T}, one epoch",
                    repeats=1, load_average=load, samples=len(x_tr), best_seconds=round(wall, 3),
                    median_seconds=round(wall, 3), samples_per_s=round(len(x_tr) / wall, 2),
                    median_samples_per_s=round(len(x_tr) / wall, 2), cpu_over_wall=round(cpu / wall, 2))
    net = learner.to_network(reset="zero")
    chip = loihi1()
    mapping = map_network(net, chip, "metis")
    sim = Simulator(net, chip, mapping.placement, mapping.table)
    return Case("temporal", f"temporal default (saccade digits, OTTT_A one epoch, reset zero): "
                f"{x_tr.shape[2]} -> 128 -> 10, T = {T}", sim, mapping.placement, "in", x_te, min_padding(net),
                (1, 2) if quick else (2, 6), 2 if quick else 6, 2 if quick else 5, dict(learning=learning))


# ---- timing -------------------------------------------------------------------------------------

def timed(repeat, fn):
    """{best, median seconds, cpu_over_wall of the best run}, and the last result."""
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    k = int(np.argmin(walls))
    return dict(best_seconds=walls[k], median_seconds=float(np.median(walls)),
                cpu_over_wall=round(cpus[k] / walls[k], 2)), out


def per_sample(t: dict, n: int) -> dict:
    return dict(samples=n, best_seconds=round(t["best_seconds"], 4), median_seconds=round(t["median_seconds"], 4),
                samples_per_s=round(n / t["best_seconds"], 2), median_samples_per_s=round(n / t["median_seconds"], 2),
                cpu_over_wall=t["cpu_over_wall"])


def neurochip_rows(case: Case, repeat: int, cores: int):
    """The three ways of running the samples, timed, and whether they agree exactly."""
    sim, samples = case.sim, [{case.source: s} for s in case.x]

    def one_at_a_time():
        runs = []
        for s in samples:
            sim.reset()
            runs.append(sim.run(len(s[case.source]), s, record=()))
        return runs

    run = lambda w: sim.run_samples(samples, record=(), workers=w)  # noqa: E731
    sim.reset(), sim.run(2, {case.source: case.x[0][:2]}, record=()), run(1)  # compile (or load the Numba cache)
    t_one, singles = timed(repeat, one_at_a_time)
    t_w1, r1 = timed(repeat, lambda: run(1))
    t_wn, rn = timed(repeat, lambda: run(cores))
    pops = list(r1.spike_counts)
    same = all(np.array_equal(r.spike_counts[p], r1.spike_counts[p][k]) for k, r in enumerate(singles) for p in pops)
    same = same and all(np.array_equal(r.counters, r1.sample_counters[k]) for k, r in enumerate(singles))
    same = same and all(np.array_equal(r1.spike_counts[p], rn.spike_counts[p]) for p in pops)
    same = same and all(np.array_equal(a, b) for a, b in ((r1.sample_counters, rn.sample_counters),
                                                         (r1.counters, rn.counters)))
    n = len(samples)
    rows = {"one_at_a_time": per_sample(t_one, n), "run_samples_1_worker": per_sample(t_w1, n),
            f"run_samples_{cores}_workers": per_sample(t_wn, n)}
    return rows, bool(same), r1


# ---- Lava -----------------------------------------------------------------------------------------

def lava_row(case: Case, counts: dict, repeat: int) -> dict:
    """Per-sample wall of one long LIFReset run without monitors (see the module docstring), and
    a run of the first `lava_check` samples with spike monitors, checked against neurochip's."""
    from neurochip.mapping.lava.network import to_lava

    T = case.x.shape[1]

    def wall(n, record=()):
        stream, k = stream_samples(case.x[:n], case.lava_pad)
        best, out = np.inf, None
        for _ in range(repeat if not record else 1):
            t0 = time.perf_counter()
            out = to_lava(case.sim.net, {case.source: stream}, len(stream), record=record, reset_interval=k).run()
            best = min(best, time.perf_counter() - t0)
        return best, out, k

    n1, n2 = case.lava_samples
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t1, _, k = wall(n1)
        t2, _, _ = wall(n2)
        t_check, out, _ = wall(case.lava_check, ("spikes",))
    leaks = [str(w.message) for w in caught if "per-sample reset" in str(w.message)]
    equal = [all(np.array_equal(out["spikes"][p][s * k:s * k + T].sum(0), counts[p][s]) for p in counts)
             for s in range(case.lava_check)]
    return dict(version=version("lava-nc"), samples=[n1, n2], steps_per_sample=k, pad=case.lava_pad,
                wall_seconds=[round(t1, 3), round(t2, 3)], seconds_per_sample=round((t2 - t1) / (n2 - n1), 4),
                samples_per_s=round((n2 - n1) / (t2 - t1), 3), checked_samples=case.lava_check,
                check_wall_seconds_with_spike_monitors=round(t_check, 2),
                samples_identical=f"{sum(equal)}/{case.lava_check}", identical=all(equal), leaks=leaks)


# ---- SANA-FE --------------------------------------------------------------------------------------

def sanafe_problem(case: Case, n: int) -> dict:
    """The arrays of benchmarks/peers/throughput_sanafe.py's NET.npz for the first n samples.
    Units: Loihi's MSB-aligned integers (a << 6, vth << 6), so weights and thresholds are exact."""
    net, chip = case.sim.net, case.sim.chip
    arrays, pops, projs = {}, [], []
    for name in net.neurons():
        p = net.populations[name]
        if not isinstance(p, LoihiLIF) or p.reset != "zero" or len(set(p.bias.tolist())) != 1:
            raise SystemExit(f"SANA-FE export: population {name!r} must be a LoihiLIF with reset zero and one bias")
        pops.append(dict(name=name, n=p.n, threshold=int(p.vth) << VTH_SHIFT, bias=int(p.bias[0]),
                         leak_decay=(DECAY_ONE - int(p.dv)) / DECAY_ONE,
                         input_decay=(DECAY_ONE - (int(p.du) + 1)) / DECAY_ONE))
        arrays[f"tile_{name}"], arrays[f"core_{name}"] = sanafe_location(chip, np.asarray(case.placement.cores[name]))
    for k, proj in enumerate(net.projections):
        post, pre, w, delay = proj.synapses(True)
        if proj.weight_exp < 0 or np.any(delay != 0):
            raise SystemExit(f"SANA-FE export: projection {proj.name!r} needs weight_exp >= 0 and no delays")
        arrays[f"post_{k}"], arrays[f"pre_{k}"] = post, pre
        arrays[f"w_{k}"] = np.asarray(w, np.int64) << (int(proj.weight_exp) + ACT_SHIFT)
        projs.append(dict(pre=proj.pre, post=proj.post, key=str(k)))
    # the inputs fill the cores' free neuron slots in core order, from tile (0, 0) where the host injects
    free = SANAFE_NEURONS_PER_CORE - np.bincount(np.concatenate([case.placement.cores[p] for p in net.neurons()]),
                                                 minlength=chip.n_cores)
    core = np.repeat(np.arange(chip.n_cores), free)[:case.x.shape[2]]
    arrays[f"tile_{case.source}"], arrays[f"core_{case.source}"] = sanafe_location(chip, core)
    arrays[f"soma_{case.source}"] = np.arange(len(core)) - np.searchsorted(core, core)  # slot within its core
    meta = dict(source=dict(name=case.source, n=case.x.shape[2]), populations=pops, projections=projs)
    return dict(meta=json.dumps(meta), samples=case.x[:n], **arrays)


def sanafe_row(case: Case, counts: dict) -> dict:
    n = case.sanafe_samples
    with tempfile.TemporaryDirectory() as tmp:
        npz, out = Path(tmp) / "net.npz", Path(tmp) / "out.json"
        np.savez(npz, **sanafe_problem(case, n))
        r = subprocess.run([str(PEER_PY), str(SANAFE_SIDE), str(npz), str(out)], capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"SANA-FE side failed (exit {r.returncode}):\n{r.stderr[-3000:]}")
        sf = json.loads(out.read_text())
    agree = {}
    for p, c in sf["spike_counts"].items():
        theirs, ours = np.asarray(c), counts[p][:n]
        agree[p] = dict(samples_identical=int(sum(np.array_equal(a, b) for a, b in zip(theirs, ours))),
                        neuron_counts_equal=round(float(np.mean(theirs == ours)), 4),
                        spikes_neurochip=int(ours.sum()), spikes_sanafe=int(theirs.sum()))
    # SANA-FE's soma has no 24-bit registers: where neurochip's (Lava's) u wraps or v clips, they part
    sim = case.sim
    sim.reset()
    first = sim.run(len(case.x[0]), {case.source: case.x[0]}, record=["u", "v"])
    limits = {p: bool(np.abs(first.u[p]).max() >= U_MAX or np.abs(first.v[p]).max() >= V_LIMIT) for p in counts}
    seconds = np.asarray(sf["sample_seconds"])
    return dict(version=sf["version"], samples=n, build_seconds=round(sf["build_seconds"], 2),
                best_seconds_per_sample=round(float(seconds.min()), 4),
                median_seconds_per_sample=round(float(np.median(seconds)), 4),
                samples_per_s=round(1 / float(np.median(seconds)), 3),
                identical=all(a["samples_identical"] == n for a in agree.values()), agreement=agree,
                neurochip_24bit_limit_reached_sample_0=limits)


# ---- learning ---------------------------------------------------------------------------------------

def learning_rows(repeat: int, quick: bool) -> list:
    """Learner.learn_samples over the digits training set, a fresh learner each repeat."""
    x_tr, y_tr, _, _ = digits(LEARN_T)
    if quick:
        x_tr, y_tr = x_tr[:200], y_tr[:200]
    rows = []
    for label, rule in (("OTTT_A", OTTT()), ("MPD-ED", EventDriven("MPD-ED"))):
        make(rule, True).learn_sample(x_tr[0], y_tr[0])  # compile outside the timing
        load = os.getloadavg()[0]
        t, _ = timed(repeat, lambda: make(rule, True).learn_samples(x_tr, y_tr))
        rows.append(dict(method=label, network=f"digits 64-128-10, T = {LEARN_T}, one epoch", repeats=repeat,
                         load_average=load, **per_sample(t, len(x_tr))))
    return rows


# ---- report ---------------------------------------------------------------------------------------

def table(out: dict) -> str:
    lines = ["| network | neurochip one at a time | run_samples 1 thread | run_samples "
             f"{out['cores_usable']} threads | Lava 0.10 | SANA-FE | load |", "|---|---|---|---|---|---|---|"]
    f = lambda r: "n/a" if r is None else f"{r['samples_per_s']:,.4g}"  # noqa: E731
    for r in out["networks"]:
        nc, many = r["neurochip"], f"run_samples_{out['cores_usable']}_workers"
        lines.append(f"| {r['key']} | {f(nc['one_at_a_time'])} | {f(nc['run_samples_1_worker'])} | "
                     f"{f(nc[many])} | {f(r.get('lava'))} | "
                     f"{f(r.get('sanafe'))} | {r['load_average']:.2f} |")
    lines += ["", "| learning | network | samples/s (best) | median | load |", "|---|---|---|---|---|"]
    for r in out["learning"]:
        lines.append(f"| {r['method']} | {r['network']} | {r['samples_per_s']:,.4g} | "
                     f"{r.get('median_samples_per_s', r['samples_per_s']):,.4g} | {r['load_average']:.2f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--lava-repeat", type=int, default=2)
    ap.add_argument("--only", default="digits,cnn,temporal", help="comma-separated networks")
    ap.add_argument("--quick", action="store_true", help="few samples (a smoke run)")
    ap.add_argument("--no-lava", action="store_true")
    ap.add_argument("--no-sanafe", action="store_true")
    ap.add_argument("--json", type=Path, default=HERE / "results" / "throughput.json")
    args = ap.parse_args(argv)
    builders = {"digits": digits_case, "cnn": cnn_case, "temporal": temporal_case}
    keys = args.only.split(",")
    bad = [k for k in keys if k not in builders]
    if bad:
        ap.error(f"--only: unknown network(s) {bad}; choose from {list(builders)}")
    why = None if args.no_sanafe else peer_python_ok()
    if why:
        print(f"SANA-FE skipped: {why} (bash benchmarks/peers/setup_peer_venvs.sh)", file=sys.stderr)
    cores = len(os.sched_getaffinity(0))
    ok, networks, learning = True, [], []
    for key in keys:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            case = builders[key](quick=args.quick)
        load = os.getloadavg()[0]
        rows, same, r1 = neurochip_rows(case, args.repeat, cores)
        row = dict(key=key, network=case.label, samples=len(case.x), steps_per_sample=case.x.shape[1],
                   load_average=load, neurochip=dict(identical=same, **rows), **case.extra)
        learning += [row.pop("learning")] if "learning" in row else []
        ok &= same
        counts = {p: r1.spike_counts[p] for p in case.sim.net.neurons()}
        if not args.no_lava:
            row["lava"] = lava_row(case, counts, args.lava_repeat)
            ok &= row["lava"]["identical"]
        if not why and not args.no_sanafe:
            row["sanafe"] = sanafe_row(case, counts)
        networks.append(row)
        print(f"done: {key}", file=sys.stderr, flush=True)
    learning = learning_rows(args.repeat, args.quick) + learning
    out = dict(machine=f"{platform.machine()}, {os.cpu_count()} cores", cores_usable=cores,
               python=platform.python_version(), date=time.strftime("%Y-%m-%d"), networks=networks,
               learning=learning)
    print(json.dumps(out, indent=1))
    print(table(out))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
