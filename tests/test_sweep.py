"""`neurochip sweep` on a real Dask LocalCluster (2 worker processes x 1 thread): the table
is the Cartesian product, every point equals the same point run in this process, a rerun
resumes, and bad configs or folders are exit 2 naming the key or option."""
import contextlib
import csv
import io
import itertools
import json
import shutil

import pytest

from neurochip.cli import EXIT_INPUT, main
from neurochip.cli.sweep import load_config, point_key, prepare, run_point
from tests.conftest import FF, run_cli

pytestmark = pytest.mark.timeout(240)   # a cluster that hangs fails the test instead of the suite
CLUSTER = ["--workers", "2", "--threads", "1"]

INFER = """
[job]
kind = "infer"
samples = 6
steps = 8
[axes]
chip = ["loihi1", "loihi2"]
per_core = [0, 64]
shard = ["1 of 2", "2 of 2"]
"""

LEARN = """
[job]
kind = "learn"
train = 12
test = 12
hidden = 8
epochs = 1
[axes]
rule = ["ottt_a", "mpd_ed"]
seed = [0, 1]
"""


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _same(row: dict, params: dict) -> dict:
    """`run_point(params)` in this process, as results.jsonl stores it, beside the row."""
    mine = json.loads(json.dumps(run_point(params)))
    return {k: v for k, v in row.items() if k not in ("key", "wall_s")}, \
        {k: v for k, v in mine.items() if k != "wall_s"}


@pytest.fixture(scope="module")
def infer_sweep(tmp_path_factory):
    """The INFER sweep run once through the command line: (folder, exit code, stdout)."""
    folder = tmp_path_factory.mktemp("sweep")
    (folder / "infer.toml").write_text(INFER)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["--quiet", "sweep", str(folder / "infer.toml"), "--out", str(folder / "out"), *CLUSTER])
    return folder, code, printed.getvalue()


def test_sweep_runs_the_cartesian_product_on_a_local_cluster(infer_sweep):
    folder, code, stdout = infer_sweep
    config, out = folder / "infer.toml", folder / "out"
    assert code == 0
    assert "8 points" in stdout and "0 done before, 8 to run" in stdout
    rows = _rows(out / "results.jsonl")
    with open(out / "results.csv", newline="") as f:
        table = list(csv.DictReader(f))
    product = list(itertools.product(["loihi1", "loihi2"], ["0", "64"], ["1 of 2", "2 of 2"]))
    assert [(r["chip"], r["per_core"], r["shard"]) for r in table] == product   # the config's order
    assert sorted((r["chip"], str(r["per_core"]), r["shard"]) for r in rows) == sorted(product)
    assert (out / "sweep.png").stat().st_size > 10_000
    cfg = load_config(config)
    by_key = {point_key(p, cfg["files"]): p for p in cfg["points"]}
    assert sorted(r["key"] for r in rows) == sorted(by_key) and len(by_key) == 8
    for row in rows:   # every number identical to the same point run here, in one process
        assert row["error"] == "" and row["samples_run"] == 3
        theirs, mine = _same(row, by_key[row["key"]])
        assert theirs == mine
    # counters do not depend on how the samples are split: the two shards add up to the whole
    whole = run_point({**cfg["points"][0], "shard": "1 of 1"})
    halves = [r for r in rows if r["chip"] == "loihi1" and r["per_core"] == 0]
    counts = [k for k in whole if k.startswith("count_")]
    assert len(halves) == 2 and counts
    assert all(halves[0][k] + halves[1][k] == whole[k] for k in counts)
    assert any(whole[k] > 0 for k in counts)


def test_resume_runs_only_the_points_not_in_results(tmp_path, capsys):
    """A partial results.jsonl (two points done, then a line cut short by a kill) is resumed:
    the two rows stay byte for byte, the other two points run on the cluster."""
    config, out = tmp_path / "learn.toml", tmp_path / "out"
    config.write_text(LEARN)
    cfg = load_config(config)
    keys = [point_key(p, cfg["files"]) for p in cfg["points"]]
    prepare(out, cfg, keys, force=False, echo=lambda *_: None)   # the folder as a sweep leaves it
    done = [json.dumps({"key": k, **run_point(p)}) + "\n" for k, p in zip(keys[::3], cfg["points"][::3])]
    (out / "results.jsonl").write_text("".join(done) + done[0][:40])
    code, stdout, err = run_cli(capsys, "sweep", str(config), "--out", str(out), *CLUSTER)
    assert code == 0, err
    assert "2 done before, 2 to run" in stdout and "ran 2 points" in stdout and "1 incomplete line" in stdout
    lines = (out / "results.jsonl").read_text().splitlines(keepends=True)
    assert lines[:2] == done and len(lines) == 4
    rows = _rows(out / "results.jsonl")
    assert sorted(r["key"] for r in rows) == sorted(keys)
    for row in rows[2:]:   # run by the cluster: learning on the chip, identical to this process
        theirs, mine = _same(row, cfg["points"][keys.index(row["key"])])
        assert theirs == mine and row["error"] == "" and row["updates"] == 12
    code, stdout, _ = run_cli(capsys, "sweep", str(config), "--out", str(out))
    assert code == 0 and "4 done before, 0 to run" in stdout


