"""What each `neurochip` subcommand does (argument parsing and exit codes: `neurochip.cli`)."""
from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from neurochip.chip.energy import energy, run_energy
from neurochip.chip.simulator import Simulator
from neurochip.chip.spec import ChipSpec, Profile, presets
from neurochip.mapping.lava.network import export_lava_script
from neurochip.mapping.lava.netx import export_netx_hdf5
from neurochip.mapping.nir.exporter import to_nir
from neurochip.mapping.nir.importer import from_nir
from neurochip.mapping.placement.place import map_network
from neurochip.mapping.placement.report import plot_mesh_heatmap
from neurochip.mapping.quantize import quantize
from neurochip.model.errors import FitError, NetworkError
from neurochip.rules.learner import Learner
from neurochip.rules.rule import RULES
from neurochip.studies.datasets import digits
from neurochip.studies.demo import main as demo
from neurochip.studies.learning_study import learning_profile
from neurochip.studies.report import write
from neurochip.studies.ttfs_report import write_report


def quiet(args) -> bool:
    return getattr(args, "quiet", False) or bool(os.environ.get("CI")) or not sys.stderr.isatty()


def load_network(args):
    """A NIR file imported with the user's conventions, quantized unless --float, and mapped:
    (imported, mapping)."""
    path = Path(args.nir)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such NIR file")
    imp = from_nir(path, dt=args.dt, reset=args.reset, timing=args.timing, reset_delay=args.reset_delay,
                   discretization=args.discretization)
    net = imp.net
    if not args.float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net, _ = quantize(net)
    chip = ChipSpec.preset(args.chip) if not str(args.chip).endswith(".toml") else ChipSpec.from_toml(args.chip)
    try:
        return imp, map_network(net, chip, args.partition)
    except FitError as e:
        raise FitError(f"{path}: {e}") from None


def cmd_info(args) -> int:
    for name in presets("chips"):
        chip = ChipSpec.preset(name)
        c = chip.core
        print(f"chip {name}: {chip.tiles_x}x{chip.tiles_y} tiles x {chip.cores_per_tile} cores = {chip.n_cores} cores; "
              f"per core {c.compartments} compartments, {c.input_axons} in-axons, {c.output_axons} out-axons, "
              f"{c.synapse_memory_bits} synapse bits; profile {chip.profile.name}")
    for name in presets("profiles"):
        p = Profile.preset(name)
        known = sum(1 for e in p.events.values() if e.energy_pj == e.energy_pj)
        print(f"profile {name}: {p.citation} ({p.process}); {known} of {len(p.events)} event costs known")
    print("rules: " + ", ".join(f"{k} ({RULES[k]().label})" for k in RULES) + "; Loihi engine (export to Lava): STDP, R-STDP "
          "(neurochip.rules.loihi_rule)")
    return 0


def cmd_map(args) -> int:
    _, mapping = load_network(args)
    net, chip, report = mapping.net, mapping.chip, mapping.report()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "mapping.json").write_text(json.dumps(report, indent=1))
    plot_mesh_heatmap(report, chip, out / "mesh.png")
    print(f"{args.nir}: {sum(p.n for p in net.populations.values())} neurons in {len(net.populations)} populations, "
          f"{'float' if args.float else 'Loihi fixed point'}")
    print(f"mapped onto {chip.name}: {report['cores_used']} cores; peak use " +
          ", ".join(f"{k} {max(v):.0%}" for k, v in report["utilization"].items()))
    print(f"traffic: {report['inter_core_traffic']:.0f} inter-core packets per step at rate 1, "
          f"{report['hop_traffic']:.0f} hop-weighted")
    print(f"wrote {out / 'mapping.json'} and {out / 'mesh.png'}")
    return 0


def _inputs(args, n_in):
    """(samples, steps, n_in) spikes and labels or None, from --input FILE.npy or --digits."""
    if args.input:
        path = Path(args.input)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such input file")
        try:
            x = np.load(path)
        except ValueError as e:
            raise NetworkError(f"{path}: not a .npy array of spikes ({e})") from None
        x = x[None] if x.ndim == 2 else x
        if x.ndim != 3 or x.shape[2] != n_in:
            raise NetworkError(f"{path}: spikes must be (samples, steps, {n_in}) or (steps, {n_in}), got {x.shape}")
        return x.astype(bool)[: args.samples], None
    if n_in != 64:
        raise NetworkError(f"--digits feeds 64 pixels but the network's input has {n_in}; give --input FILE.npy")
    _, _, x, y = digits(args.steps)
    return x[: args.samples], y[: args.samples]


