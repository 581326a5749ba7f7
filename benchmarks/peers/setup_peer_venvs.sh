#!/usr/bin/env bash
# Peer simulators, each in a venv of its own under benchmarks/.venvs (gitignored):
#   peers  (Python 3.11): NEST (nest-simulator) and SANA-FE (sanafe, GPL: run, never vendored)
#   brian2 (Python 3.12): Brian2 >= 2.10 (2.9 breaks on numpy 2)
# Idempotent; a peer that fails to install is reported and the others go on.
set -u
here="$(cd "$(dirname "$0")/.." && pwd)/.venvs"
mkdir -p "$here"
find_py() { for p in "python$1" "$(pyenv root 2>/dev/null)/versions/$1"*/bin/python"$1"; do
  "$p" -c 'import sys' >/dev/null 2>&1 && { echo "$p"; return; }; done; }
make_venv() {  # name python-version packages...
  local name=$1 ver=$2; shift 2
  local py; py=$(find_py "$ver")
  [ -n "$py" ] || { echo "peer venv $name: python$ver not found" >&2; return 1; }
  [ -x "$here/$name/bin/python" ] || "$py" -m venv "$here/$name" || return 1
  "$here/$name/bin/pip" install --quiet "$@" || { echo "peer venv $name: pip install $* failed" >&2; return 1; }
}
make_venv peers 3.11 nest-simulator sanafe numpy || true
make_venv brian2 3.12 brian2 || true