def test_another_config_in_the_folder_is_refused_unless_force(infer_sweep, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(infer_sweep[0] / "out", out)   # 8 rows
    before = (out / "results.jsonl").read_text()
    other = tmp_path / "other.toml"   # the same 4 loihi1 points (seed 0 as an axis), then 4 others
    other.write_text(INFER.replace('chip = ["loihi1", "loihi2"]', 'seed = [0]\nchip = ["loihi1"]'))
    code, _, err = run_cli(capsys, "sweep", str(other), "--out", str(out))
    assert code == EXIT_INPUT and "different config" in err and "--force" in err
    assert (out / "results.jsonl").read_text() == before   # nothing touched
    code, stdout, err = run_cli(capsys, "sweep", str(other), "--out", str(out), "--force")
    assert code == 0, err
    assert "kept 4" in stdout and "dropped 4" in stdout and "4 done before, 0 to run" in stdout
    assert len(_rows(out / "results.jsonl")) == 4
    file = tmp_path / "a_file"
    file.write_text("x")
    code, _, err = run_cli(capsys, "sweep", str(other), "--out", str(file))
    assert code == EXIT_INPUT and "is a file" in err


@pytest.mark.parametrize("text, named", [
    ('[job]\nkind = "infer"\nchips = ["loihi1"]', "chips"),                     # unknown key
    ('[job]\nsamples = "ten"', "samples = 'ten'"),                              # wrong type
    ('[job]\nsamples = 0', "samples = 0"),                                      # out of range
    ('[job]\nfloat = 1', "float = 1"),                                          # not a bool
    ('[axes]\nchip = []', "chip = []"),                                         # empty axis
    ('[axes]\nchip = "loihi1"', "chip = 'loihi1'"),                             # not a list
    ('[axes]\nkind = ["infer", "learn"]', "kind"),                              # one kind a sweep
    ('[axes]\nchip = ["loihi9"]', "loihi9"),                                    # no such preset
    ('[axes]\nshard = ["3 of 2"]', "shard[0] = '3 of 2'"),                      # bad shard
    ('[axes]\nseed = [1, 1]', "seed lists 1 twice"),                            # duplicate value
    ('[job]\nnetwork = "missing.nir"', "missing.nir"),                          # no such file
    ('[job]\ndt = 1e-3', "dt"),                                                 # NIR-only key
    ('[job]\nrule = "ottt_a"', "rule"),                                         # a learn key for infer
    ('[job]\nkind = "learn"\nrule = "hebb"', "rule = 'hebb'"),                  # unknown rule
    ('[job]\nsamples = 2\n[axes]\nshard = ["1 of 3"]', "2 samples cannot make 3 shards"),
    ('[sweep]\nx = 1', "sweep"),                                                # unknown table
    ('[job\n', "not a valid TOML"),
])
def test_bad_configs_are_exit_2_naming_the_key(tmp_path, capsys, text, named):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    code, _, err = run_cli(capsys, "sweep", str(config), "--out", str(tmp_path / "out"))
    assert code == EXIT_INPUT and named in err and str(config) in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()   # checked before anything is written


def test_nir_network_point_runs_in_process(tmp_path):
    """A NIR file (snnTorch's conventions, as README's `neurochip run`) is a network like the digits one."""
    config = tmp_path / "nir.toml"
    config.write_text(f'[job]\nnetwork = "{FF}"\nreset = "zero"\nreset_delay = true\nsamples = 8\nsteps = 25\n'
                      '[axes]\npartition = ["greedy", "metis"]\n')
    cfg = load_config(config)
    rows = [run_point(p) for p in cfg["points"]]
    assert [r["error"] for r in rows] == ["", ""] and all(r["accuracy"] >= 0.75 for r in rows)
    assert len({point_key(p, cfg["files"]) for p in cfg["points"]}) == 2
