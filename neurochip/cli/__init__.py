"""The `neurochip` command: from a trained network to a placed chip program, inference,
on-chip learning, energy reports and exports.

Exit codes: 0 done; 2 bad input (missing or malformed file, bad option or parameter);
3 the network does not fit the chip; 130 interrupted (Ctrl-C; checkpoints
written so far are intact); 1 anything unexpected (with a traceback)."""
import argparse
import math
import os
import signal
import sys

from neurochip.cli import commands, sweep
from neurochip.cli.commands import OptionError
from neurochip.mapping.nir.importer import DISCRETIZATIONS, TIMINGS
from neurochip.mapping.placement.partition import PARTITION_METHODS
from neurochip.model.errors import DataError, FitError, NetworkError, SpecError
from neurochip.model.neurons import RESETS
from neurochip.rules.rule import RULES

EXIT_INPUT, EXIT_FIT, EXIT_INTERRUPTED = 2, 3, 130
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE   # what a shell reports for a command stopped by SIGPIPE


def number(cast, ok, allowed: str):
    """An argparse `type=` that parses with `cast` and accepts what `ok` accepts; argparse
    reports anything else as "argument --x: must be <allowed>, got '<text>'" (exit 2)."""
    def parse(text):
        try:
            value = cast(text)
        except (TypeError, ValueError):
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"must be {allowed}, got {text!r}")
        return value
    parse.__name__ = allowed
    return parse


positive_int = number(int, lambda v: v >= 1, "a whole number of 1 or more")
non_negative_int = number(int, lambda v: v >= 0, "a whole number of 0 or more")
positive_float = number(float, lambda v: math.isfinite(v) and v > 0, "a finite number above 0")
positive_seconds = number(float, lambda v: math.isfinite(v) and v > 0,
                          "a finite number of seconds above 0 (snnTorch exports use 1e-4)")


def _nir_options(p, with_input=False, optional=False):
    if optional:
        p.add_argument("nir", nargs="?", help="NIR file (.nir) of a trained network (default: a new digits network)")
    else:
        p.add_argument("nir", help="NIR file (.nir) of a trained network")
    p.add_argument("--dt", type=positive_seconds, default=1e-4,
                   help="time step in seconds (NIR has none; snnTorch: 1e-4)")
    p.add_argument("--reset", choices=RESETS, default="zero", help="reset convention of the source")
    p.add_argument("--timing", choices=TIMINGS, default="framework",
                   help="framework: no delay within a step (snnTorch, Norse, Sinabs); lava: one step per projection")
    p.add_argument("--reset-delay", action="store_true", help="snnTorch's one-step-late reset")
    p.add_argument("--discretization", choices=DISCRETIZATIONS, default="euler")
    p.add_argument("--float", action="store_true", help="keep float weights (default: Loihi fixed point)")
    p.add_argument("--chip", default="loihi1", help="chip preset or a chip .toml file")
    p.add_argument("--partition", choices=PARTITION_METHODS, default="metis")
    if with_input:
        source = p.add_mutually_exclusive_group()
        source.add_argument("--input", help="input as .npy, (samples, steps, n) or (steps, n), n the Input's size "
                                            "flattened row-major: spikes (0/1 or bool) or real values (--input-kind)")
        source.add_argument("--digits", action="store_true", help="scikit-learn's digits test set (default input)")
        p.add_argument("--steps", type=positive_int, default=None,
                       help=f"steps per digit (default {commands.DIGIT_STEPS}; --input files give their own)")
        p.add_argument("--samples", type=positive_int, default=None, help="at most this many samples (default 100)")
        p.add_argument("--input-kind", choices=commands.INPUT_KIND_CHOICES, default="auto",
                       help="what --input carries: spikes (0/1 a step) or current (real values, direct encoding: "
                            "x[t] reaches the first layer as W x[t]); auto: spikes if the file holds only 0 and 1")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="neurochip", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quiet", action="store_true", help="no progress bars (also under CI or without a terminal)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("info", help="chip presets, energy profiles and learning rules")
    p = sub.add_parser("map", help="NIR file -> placed chip program and mapping report")
    _nir_options(p)
    p.add_argument("--out", default="neurochip_map", help="folder for mapping.json and mesh.png")
    p = sub.add_parser("run", help="inference on the chip: accuracy, energy, latency")
    _nir_options(p, with_input=True)
    p.add_argument("--counts-out", help="write the output spike counts per sample, (samples, n_out) int64 .npy, "
                                        "counted over the source's T steps")
    p = sub.add_parser("learn", help="on-chip learning on digits with a rule, from scratch or fine-tuning a NIR "
                                     "network (checkpoints, resume, --json results)")
    _nir_options(p, optional=True)
    p.add_argument("--rule", default="ottt_a", choices=tuple(RULES))
    p.add_argument("--eta", type=positive_float, default=None, help="learning rate (default: the rule's)")
    p.add_argument("--epochs", type=positive_int, default=5, help="train until this many epochs are done")
    p.add_argument("--hidden", type=positive_int, default=None, help="hidden neurons of a new network (default 128)")
    p.add_argument("--data", choices=("digits", "saccade"), default="digits",
                   help="digits: 8x8 pixels as Bernoulli spikes; saccade: the digits moved before an emulated "
                        "event camera (2x16x16 ON/OFF channels; neurochip.studies.event_data)")
    p.add_argument("--steps", type=positive_int, default=None, help="steps per sample (digits 16, saccade 300)")
    p.add_argument("--train", type=positive_int, default=None, help="use the first N training samples")
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--json", help="write the run's results (accuracy, energy and latency per update, counters) here")
    p.add_argument("--checkpoint", help="checkpoint file (.npz), written at each epoch end")
    p.add_argument("--checkpoint-every", type=non_negative_int, default=0, help="also every N samples (0: off)")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint (the options it was started "
                                                         "with; --hidden, --steps, --train and --eta default to them)")
    p.add_argument("--force", action="store_true", help="start over: overwrite an existing --checkpoint (without it, "
                                                        "an existing file is never replaced by a new run)")
    p = sub.add_parser("report", help="energy report: digits (inference and every learning rule) or ttfs")
    p.add_argument("--kind", choices=("digits", "saccade", "ttfs"), default="digits",
                   help="digits: the learning rules and time-step SG baselines on Bernoulli digits, with sweeps "
                        "against T and firing rate; saccade: the same on the embedded event-camera digits (300 "
                        "steps; --steps does not apply); ttfs: time-to-first-spike against ReLU and rate-coded IF "
                        "(takes none of the options below)")
    p.add_argument("--out", default=None, help="folder (default energy_reports/<kind>)")
    p.add_argument("--epochs", type=positive_int, default=None, help=f"default {commands.REPORT_EPOCHS}")
    p.add_argument("--steps", type=positive_int, default=None, help=f"default {commands.DIGIT_STEPS}")
    p.add_argument("--train", type=positive_int, default=None, help="use the first N training samples")
    p.add_argument("--test", type=positive_int, default=None, help="use the first N test samples")
    p = sub.add_parser("export", help="export a NIR network: lava (standalone script), netx (lava-dl HDF5), nir")
    p.add_argument("format", choices=("lava", "netx", "nir"))
    _nir_options(p, with_input=True)
    p.add_argument("--out", required=True, help="output path (lava: path of the script without .py)")
    p = sub.add_parser("demo", help="digits end to end: train, NIR, map, run, learn, report, Lava check")
    p.add_argument("--out", default="energy_reports/digits")
    p = sub.add_parser("sweep", help="design-space sweep on Dask: every point of a TOML config's axes (chips, profiles, "
                                     "placements, rules, seeds, data shards) -> results.csv and sweep.png, resumable")
    p.add_argument("config", help="sweep config (.toml): a [job] and its [axes] (see examples/sweep_small.toml)")
    p.add_argument("--out", default=None, help="results folder (default sweeps/<config name>); rerunning resumes it")
    p.add_argument("--workers", type=positive_int, default=None, help="local worker processes (default: the cores)")
    p.add_argument("--threads", type=positive_int, default=None, help="threads per local worker (default 1)")
    p.add_argument("--scheduler", help="address of a running Dask scheduler (e.g. tcp://host:8786) to run on "
                                       "instead of a local cluster")
    p.add_argument("--force", action="store_true", help="--out holds another config's results: keep those of "
                                                        "points this config shares, drop the rest")
    return ap


