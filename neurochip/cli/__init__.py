"""The `neurochip` command: from a trained network to a placed chip program, inference,
on-chip learning, energy reports and exports.

Exit codes: 0 done; 2 bad input (missing or malformed file, bad option or parameter);
3 the network does not fit the chip; 1 anything unexpected (with a traceback)."""
import argparse
import sys

from neurochip.cli import commands
from neurochip.mapping.nir.importer import DISCRETIZATIONS, TIMINGS
from neurochip.mapping.placement.partition import PARTITION_METHODS
from neurochip.model.errors import FitError, NetworkError, SpecError
from neurochip.model.neurons import RESETS
from neurochip.rules.rule import RULES

EXIT_INPUT, EXIT_FIT = 2, 3


def _nir_options(p, with_input=False):
    p.add_argument("nir", help="NIR file (.nir) of a trained network")
    p.add_argument("--dt", type=float, default=1e-4, help="time step in seconds (NIR has none; snnTorch: 1e-4)")
    p.add_argument("--reset", choices=RESETS, default="zero", help="reset convention of the source")
    p.add_argument("--timing", choices=TIMINGS, default="framework",
                   help="framework: no delay within a step (snnTorch, Norse, Sinabs); lava: one step per projection")
    p.add_argument("--reset-delay", action="store_true", help="snnTorch's one-step-late reset")
    p.add_argument("--discretization", choices=DISCRETIZATIONS, default="euler")
    p.add_argument("--float", action="store_true", help="keep float weights (default: Loihi fixed point)")
    p.add_argument("--chip", default="loihi1", help="chip preset or a chip .toml file")
    p.add_argument("--partition", choices=PARTITION_METHODS, default="metis")
    if with_input:
        p.add_argument("--input", help="spikes as .npy, (samples, steps, n) or (steps, n)")
        p.add_argument("--digits", action="store_true", help="scikit-learn's digits test set (default input)")
        p.add_argument("--steps", type=int, default=16, help="steps per digit")
        p.add_argument("--samples", type=int, default=100, help="at most this many samples")


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
    p = sub.add_parser("learn", help="on-chip learning on digits with a rule (checkpoints, resume)")
    p.add_argument("--rule", default="ottt_a", choices=tuple(RULES))
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--steps", type=int, default=16)
    p.add_argument("--train", type=int, default=None, help="use the first N training samples")
    p.add_argument("--float", action="store_true", help="float64 weights (default: Loihi fixed point)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint", help="checkpoint file (.npz), written at each epoch end")
    p.add_argument("--checkpoint-every", type=int, default=0, help="also every N samples")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    p = sub.add_parser("report", help="energy report: digits (inference and every learning rule) or ttfs")
    p.add_argument("--kind", choices=("digits", "ttfs"), default="digits",
                   help="ttfs: time-to-first-spike against ReLU and rate-coded IF (options below ignored)")
    p.add_argument("--out", default=None, help="folder (default energy_reports/<kind>)")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--steps", type=int, default=16)
    p.add_argument("--train", type=int, default=None)
    p.add_argument("--test", type=int, default=None)
    p = sub.add_parser("export", help="export a NIR network: lava (standalone script), netx (lava-dl HDF5), nir")
    p.add_argument("format", choices=("lava", "netx", "nir"))
    _nir_options(p, with_input=True)
    p.add_argument("--out", required=True, help="output path (lava: path of the script without .py)")
    p = sub.add_parser("demo", help="digits end to end: train, NIR, map, run, learn, report, Lava check")
    p.add_argument("--out", default="energy_reports/digits")
    return ap


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        return getattr(commands, f"cmd_{args.cmd}")(args)
    except FitError as e:
        print(f"error: does not fit the chip: {e}", file=sys.stderr)
        return EXIT_FIT
    except (FileNotFoundError, NetworkError, SpecError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_INPUT


if __name__ == "__main__":
    sys.exit(main())
