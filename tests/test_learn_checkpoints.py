"""The learner's checkpoints can be trusted (issue 15): `neurochip learn` never overwrites a
checkpoint unasked (--force), refuses a --resume whose options differ from the checkpoint's
(naming the option and both values), keeps two runs on one checkpoint apart (unique
temporary files, atomic replace, no silent overwrite), validates everything it reads back,
checks the checkpoint folder before training, stops on Ctrl-C with exit 130 and the last
checkpoint intact, and refuses sizes that cannot fit memory before allocating."""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from neurochip.cli import EXIT_INPUT, EXIT_INTERRUPTED, commands
from neurochip.model import files
from neurochip.model.files import save_npz_atomic
from neurochip.rules.learner import Learner
from neurochip.rules.rule import OTTT, RuleError
from tests.conftest import FF, run_cli

SMALL = ["--epochs", "1", "--train", "20", "--hidden", "8", "--steps", "4"]   # a run of about a second
CLI = [sys.executable, "-c", "import sys; from neurochip.cli import main; sys.exit(main())", "--quiet"]


def new_checkpoint(capsys, path, *extra):
    code, _, err = run_cli(capsys, "learn", *SMALL, "--checkpoint", str(path), *extra)
    assert code == 0, err
    return path.read_bytes()


def no_temporaries(folder):
    return [p.name for p in folder.iterdir() if ".tmp" in p.name]


# --- (a) an existing checkpoint is never overwritten unasked ---------------------------------
def test_an_existing_checkpoint_is_kept_unless_force(capsys, tmp_path):
    ckpt = tmp_path / "run.npz"
    before = new_checkpoint(capsys, ckpt)
    code, _, err = run_cli(capsys, "learn", *SMALL, "--seed", "5", "--checkpoint", str(ckpt))
    assert code == EXIT_INPUT and f"--checkpoint {ckpt}: the file exists" in err
    assert "--resume" in err and "--force" in err and ckpt.read_bytes() == before
    code, _, err = run_cli(capsys, "learn", *SMALL, "--seed", "5", "--checkpoint", str(ckpt), "--force")
    assert code == 0, err
    assert ckpt.read_bytes() != before and Learner.load(ckpt).seed == 5


def test_a_file_that_is_not_a_checkpoint_is_kept_too(capsys, tmp_path):
    other = tmp_path / "data.npz"
    np.savez(other, x=np.arange(3))
    code, _, err = run_cli(capsys, "learn", *SMALL, "--checkpoint", str(other))
    assert code == EXIT_INPUT and "the file exists" in err
    assert np.load(other)["x"].tolist() == [0, 1, 2]


@pytest.mark.parametrize("argv, message", [
    (["--force"], "--force needs --checkpoint FILE"),
    (["--force", "--resume", "--checkpoint", "{ckpt}"], "--force starts over and --resume continues"),
    (["--checkpoint", "{ckpt}", "--json", "{ckpt}"], "is the --checkpoint file too"),
])
def test_contradicting_checkpoint_options(capsys, tmp_path, argv, message):
    ckpt = tmp_path / "run.npz"
    before = new_checkpoint(capsys, ckpt)
    code, _, err = run_cli(capsys, "learn", *SMALL, *[a.format(ckpt=ckpt) for a in argv])
    assert code == EXIT_INPUT and message in err and ckpt.read_bytes() == before


# --- (b) a resume with other options is refused, naming the option and both values ---------------
@pytest.fixture(scope="module")
def started(tmp_path_factory):
    """A checkpoint of `learn SMALL` (OTTT_A, --hidden 8, --steps 4, --train 20, seed 0, loihi1)."""
    from neurochip.cli import main
    ckpt = tmp_path_factory.mktemp("started") / "run.npz"
    assert main(["--quiet", "learn", *SMALL, "--checkpoint", str(ckpt)]) == 0
    return ckpt


