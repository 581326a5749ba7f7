"""The `neurochip` command."""
import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="neurochip", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("info", help="chip presets and energy profiles")
    sub.add_parser("demo", help="digits end to end on a simulated loihi1")
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
    elif args.cmd == "demo":
        from .demo import main as demo

        return demo()
    return 0


if __name__ == "__main__":
    sys.exit(main())
