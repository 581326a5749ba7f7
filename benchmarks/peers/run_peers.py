"""Run every peer whose venv exists; print a JSON list (stdlib only, any Python).

    python run_peers.py [--duration 10]
A peer whose venv is missing is reported as {"peer": ..., "available": false, "why": ...}.
"""
import argparse
import json
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENVS = HERE.parent / ".venvs"
PEERS = [  # (name, venv, script, extra args)
    ("brian2 cpp_standalone", "brian2", "cuba_brian2.py", ["--mode", "cpp_standalone"]),
    ("brian2 runtime", "brian2", "cuba_brian2.py", ["--mode", "runtime"]),
    ("nest", "peers", "cuba_nest.py", []),
    ("sanafe", "peers", "cuba_sanafe.py", []),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=10.0)
    args = ap.parse_args()
    out = []
    for name, venv, script, extra in PEERS:
        py = VENVS / venv / "bin" / "python"
        if not py.exists():
            out.append(dict(peer=name, available=False, why=f"{py} missing: run benchmarks/peers/setup_peer_venvs.sh"))
            continue
        p = subprocess.run([str(py), str(HERE / script), "--duration", str(args.duration), *extra],
                           capture_output=True, text=True, timeout=3600)
        lines = [x for x in p.stdout.splitlines() if x.startswith("{")]
        out.append(json.loads(lines[-1]) if p.returncode == 0 and lines else
                   dict(peer=name, available=False, why=(p.stderr or p.stdout)[-1500:]))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