@pytest.mark.parametrize("option, here, there", [
    (["--rule", "mpd_ed"], "--rule mpd_ed", "--rule ottt_a"),
    (["--hidden", "9"], "--hidden 9", "--hidden 8"),
    (["--steps", "5"], "--steps 5", "--steps 4"),
    (["--train", "21"], "--train 21", "--train 20"),
    (["--float"], "--float", "no --float"),
    (["--eta", "0.5"], "--eta 0.5", "--eta 0.05"),
    (["--seed", "3"], "--seed 3", "--seed 0"),
    (["--data", "saccade", "--steps", "6"], "--data saccade", "--data digits"),
    (["--chip", "loihi2"], "--chip loihi2", "--chip loihi1"),
])
def test_resume_with_another_option_is_refused(capsys, started, monkeypatch, option, here, there):
    before = started.read_bytes()
    monkeypatch.setattr(commands, "learning_data", lambda args: pytest.fail("refused only after loading the data"))
    code, _, err = run_cli(capsys, "learn", "--epochs", "2", "--checkpoint", str(started), "--resume", *option)
    assert code == EXIT_INPUT, err
    assert f"{here} (the checkpoint: {there})" in err and str(started) in err
    assert started.read_bytes() == before


def test_resume_takes_the_checkpoints_options_when_not_given(capsys, tmp_path):
    ckpt = tmp_path / "run.npz"
    new_checkpoint(capsys, ckpt, "--eta", "0.1")
    code, out, err = run_cli(capsys, "learn", "--epochs", "2", "--checkpoint", str(ckpt), "--resume")
    assert code == 0 and "resumed" in out and "epoch 2:" in out, err
    meta = json.loads(str(np.load(ckpt)["meta"]))
    assert meta["options"] == dict(rule="ottt_a", eta=0.1, hidden=8, steps=4, train=20, float=False, seed=0,
                                   data="digits", chip="loihi1")


