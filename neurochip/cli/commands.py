"""What each `neurochip` subcommand does (argument parsing and exit codes: `neurochip.cli`)."""
from __future__ import annotations

import json
import os
import re
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np

from neurochip.chip.energy import energy, run_energy
from neurochip.chip.simulator import Simulator
from neurochip.chip.spec import ChipSpec, Profile, presets
from neurochip.mapping.graded import grade
from neurochip.mapping.lava.network import export_lava_script
from neurochip.mapping.lava.netx import export_netx_hdf5
from neurochip.mapping.nir.exporter import to_nir
from neurochip.mapping.nir.importer import from_nir
from neurochip.mapping.placement.place import map_network
from neurochip.mapping.placement.report import plot_mesh_heatmap
from neurochip.mapping.quantize import quantize
from neurochip.model.errors import FitError, NetworkError
from neurochip.model.files import check_memory, save_npy_atomic, write_atomic
from neurochip.rules.learner import Learner, checkpoint_options, learnable, learning_profile
from neurochip.rules.rule import BPTT, OTTT, RULES
from neurochip.studies.datasets import digits
from neurochip.studies.event_data import SACCADE_PER_CORE, saccade_digits
from neurochip.studies.learning_study import every_count, for_steps
from neurochip.studies.demo import main as demo
from neurochip.studies.report import write
from neurochip.studies.ttfs_report import write_report


DIGIT_STEPS = 16      # steps per digit unless --steps
DIGIT_SAMPLES = 100   # run: at most this many samples unless --samples
INPUT_KIND_CHOICES = ("auto", "spikes", "current")   # run --input-kind
REPORT_EPOCHS = 8     # report: epochs unless --epochs
DATA_SAMPLES = 1797    # the digits (and the saccade digits made of them): every sample is drawn


class OptionError(ValueError):
    """A command-line option's value, or a combination of options, that cannot work (exit 2)."""


def quiet(args) -> bool:
    return getattr(args, "quiet", False) or bool(os.environ.get("CI")) or not sys.stderr.isatty()


def _first_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_folder(path, option: str = "--out") -> Path:
    """`path` as a folder that exists or can be created and written, checked before any work
    starts (nothing is created here)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OptionError(f"{option} {path}: is a file, but a folder is expected; give a folder path "
                          "(a new one is created)")
    base = _first_existing(path)
    if not base.is_dir():
        raise OptionError(f"{option} {path}: cannot create the folder, {base} is a file; choose another path")
    if not os.access(base, os.W_OK | os.X_OK):
        raise OptionError(f"{option} {path}: cannot write into {base} (permission denied); choose another path")
    return path


def check_file(path, option: str, create_folder: bool) -> Path:
    """`path` as a file that can be written: not a folder, in a folder that exists (or, with
    `create_folder`, can be created) and is writable; checked before any work starts."""
    path = Path(path)
    if path.is_dir():
        raise OptionError(f"{option} {path}: is a folder, but a file is expected; give a file path")
    parent = path.parent
    if not create_folder and not parent.is_dir():
        what = "is a file" if parent.exists() else "does not exist"
        raise OptionError(f"{option} {path}: the folder {parent} {what}; create the folder or choose another path")
    base = _first_existing(parent)
    if not base.is_dir():
        raise OptionError(f"{option} {path}: cannot create the folder {parent}, {base} is a file; "
                          "choose another path")
    if not os.access(base, os.W_OK | os.X_OK):
        raise OptionError(f"{option} {path}: cannot write into {base} (permission denied); choose another path")
    return path


_DECAY = re.compile(r"\b(du|dv|decay)\b")


def import_nir(args):
    """The NIR file of `args.nir` imported with the user's conventions (float)."""
    path = Path(args.nir)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such NIR file" + (" (it is a folder)" if path.is_dir() else ""))
    try:
        return from_nir(path, dt=args.dt, reset=args.reset, timing=args.timing, reset_delay=args.reset_delay,
                        discretization=args.discretization, input_kind=getattr(args, "input_carries", "spikes"))
    except NetworkError as e:
        if not _DECAY.search(str(e)) or "--dt" in str(e):
            raise
        # the decays du, dv are dt / tau per step: a dt too large for the file's time constants
        where = "" if str(path) in str(e) else f"{path}: "
        raise NetworkError(f"--dt {args.dt:g} is too large for this network: {where}{e}; give a --dt no larger "
                           "than the smallest time constant in the file (snnTorch exports use 1e-4), or "
                           "--discretization exact") from None