def main(argv=None) -> int:
    args = parser().parse_args(argv)  # a bad option: argparse names it, prints usage and exits 2
    with _noting_sigint() as sigint:
        return _main(args, sigint)


def _main(args, sigint) -> int:
    try:
        return (sweep.cmd_sweep if args.cmd == "sweep" else getattr(commands, f"cmd_{args.cmd}"))(args)
    except FitError as e:
        print(f"error: does not fit the chip: {e}", file=sys.stderr)
        return EXIT_FIT
    except (FileNotFoundError, NetworkError, SpecError, DataError, OptionError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        return _interrupted()
    except SystemError as e:  # Ctrl-C inside a compiled kernel surfaces as a SystemError
        if sigint or isinstance(e.__cause__ or e.__context__, KeyboardInterrupt):
            return _interrupted()
        raise
    except BrokenPipeError:  # the reader of our output left (`neurochip info | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # so the exit flush cannot fail again
        return EXIT_BROKEN_PIPE
    except MemoryError as e:  # what the checks of sizes before the work did not foresee
        print(f"error: out of memory ({e or 'MemoryError'}): the network or the sizes asked for (--steps, "
              "--hidden, --samples, the NIR file's shapes) need more memory than this machine has; give smaller "
              "ones", file=sys.stderr)
        return EXIT_INPUT


class _noting_sigint:
    """Within: Ctrl-C (SIGINT) raises KeyboardInterrupt as usual and is remembered (the
    object is then true), so an interrupt that a compiled kernel turns into a SystemError is
    still reported as one. Only in the main thread, and only over Python's default handler."""

    def __init__(self):
        self.seen, self.previous = False, None

    def __bool__(self):
        return self.seen

    def _handler(self, signum, frame):
        self.seen = True
        raise KeyboardInterrupt

    def __enter__(self):
        try:
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
                self.previous = signal.signal(signal.SIGINT, self._handler)
        except ValueError:  # not the main thread
            self.previous = None
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False


def _interrupted() -> int:
    print("interrupted (checkpoints written so far are intact)", file=sys.stderr)
    return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