def cmd_run(args) -> int:
    imp, mapping = load_network(args)
    net, chip = mapping.net, mapping.chip
    (src,) = imp.inputs.values()
    x, y = _inputs(args, net.populations[src].n)
    (out_pop,) = imp.outputs.values()
    sim = Simulator(net, chip, mapping.placement, mapping.table)
    T = x.shape[1]
    # framework timing lags layer p by lag[p] steps; Lava timing adds a step per projection
    tail = max(imp.lag.values(), default=0) if args.timing == "framework" else len(net.projections)
    res = sim.run_samples([imp.inputs_for(s, T + tail if args.timing == "lava" else None) for s in x],
                          steps=T + tail, populations=[out_pop], progress=None if quiet(args) else "inference")
    counts = res.spikes[out_pop].sum(1)
    e = run_energy(res, chip.profile).per(len(x))
    print(f"{len(x)} samples x {T} steps on {chip.name} ({len(sim.program.core_ids)} cores)")
    if y is not None and counts.shape[1] == 10:
        print(f"accuracy (most output spikes): {np.mean(counts.argmax(1) == y):.3f}")
    print(f"output spikes per sample: {counts.sum(1).mean():.1f}")
    print(f"energy per inference: {e.total_pj / 1e3:.1f} nJ ({chip.profile.name}"
          + (f"; unknown costs: {', '.join(e.unknown)}" if e.unknown else "") + ")")
    print(f"latency per inference: {np.nansum(res.step_latency_ns) / len(x) / 1e3:.1f} us")
    return 0


def cmd_learn(args) -> int:
    x_tr, y_tr, x_te, y_te = digits(args.steps)
    x_tr, y_tr = x_tr[: args.train], y_tr[: args.train]
    ckpt = Path(args.checkpoint) if args.checkpoint else None
    if args.resume:
        if not ckpt or not ckpt.is_file():
            raise FileNotFoundError(f"--resume: no checkpoint at {ckpt}; start without --resume")
        learner = Learner.load(ckpt)
        print(f"resumed {ckpt} at epoch {learner.progress[0] + 1}, sample {learner.progress[1]}")
    else:
        learner = Learner([64, args.hidden, 10], RULES[args.rule](), fixed=not args.float, seed=args.seed)
    learner.fit(x_tr, y_tr, args.epochs, eval_set=(x_te, y_te), checkpoint=ckpt,
                checkpoint_every=args.checkpoint_every, progress=not quiet(args))
    for row in learner.history:
        print(f"epoch {row['epoch']}: loss {row['loss']:.4f}, test accuracy {row['test_accuracy']:.3f}")

    n = max(1, len(learner.history)) * len(x_tr)
    e = energy(learner.counts("learn"), learning_profile()).per(n)
    print(f"{learner.rule.label}: {e.total_pj / 1e6:.3f} uJ per training sample "
          f"({e.by_phase()['learning'] / 1e6:.3f} uJ learning phase), state {learner.state_bytes(args.steps)} bytes")
    if ckpt:
        print(f"checkpoint: {ckpt}")
    return 0


def cmd_export(args) -> int:
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    imp, mapping = load_network(args)
    net = mapping.net
    if args.format == "nir":
        import nir
        nir.write(out, to_nir(net, args.dt, imp))
        print(f"wrote {out}")
    elif args.format == "netx":
        export_netx_hdf5(net, out)
        print(f"wrote {out} (lava-dl NetX layout)")
    else:
        (src,) = imp.inputs.values()
        x, _ = _inputs(args, net.populations[src].n)
        py, npz = export_lava_script(net, out, {src: x[0]}, x.shape[1])
        print(f"wrote {py} and {npz}: `python {py}` rebuilds the network in Lava (first input sample)")
    return 0


def cmd_report(args) -> int:
    out = args.out or f"energy_reports/{args.kind}"
    if args.kind == "ttfs":
        folder = write_report(out, progress=not quiet(args))
    else:
        folder = write(out, T=args.steps, epochs=args.epochs, train=args.train, test=args.test,
                       progress=not quiet(args))
    print(f"wrote {folder / 'report.md'}, report.json and figures")
    return 0


def cmd_demo(args) -> int:
    return demo(out=args.out)
