"""The `neurochip` command."""
import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="neurochip", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("info", help="chip presets and energy profiles")
    sub.add_parser("demo", help="digits end to end on a simulated loihi1")
    rep = sub.add_parser("report", help="energy report of inference and of every learning rule (digits)")
    rep.add_argument("--out", default="energy_reports/digits", help="folder to write (default %(default)s)")
    rep.add_argument("--epochs", type=int, default=8)
    rep.add_argument("-T", "--steps", type=int, default=16, help="time steps per sample")
    rep.add_argument("--train", type=int, default=None, help="use the first N training samples")
    rep.add_argument("--test", type=int, default=None, help="use the first N test samples")
    rep.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if args.cmd == "info":
        from .spec import ChipSpec, presets

        for name in presets("chips"):
            chip = ChipSpec.preset(name)
            c = chip.core
            print(f"{name}: {chip.tiles_x}x{chip.tiles_y} tiles x {chip.cores_per_tile} cores = {chip.n_cores} cores; "
                  f"per core {c.compartments} compartments, {c.input_axons} in-axons, {c.output_axons} out-axons, "
                  f"{c.synapse_memory_bits} synapse bits; profile {chip.profile.name}")
        print("energy profiles:", ", ".join(presets("profiles")))
    elif args.cmd == "report":
        from .report import write

        folder = write(args.out, T=args.steps, epochs=args.epochs, train=args.train, test=args.test,
                       progress=not args.quiet)
        print(f"wrote {folder / 'report.md'}, report.json and figures")
    elif args.cmd == "demo":
        from .demo import main as demo

        return demo()
    return 0


if __name__ == "__main__":
    sys.exit(main())