# --- (c) two runs on one checkpoint -----------------------------------------------------------
def test_concurrent_saves_use_temporaries_of_their_own(tmp_path):
    path, errors = tmp_path / "ck.npz", []

    def save(k):
        try:
            for i in range(25):
                save_npz_atomic(path, RuleError, who=np.array(k), data=np.full(20000, i))
        except Exception as e:   # noqa: BLE001 - any failure is the test's
            errors.append(e)

    threads = [threading.Thread(target=save, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and np.load(path)["data"].shape == (20000,) and not no_temporaries(tmp_path)


def test_a_checkpoint_another_run_wrote_meanwhile_is_not_replaced(capsys, tmp_path, monkeypatch):
    ckpt = tmp_path / "run.npz"
    fit = Learner.fit

    def other_run_first(self, *a, **kw):   # another run writes the checkpoint while this one trains
        Learner([64, 5, 10], self.rule, fixed=True, seed=9).save(ckpt)
        return fit(self, *a, **kw)

    monkeypatch.setattr(Learner, "fit", other_run_first)
    code, _, err = run_cli(capsys, "learn", *SMALL, "--checkpoint", str(ckpt))
    own = tmp_path / f"run.{os.getpid()}.npz"
    assert code == EXIT_INPUT and "another run wrote it while this one ran" in err and str(own) in err
    assert Learner.load(ckpt).sizes == [64, 5, 10]   # the other run's, untouched
    assert Learner.load(own).sizes == [64, 8, 10] and Learner.load(own).progress == (1, 0)


@pytest.mark.timeout(120)
def test_two_learn_processes_on_one_checkpoint(tmp_path):
    ckpt = tmp_path / "run.npz"
    argv = [*CLI, "learn", "--epochs", "2", "--train", "100", "--hidden", "8", "--steps", "4",
            "--checkpoint-every", "5", "--checkpoint", str(ckpt)]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        results = [(p.wait(timeout=100), p.stderr.read()) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for code, err in results:
        assert "Traceback" not in err
        assert code == 0 or (code == EXIT_INPUT and ("another run wrote it" in err or "the file exists" in err)), err
    assert any(code == 0 for code, _ in results) or all("another run" in err for _, err in results)
    Learner.load(ckpt)
    assert not no_temporaries(tmp_path)


# --- (d) everything read back is validated --------------------------------------------------------
@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "good.npz"
    x = np.random.default_rng(0).random((6, 4, 64)) < 0.3
    learner = Learner([64, 8, 10], OTTT(), fixed=True)   # as `learn --hidden 8` builds it
    learner.fit(x, np.arange(6), 1, checkpoint=path)
    with np.load(path) as d:
        return path, {k: d[k] for k in d.files}


def _meta(arrays, **change):
    meta = json.loads(str(arrays["meta"]))
    for k, v in change.items():
        if k == "identity_rule":
            meta["identity"]["rule"] = v
        elif k == "fmt":
            meta["identity"]["config"]["fmt"] = v
        else:
            meta[k] = v
    return np.array(json.dumps(meta))


def _damage(arrays, kind):
    a = dict(arrays)
    if kind == "missing array":
        del a["fb_w"]
    elif kind == "wrong shape":
        a["syn_w"] = a["syn_w"][:-1]
    elif kind == "wrong dtype":
        a["syn_w"] = a["syn_w"].astype(np.float32)
    elif kind == "NaN":
        a["sample_ns"] = np.full_like(a["sample_ns"], np.nan)
    elif kind == "inf":
        a["fb_w"] = np.full_like(a["fb_w"], np.inf)
    elif kind == "negative count":
        a["learn_counts"] = a["learn_counts"] - 10**6
    elif kind == "weight out of range":
        a["syn_w"] = a["syn_w"] + 10**4
    elif kind == "meta not JSON":
        a["meta"] = np.array("{not json")
    elif kind == "meta a list":
        a["meta"] = np.array("[1, 2]")
    elif kind == "progress":
        a["meta"] = _meta(a, progress=["a", -1])
    elif kind == "loss NaN":
        a["meta"] = _meta(a, loss_sum=float("nan"))
    elif kind == "history":
        a["meta"] = _meta(a, history="lots")
    elif kind == "samples_learned":
        a["meta"] = _meta(a, samples_learned=-3)
    elif kind == "options":
        a["meta"] = _meta(a, options=[1, 2])
    elif kind == "unknown rule":
        a["meta"] = _meta(a, identity_rule="Hebb")
    elif kind == "bad format":
        a["meta"] = _meta(a, fmt={"vth": 0, "weight_exp": 0, "dv": 512})
    return a


DAMAGES = ["missing array", "wrong shape", "wrong dtype", "NaN", "inf", "negative count", "weight out of range",
           "meta not JSON", "meta a list", "progress", "loss NaN", "history", "samples_learned", "options",
           "unknown rule", "bad format"]


@pytest.mark.parametrize("kind", DAMAGES)
def test_a_damaged_checkpoint_is_refused_naming_the_file(saved, tmp_path, kind):
    _, arrays = saved
    bad = tmp_path / "bad.npz"
    np.savez(bad, **_damage(arrays, kind))
    with pytest.raises(RuleError, match="bad.npz") as e:
        Learner.load(bad)
    assert "Traceback" not in str(e.value)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04" + b"\0" * 40, b"garbage" * 30, "half"])
def test_a_truncated_or_garbage_checkpoint_is_refused(saved, tmp_path, capsys, content):
    good, _ = saved
    bad = tmp_path / "bad.npz"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2] if content == "half" else content)
    with pytest.raises(RuleError, match="bad.npz: not a neurochip learning checkpoint"):
        Learner.load(bad)
    code, _, err = run_cli(capsys, "learn", "--epochs", "2", "--checkpoint", str(bad), "--resume")
    assert code == EXIT_INPUT and "bad.npz" in err and "Traceback" not in err


@pytest.mark.parametrize("kind", ["NaN", "wrong shape", "progress", "options"])
def test_the_cli_refuses_a_damaged_checkpoint(saved, tmp_path, capsys, kind):
    _, arrays = saved
    bad = tmp_path / "bad.npz"
    np.savez(bad, **_damage(arrays, kind))
    code, _, err = run_cli(capsys, "learn", "--epochs", "2", "--hidden", "8", "--checkpoint", str(bad), "--resume")
    assert code == EXIT_INPUT and "bad.npz" in err and "damaged" in err and "Traceback" not in err, err


# --- (e) the checkpoint and --json folders are checked before training ----------------------------
@pytest.mark.parametrize("where, message", [
    ("missing/run.npz", "does not exist"),
    ("afile/run.npz", "is a file"),
    (".", "is a folder"),
])
def test_checkpoint_folder_checked_before_any_work(capsys, tmp_path, monkeypatch, where, message):
    (tmp_path / "afile").write_text("x")
    monkeypatch.setattr(commands, "learning_data", lambda args: pytest.fail("checked only after loading the data"))
    for option in ("--checkpoint", "--json"):
        code, _, err = run_cli(capsys, "learn", *SMALL, option, str(tmp_path / where))
        assert code == EXIT_INPUT and option in err and message in err


# --- Ctrl-C ---------------------------------------------------------------------------------------
@pytest.mark.timeout(120)
@pytest.mark.parametrize("rule", ["ottt_a", "mpd_ed"])
def test_ctrl_c_stops_cleanly_with_the_last_checkpoint(tmp_path, rule):
    ckpt = tmp_path / "run.npz"
    p = subprocess.Popen([*CLI, "learn", "--rule", rule, "--epochs", "50", "--train", "300", "--hidden", "32",
                          "--checkpoint-every", "20", "--checkpoint", str(ckpt)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        start = time.monotonic()
        while not ckpt.exists() and p.poll() is None and time.monotonic() - start < 60:
            time.sleep(0.02)
        assert p.poll() is None, "learn ended before the checkpoint appeared"
        time.sleep(0.3)   # inside the training loop, between checkpoints
        os.kill(p.pid, signal.SIGINT)
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == EXIT_INTERRUPTED, err
    assert "Traceback" not in err and "SystemError" not in err and "interrupted" in err
    resumed = Learner.load(ckpt)
    assert resumed.progress != (0, 0) and resumed.progress[1] % 20 == 0
    assert not no_temporaries(tmp_path)


# --- sizes that cannot fit memory -----------------------------------------------------------------
@pytest.mark.parametrize("argv, option", [
    (["learn", "--hidden", "1000000000000"], "--hidden 1000000000000"),
    (["learn", "--steps", "1000000000000"], "--steps 1000000000000"),
    (["learn", "--data", "saccade", "--steps", "300000000000"], "--steps 300000000000"),
    (["run", FF, "--steps", "1000000000000"], "--steps 1000000000000"),
    (["report", "--steps", "1000000000000", "--out", "{tmp}/r"], "--steps 1000000000000"),
])
def test_sizes_beyond_memory_are_refused_before_allocating(capsys, tmp_path, argv, option):
    code, _, err = run_cli(capsys, *(a.format(tmp=tmp_path) for a in argv))
    assert code == EXIT_INPUT and option in err and "GiB of memory, more than the" in err and "available" in err
    assert "MemoryError" not in err


def test_the_memory_limit_follows_what_is_available(capsys, monkeypatch):
    monkeypatch.setattr(files, "available_memory", lambda: 50 * 2**20)
    code, _, err = run_cli(capsys, "learn", "--steps", "100", "--train", "10", "--epochs", "1")
    assert code == EXIT_INPUT and "--steps 100 (1797 samples x 100 steps x 64 channels)" in err
    assert "more than the 50 MiB available" in err
    monkeypatch.setattr(files, "available_memory", lambda: None)   # unknown: no check
    files.check_memory("x", 10**30, RuleError, "")


def test_available_memory_is_read(monkeypatch):
    free = files.available_memory()
    assert free is None or free > 2**20