def chip_of(args) -> ChipSpec:
    return ChipSpec.preset(args.chip) if not str(args.chip).endswith(".toml") else ChipSpec.from_toml(args.chip)


def load_network(args, x_max: float = 1.0, graded: list | None = None):
    """A NIR file imported with the user's conventions, quantized unless --float, and mapped:
    (imported, mapping). In fixed point a current input's payload is scaled for |x| up to
    `x_max` (`grade`; its reports are appended to `graded`)."""
    imp = import_nir(args)
    net = imp.net
    if not args.float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net, _ = quantize(net)
        net, reports = grade(net, chip_of(args), x_max)
        (graded if graded is not None else []).extend(reports)
    try:
        return imp, map_network(net, chip_of(args), args.partition)
    except FitError as e:
        raise FitError(f"{args.nir}: {e}") from None


def cmd_info(args) -> int:
    for name in presets("chips"):
        chip = ChipSpec.preset(name)
        c = chip.core
        board = f"{chip.chips_x}x{chip.chips_y} chips of " if chip.n_chips > 1 else ""
        print(f"chip {name}: {board}{chip.tiles_x}x{chip.tiles_y} tiles x {chip.cores_per_tile} cores = {chip.n_cores} cores; "
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
    out = check_folder(args.out)
    _, mapping = load_network(args)
    net, chip, report = mapping.net, mapping.chip, mapping.report()
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


def load_spikes(path) -> np.ndarray:
    """The spikes of `--input FILE.npy` as a bool array (samples, steps, n) (`load_input`)."""
    return load_input(path, "spikes")[0]


def load_input(path, kind: str = "auto") -> tuple[np.ndarray, str, str]:
    """(x, kind, why) of `--input FILE.npy`: one numpy array of real numbers, (samples, steps, n)
    or (steps, n), not empty, without NaN, inf or complex values; kind "spikes" (bool x: only
    0 and 1 allowed) or "current" (float64 x). `kind` "auto" picks spikes when every value is
    0 or 1, else current; `why` says how the kind was chosen."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--input {path}: no such input file" + (" (it is a folder)" if path.is_dir() else ""))
    try:
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise NetworkError(f"--input {path}: not a .npy array ({e}); save one with numpy.save") from None
    if not isinstance(x, np.ndarray):
        names = ", ".join(getattr(x, "files", [])[:5])
        getattr(x, "close", lambda: None)()
        raise NetworkError(f"--input {path}: an .npz archive of {names or 'no arrays'}, not one array of spikes or "
                           "values; save the input array alone with numpy.save (.npy)")
    if x.ndim not in (2, 3):
        raise NetworkError(f"--input {path}: the input must be (samples, steps, n) or (steps, n), got shape {x.shape}")
    x = x[None] if x.ndim == 2 else x
    if x.size == 0:
        raise NetworkError(f"--input {path}: no spikes or values to run, shape {x.shape} (samples, steps, n); "
                           "give at least one sample of one step")
    if x.dtype.kind == "c":
        raise NetworkError(f"--input {path}: complex values ({x.dtype}); the input must be real: 0/1 or bool "
                           "spikes, or real values with --input-kind current")
    if x.dtype.kind not in "biuf":
        raise NetworkError(f"--input {path}: the input must be numbers (0/1 or bool spikes, or real values), got "
                           f"{x.dtype}")
    if x.dtype.kind == "f" and kind != "spikes" and not np.all(np.isfinite(x)):
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(x))[0])
        raise NetworkError(f"--input {path}: {int(np.sum(~np.isfinite(x)))} NaN or inf value(s) (the first, "
                           f"{x[where]}, at sample, step, input {where}); give finite values")
    binary = x.dtype.kind == "b" or bool(np.all((x == 0) | (x == 1)))
    if kind == "auto":
        kind, why = ("spikes", "--input-kind auto: the file holds only 0 and 1") if binary else \
            ("current", "--input-kind auto: the file holds values other than 0 and 1")
    else:
        why = f"--input-kind {kind}"
    if kind == "spikes":
        if not binary:
            bad = ~((x == 0) | (x == 1))
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            values = ", ".join(f"{v:g}" for v in np.unique(x[bad])[:5])
            raise NetworkError(f"--input {path}: spikes must be 0 or 1 (or bool), found {int(bad.sum())} other "
                               f"values ({values}; the first, {x[where]:g}, at sample, step, input {where}); binarize "
                               "the array (e.g. x > 0) before saving it, or give --input-kind current for analog input")
        return x.astype(bool), kind, why
    return x.astype(np.float64), kind, why


def _inputs(args, n_in, spikes=None):
    """(samples, steps, n_in) input and labels or None, from --input FILE.npy (`spikes`, read
    by `load_input` before the network) or --digits."""
    samples = args.samples or DIGIT_SAMPLES
    if args.input:
        path = Path(args.input)
        x = load_spikes(path) if spikes is None else spikes
        if x.shape[2] != n_in:
            raise NetworkError(f"--input {path}: the input must be (samples, steps, {n_in}) or (steps, {n_in}) for "
                               f"the network's {n_in} inputs (its Input node's size, flattened row-major), got "
                               f"{x.shape}")
        if args.steps is not None and args.steps != x.shape[1]:
            raise OptionError(f"--steps {args.steps}: --input {path} has {x.shape[1]} steps per sample; drop --steps "
                              "(it sets the steps of --digits) or give the file's count")
        return x[:samples], None
    if n_in != 64:
        raise NetworkError(f"--digits feeds 64 pixels but the network's input has {n_in}; give --input FILE.npy")
    _, _, x, y = digits(args.steps or DIGIT_STEPS)
    return x[:samples], y[:samples]


def cmd_run(args) -> int:
    counts_out = check_file(args.counts_out, "--counts-out", create_folder=False) if args.counts_out else None
    spikes, why = None, "--digits: Bernoulli spike trains of the pixels"
    if args.input:  # a bad file fails before the mapping
        spikes, args.input_carries, why = load_input(args.input, args.input_kind)
    elif args.input_kind == "current":
        raise OptionError("--input-kind current needs --input FILE.npy of real values (--digits feeds spikes)")
    else:   # the digits are drawn (as float64) before --samples picks some: check the memory first
        steps = args.steps or DIGIT_STEPS
        check_memory(f"--steps {steps} ({DATA_SAMPLES} digits x {steps} steps x 64 pixels)",
                     DATA_SAMPLES * steps * 64 * 10, OptionError, "give a smaller --steps")
    graded = []
    x_max = float(np.abs(spikes).max()) if args.input and args.input_carries == "current" else 0.0
    imp, mapping = load_network(args, x_max or 1.0, graded)
    net, chip = mapping.net, mapping.chip
    carries = getattr(args, "input_carries", "spikes")
    print(f"input: {carries} ({why})")
    if carries == "current":
        print(f"  {', '.join(graded_lines(graded, chip.name))}" if graded else
              "  float: each step's x[t] is multiplied by the first layer's weights and added as current (W x[t])")
    (src,) = imp.inputs.values()
    x, y = _inputs(args, net.populations[src].n, spikes)
    (out_pop,) = imp.outputs.values()
    sim = Simulator(net, chip, mapping.placement, mapping.table)
    T = x.shape[1]
    # framework timing lags layer p by lag[p] steps; Lava timing adds a step per projection
    tail = max(imp.lag.values(), default=0) if args.timing == "framework" else len(net.projections)
    res = sim.run_samples([imp.inputs_for(s, T + tail if args.timing == "lava" else None) for s in x],
                          steps=T + tail, populations=[out_pop], progress=None if quiet(args) else "inference")
    # the output's spikes in the source's timeline: its T steps, behind the source by its lag
    counts = np.stack([imp.align(r, out_pop, T) for r in res.spikes[out_pop]]).sum(1)
    e = run_energy(res, chip.profile).per(len(x))
    print(f"{len(x)} samples x {T} steps on {chip.name} ({len(sim.program.core_ids)} cores)")
    if y is not None and counts.shape[1] == 10:
        print(f"accuracy (most output spikes): {np.mean(counts.argmax(1) == y):.3f}")
    print(f"output spikes per sample: {counts.sum(1).mean():.1f}")
    print(f"energy per inference: {e.total_pj / 1e3:.1f} nJ ({chip.profile.name}"
          + (f"; unknown costs: {', '.join(e.unknown)}" if e.unknown else "") + ")")
    print(f"latency per inference: {np.nansum(res.step_latency_ns) / len(x) / 1e3:.1f} us")
    if counts_out:
        save_npy_atomic(counts_out, OptionError, counts.astype(np.int64))
        print(f"output spike counts (samples, {counts.shape[1]}): {counts_out}")
    return 0


def graded_lines(reports, chip: str) -> list[str]:
    """How each current input reaches the chip (`GradedReport.describe`)."""
    return [r.describe(chip) for r in reports]


def cmd_learn(args) -> int:
    ckpt = check_file(args.checkpoint, "--checkpoint", create_folder=False) if args.checkpoint else None
    out_json = check_file(args.json, "--json", create_folder=False) if args.json else None
    if args.resume and not ckpt:
        raise OptionError("--resume needs --checkpoint FILE, the checkpoint to continue from")
    if getattr(args, "force", False) and not ckpt:
        raise OptionError("--force needs --checkpoint FILE, the checkpoint a new run may overwrite")
    if getattr(args, "force", False) and args.resume:
        raise OptionError("--force starts over and --resume continues the checkpoint: give one of them")
    if args.checkpoint_every and not ckpt:
        raise OptionError(f"--checkpoint-every {args.checkpoint_every} needs --checkpoint FILE to write to")
    if ckpt and out_json and ckpt.resolve() == out_json.resolve():
        raise OptionError(f"--json {out_json}: is the --checkpoint file too; give them different names")
    if args.resume and not ckpt.is_file():
        raise FileNotFoundError(f"--resume: no checkpoint at {ckpt}; start without --resume")
    if ckpt and ckpt.exists() and not args.resume and not getattr(args, "force", False):
        raise OptionError(f"--checkpoint {ckpt}: the file exists; add --resume to continue it, --force to start over "
                          "and overwrite it, or choose another file (a new run never replaces it unasked)")
    recorded = checkpoint_options(ckpt) if args.resume else {}
    for k in RESUME_DEFAULTS:   # --resume: what was not given is the checkpoint's
        if getattr(args, k) is None and recorded.get(k) is not None and not (k == "hidden" and args.nir):
            setattr(args, k, recorded[k])
    if args.nir and args.hidden is not None:
        raise OptionError(f"--hidden {args.hidden}: the layers come from {args.nir}; --hidden sizes a new network")
    steps = args.steps or (DIGIT_STEPS if args.data == "digits" else 300)
    rule = RULES[args.rule](**({} if args.eta is None else {"eta": args.eta}))
    rule = for_steps(rule, steps)
    if recorded:   # before any work (the checkpoint's --train was taken above if not given)
        same_options(ckpt, recorded, learn_options(args, rule, args.train, steps))
    check_learn_sizes(args)
    x_tr, y_tr, x_te, y_te = learning_data(args)
    if args.train is not None and args.train > len(x_tr):
        raise OptionError(f"--train {args.train}: the {args.data} training set has {len(x_tr)} samples; "
                          f"give at most {len(x_tr)} (or leave --train out to use them all)")
    x_tr, y_tr = x_tr[: args.train], y_tr[: args.train]
    if args.resume and args.hidden is None and not args.nir:
        args.hidden = checkpoint_hidden(ckpt)
    options = learn_options(args, rule, len(x_tr), x_tr.shape[1])
    learner = _learner(args, rule, x_tr.shape[2])
    learner.options = options
    if ckpt:
        learner.save = GuardedSave(ckpt, learner.save)
    if args.resume:
        learner.restore(ckpt)
        if learner.progress[0] >= args.epochs:
            raise OptionError(f"--epochs {args.epochs}: {ckpt} has already done {learner.progress[0]} epochs; "
                              f"give --epochs {learner.progress[0] + 1} or more to go on")
        if learner.progress[1] > len(x_tr):
            raise OptionError(f"--train {len(x_tr)}: {ckpt} stopped at sample {learner.progress[1]} of an epoch; "
                              "give the --train it was started with")
        print(f"resumed {ckpt} at epoch {learner.progress[0] + 1}, sample {learner.progress[1]}")
    before = learner.accuracy(x_te, y_te)
    learned0 = learner.samples_learned
    learner.fit(x_tr, y_tr, args.epochs, eval_set=(x_te, y_te), checkpoint=ckpt,
                checkpoint_every=args.checkpoint_every, progress=not quiet(args))
    for row in learner.history:
        print(f"epoch {row['epoch']}: loss {row['loss']:.4f}, test accuracy {row['test_accuracy']:.3f}")
    result = learning_result(learner, before, learner.accuracy(x_te, y_te), x_tr.shape[1])
    print(f"{rule.label}: accuracy {result['accuracy_before']:.3f} -> {result['accuracy_after']:.3f}; "
          f"{result['energy_per_update_uj']:.3f} uJ per update ({result['learning_energy_per_update_uj']:.3f} uJ "
          f"learning phase), learning latency {_us(result['learning_latency_per_update_us'])} per update, state "
          f"{learner.state_bytes(x_tr.shape[1])} bytes")
    if learner.samples_learned == learned0:
        print("nothing learned: the checkpoint had done every epoch asked for")
    if out_json:
        text = json.dumps(result, indent=1).encode()
        write_atomic(out_json, OptionError, lambda f: f.write(text), ".json")
        print(f"results: {out_json}")
    if ckpt:
        print(f"checkpoint: {ckpt}")
    return 0


def _us(value) -> str:
    return "unknown" if value is None else f"{value:.3f} us"


RESUME_DEFAULTS = ("hidden", "steps", "train", "eta")   # --resume takes the checkpoint's when not given
_FLAGS = ("float", "reset_delay")   # options without a value


def learn_options(args, rule, train: int, steps: int) -> dict:
    """The options of `neurochip learn` a checkpoint records and a resume must repeat, as
    they took effect (defaults filled in)."""
    opts = dict(rule=args.rule, eta=getattr(rule, "eta", None), hidden=None if args.nir else args.hidden or 128,
                steps=steps, train=train, float=bool(args.float), seed=args.seed, data=args.data,
                chip=args.chip if not str(args.chip).endswith(".toml") else str(Path(args.chip).resolve()))
    if args.nir:
        opts.update(dt=args.dt, reset=args.reset, timing=args.timing, reset_delay=bool(args.reset_delay),
                    discretization=args.discretization, partition=args.partition)
    return opts


def same_options(ckpt, recorded: dict, options: dict) -> None:
    """OptionError naming every option whose value differs from the checkpoint's record."""
    def show(k, v):
        flag = "--" + k.replace("_", "-")
        if k in _FLAGS:
            return flag if v else f"no {flag}"
        return f"{flag} {v:g}" if isinstance(v, float) else f"{flag} {v}" if v is not None else f"no {flag}"

    diff = [k for k in sorted(set(recorded) | set(options)) if recorded.get(k) != options.get(k)]
    if diff:
        raise OptionError(f"--resume: this run's options differ from those {ckpt} was started with: "
                          + ", ".join(f"{show(k, options.get(k))} (the checkpoint: {show(k, recorded.get(k))})"
                                      for k in diff)
                          + "; give the checkpoint's (--hidden, --steps, --train and --eta default to them), or "
                            "start a new checkpoint")


class GuardedSave:
    """`save(path)` of a learner that never replaces a checkpoint another run wrote while this
    one ran: the file must still be as this run found it or last wrote it. Otherwise this
    run's state goes to a file of its own beside it and OptionError names both."""

    def __init__(self, path: Path, save):
        self.path, self.save = Path(path), save
        self.mine = _stamp(self.path)   # the file as found (None: absent), which this run may replace

    def __call__(self, path) -> None:
        path = Path(path)
        if path != self.path:
            return self.save(path)
        if _stamp(path) != self.mine:
            own = path.with_name(f"{path.stem}.{os.getpid()}{path.suffix}")
            self.save(own)
            raise OptionError(f"--checkpoint {path}: another run wrote it while this one ran; it is left as that run "
                              f"wrote it, and this run's state is in {own} (continue it with --checkpoint {own} "
                              "--resume)")
        self.save(path)
        self.mine = _stamp(path)


def _stamp(path: Path):
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def check_learn_sizes(args, dataset: str | None = None) -> None:
    """--steps or --hidden whose arrays cannot fit this machine's memory: OptionError naming
    the option, the value, the memory needed and available, before anything is allocated.
    The estimate: every sample's spikes (drawn as float64: ~10 bytes a step and channel) and,
    per hidden neuron, its synapses with their learning state (~32 bytes each). `dataset`:
    the data set when `args` has no --data (report's --kind)."""
    dataset = dataset or args.data
    n_in = 64 if dataset == "digits" else 2 * 16 ** 2
    steps = args.steps or (DIGIT_STEPS if dataset == "digits" else 300)
    hidden = 0 if getattr(args, "nir", None) else getattr(args, "hidden", None) or 128
    data, net = DATA_SAMPLES * steps * n_in * 10, hidden * (n_in + 10) * 32
    if data >= net:
        what = f"--steps {steps} ({DATA_SAMPLES} samples x {steps} steps x {n_in} channels)"
    else:
        what = f"--hidden {hidden} ({hidden} x {n_in + 10} synapses and their learning state)"
    check_memory(what, data + net, OptionError, f"give a smaller {what.split()[0]}")


def checkpoint_hidden(path) -> int | None:
    """The hidden size of a digits-chain checkpoint, so `--resume` needs no `--hidden`
    (None when the file does not say; `restore` then names what differs)."""
    try:
        with np.load(path, allow_pickle=False) as d:
            meta = json.loads(str(d["meta"] if "meta" in d.files else d["config"]))
        sizes = meta.get("identity", {}).get("config", meta).get("sizes")
        return int(sizes[1]) if isinstance(sizes, list) and len(sizes) == 3 else None
    except Exception:   # a damaged file is reported by restore, with its name
        return None


def learning_data(args):
    """(x_train, y_train, x_test, y_test) of `neurochip learn --data`: the digits as
    Bernoulli spike trains of --steps steps (default 16), or the saccade digits' events
    (--steps, default 300, a multiple of 3: three saccades)."""
    if args.data == "digits":
        return digits(args.steps or DIGIT_STEPS)
    steps = args.steps or 300
    if steps % 3:
        raise OptionError(f"--steps {steps}: --data saccade moves each digit in three saccades; give a multiple of 3")
    return saccade_digits(steps_per_saccade=steps // 3)


def _learner(args, rule, n_in: int):
    """The learner of `neurochip learn` for data of `n_in` channels, on the chip's plastic
    cores: a NIR network (OTTT or BPTT-SG) or a new chain."""
    fixed = not args.float
    if args.nir and not isinstance(rule, (OTTT, BPTT)):
        raise OptionError(f"--rule {args.rule}: fine-tuning a NIR network takes ottt_a, ottt_o, bptt or bptt_full "
                          "(its last layer becomes a memoryless readout; the event-driven rules need a spiking "
                          "readout)")
    if not args.nir:
        return Learner([n_in, args.hidden or 128, 10], rule, fixed=fixed, seed=args.seed, chip=chip_of(args),
                       per_core=None if n_in == 64 else SACCADE_PER_CORE)
    imp = import_nir(args)
    net = learnable(imp.net, fixed)
    have = net.populations[net.sources()[0]].n
    if have != n_in:
        raise NetworkError(f"{args.nir}: its input has {have} channels; --data {args.data} has {n_in}")
    chip = chip_of(args)
    try:
        placement = map_network(net, chip, args.partition).placement
        return Learner.from_network(net, rule, seed=args.seed, chip=chip, placement=placement)
    except FitError as e:
        raise FitError(f"{args.nir}: {e}") from None


def learning_result(learner, before: float, after: float, T: int) -> dict:
    """What `neurochip learn --json` writes: accuracies, energy and latency per update (one
    training sample), and the counters per update, learning phase and forward pass apart."""
    n = max(1, learner.samples_learned)
    profile = learning_profile()
    learn_c, infer_c = learner.counts("learn"), learner.counts("infer")
    total = energy(every_count(learner), profile)
    learning = energy(learn_c, profile)
    latency = learner.latency_us()
    return {"rule": learner.rule.label, "updates": n, "accuracy_before": before, "accuracy_after": after,
            "energy_per_update_uj": total.total_pj / n / 1e6,
            "learning_energy_per_update_uj": learning.total_pj / n / 1e6,
            "learning_latency_per_update_us": latency.get("learning_us"),
            "latency_per_update_us": latency.get("total_us"), "profile": profile.name,
            "unknown_costs": sorted(set(total.unknown)), "state_bytes": learner.state_bytes(T),
            "counters": {"learning": {k: v / n for k, v in learn_c.items()},
                         "inference": {k: v / n for k, v in infer_c.items()}}}


def cmd_export(args) -> int:
    out = check_file(args.out, "--out", create_folder=True)
    if args.format == "lava":
        for f in (out.with_suffix(".py"), out.with_suffix(".npz")):
            check_file(f, "--out", create_folder=True)
    else:
        given = [o for o, v in (("--input", args.input), ("--digits", args.digits), ("--steps", args.steps),
                                ("--samples", args.samples)) if v]
        if given:
            raise OptionError(f"{', '.join(given)}: `export {args.format}` writes the network only; input options "
                              "are for `export lava` (its first input sample); drop them")
    x_in, graded = None, []
    if args.format == "lava" and args.input:   # spikes or real values (a current: graded spikes), as `run`
        x_in, args.input_carries, _ = load_input(args.input, args.input_kind)
    elif args.format == "lava" and args.input_kind == "current":
        raise OptionError("--input-kind current needs --input FILE.npy of real values (--digits feeds spikes)")
    x_max = float(np.abs(x_in).max()) if x_in is not None and args.input_carries == "current" else 0.0
    imp, mapping = load_network(args, x_max or 1.0, graded)
    net = mapping.net
    if args.format == "nir":
        import nir
        out.parent.mkdir(parents=True, exist_ok=True)
        nir.write(out, to_nir(net, args.dt, imp))
        print(f"wrote {out}")
    elif args.format == "netx":
        out.parent.mkdir(parents=True, exist_ok=True)
        export_netx_hdf5(net, out)
        print(f"wrote {out} (lava-dl NetX layout)")
    else:
        (src,) = imp.inputs.values()
        x, _ = _inputs(args, net.populations[src].n, x_in)
        py, npz = export_lava_script(net, out, {src: x[0]}, x.shape[1])
        print(f"wrote {py} and {npz}: `python {py}` rebuilds the network in Lava (first input sample)")
        for line in graded_lines(graded, mapping.chip.name):
            print(f"  input: {line}")
    return 0


def cmd_report(args) -> int:
    out = check_folder(args.out or f"energy_reports/{args.kind}")
    if args.kind == "ttfs":
        given = [f"--{k} {v}" for k, v in (("epochs", args.epochs), ("steps", args.steps), ("train", args.train),
                                           ("test", args.test)) if v is not None]
        if given:
            raise OptionError(f"{', '.join(given)}: `report --kind ttfs` has fixed settings and takes none of "
                              "--epochs, --steps, --train, --test; drop them (they are for --kind digits)")
        folder = write_report(out, progress=not quiet(args))
    else:
        _, y_tr, _, y_te = digits(None)
        for option, n, have in (("--train", args.train, len(y_tr)), ("--test", args.test, len(y_te))):
            if n is not None and n > have:
                raise OptionError(f"{option} {n}: the digits set has {have} samples for it; give at most {have} "
                                  f"(or leave {option} out to use them all)")
        if args.kind == "saccade" and args.steps is not None:
            raise OptionError(f"--steps {args.steps}: `report --kind saccade` runs the embedded data's 300 steps; "
                              "drop --steps")
        check_learn_sizes(args, dataset=args.kind)
        folder = write(out, T=args.steps or DIGIT_STEPS, epochs=args.epochs or REPORT_EPOCHS, train=args.train,
                       test=args.test, data=args.kind, progress=not quiet(args))
    print(f"wrote {folder / 'report.md'}, report.json and figures")
    return 0


def cmd_demo(args) -> int:
    return demo(out=str(check_folder(args.out)))
