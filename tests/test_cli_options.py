"""Every bad command-line option is a clear error (exit 2) that names the option, the value
and what is allowed, found before any long work starts: numbers at parse time (argparse),
input files, output folders and checkpoints before the network is mapped or trained."""

import numpy as np
import pytest

from neurochip.cli import EXIT_INPUT, main
from neurochip.rules.learner import Learner
from neurochip.rules.rule import RULES
from tests.conftest import FF, SNN, run_cli


def usage_error(capsys, *argv):
    """argparse's own refusal: SystemExit(2), the message on stderr."""
    with pytest.raises(SystemExit) as e:
        main(["--quiet", *argv])
    return e.value.code, capsys.readouterr().err


WHOLE = "a whole number of 1 or more"
BAD_NUMBERS = [
    (["run", FF, "--steps", "0"], "--steps", "0", WHOLE),
    (["run", FF, "--steps", "-1"], "--steps", "-1", WHOLE),
    (["run", FF, "--steps", "2.5"], "--steps", "2.5", WHOLE),
    (["run", FF, "--samples", "0"], "--samples", "0", WHOLE),
    (["run", FF, "--samples", "-1"], "--samples", "-1", WHOLE),
    (["export", "lava", FF, "--out", "x", "--steps", "0"], "--steps", "0", WHOLE),
    (["report", "--epochs", "0"], "--epochs", "0", WHOLE),
    (["report", "--steps", "0"], "--steps", "0", WHOLE),
    (["report", "--test", "0"], "--test", "0", WHOLE),
    (["report", "--train", "0"], "--train", "0", WHOLE),
    (["report", "--test", "-4"], "--test", "-4", WHOLE),
    (["learn", "--epochs", "0"], "--epochs", "0", WHOLE),
    (["learn", "--epochs", "-3"], "--epochs", "-3", WHOLE),
    (["learn", "--steps", "0"], "--steps", "0", WHOLE),
    (["learn", "--train", "-1"], "--train", "-1", WHOLE),
    (["learn", "--train", "0"], "--train", "0", WHOLE),
    (["learn", "--hidden", "0"], "--hidden", "0", WHOLE),
    (["learn", "--checkpoint-every", "-5"], "--checkpoint-every", "-5", "a whole number of 0 or more"),
    (["learn", "--seed", "-1"], "--seed", "-1", "a whole number of 0 or more"),
] + [(cmd + [FF, f"--dt={dt}", "--out", "x"][: 4 if cmd[0] != "run" else 2], "--dt", dt,
       "finite number of seconds above 0") for cmd in (["map"], ["run"], ["export", "lava"])
      for dt in ("nan", "inf", "0", "-1", "-inf", "abc")]


@pytest.mark.parametrize("argv, option, value, allowed", BAD_NUMBERS, ids=lambda a: " ".join(a) if isinstance(a, list) else None)
def test_bad_numbers_are_refused_at_parse_time(capsys, argv, option, value, allowed):
    code, err = usage_error(capsys, *argv)
    assert code == EXIT_INPUT
    assert f"argument {option}: must be" in err and allowed in err and repr(value) in err


def test_a_value_that_looks_like_an_option(capsys):
    # argparse takes "-inf" for an option (write --dt=-inf); it still names --dt and exits 2
    code, err = usage_error(capsys, "map", FF, "--dt", "-inf")
    assert code == EXIT_INPUT and "argument --dt: expected one argument" in err


def test_input_and_digits_together_are_refused(capsys, tmp_path):
    code, err = usage_error(capsys, "run", FF, "--digits", "--input", str(tmp_path / "x.npy"))
    assert code == EXIT_INPUT and "--digits" in err and "not allowed with" in err and "--input" in err


def test_a_dt_too_large_for_the_time_constants_names_dt(capsys, tmp_path):
    code, _, err = run_cli(capsys, "map", FF, *SNN, "--dt", "10", "--out", str(tmp_path / "m"))
    assert code == EXIT_INPUT
    assert "--dt 10 is too large" in err and "ff.nir" in err and "smallest time constant" in err
    assert not (tmp_path / "m").exists()


# --- run/export --input FILE -------------------------------------------------------------

def _save(tmp_path, name, array):
    path = tmp_path / name
    np.save(path, array)
    return str(path)


def bad_inputs(tmp_path):
    """(file, words the message must hold) for each kind of bad spike file."""
    rng = np.random.default_rng(0)
    spikes = (rng.random((2, 5, 64)) < 0.3).astype(float)
    half, neg, two, nan = spikes.copy(), spikes.copy(), spikes.copy(), spikes.copy()
    half[1, 2, 3], neg[0, 1, 0], two[0, 0, 5], nan[1, 4, 63] = 0.5, -1, 2, np.nan
    npz = tmp_path / "x.npz"
    np.savez(npz, spikes=spikes > 0)
    junk = tmp_path / "junk.npy"
    junk.write_bytes(b"not a numpy file at all")
    cut = tmp_path / "cut.npy"
    np.save(cut, spikes > 0)
    cut.write_bytes(cut.read_bytes()[:100])
    return [
        (str(tmp_path / "missing.npy"), ["missing.npy", "no such input file"]),
        (str(tmp_path), ["no such input file", "folder"]),
        (str(npz), ["x.npz", ".npz archive", "spikes", "numpy.save"]),
        (str(junk), ["junk.npy", "not a .npy array"]),
        (str(cut), ["cut.npy", "not a .npy array"]),
        (_save(tmp_path, "empty.npy", np.zeros((0, 5, 64), bool)), ["empty.npy", "no spikes", "(0, 5, 64)"]),
        (_save(tmp_path, "nosteps.npy", np.zeros((5, 0, 64), bool)), ["nosteps.npy", "no spikes", "(5, 0, 64)"]),
        (_save(tmp_path, "flat.npy", np.zeros(64, bool)), ["flat.npy", "(64,)", "(steps, n)"]),
        (_save(tmp_path, "wide.npy", np.zeros((2, 5, 63), bool)), ["wide.npy", "(samples, steps, 64)", "(2, 5, 63)"]),
        (_save(tmp_path, "half.npy", half), ["half.npy", "0 or 1", "0.5", "(1, 2, 3)"]),
        (_save(tmp_path, "neg.npy", neg), ["neg.npy", "0 or 1", "-1", "(0, 1, 0)"]),
        (_save(tmp_path, "two.npy", two.astype(np.int64)), ["two.npy", "0 or 1", "2"]),
        (_save(tmp_path, "nan.npy", nan), ["nan.npy", "0 or 1", "nan", "(1, 4, 63)"]),
        (_save(tmp_path, "complex.npy", spikes.astype(complex)), ["complex.npy", "0/1 or bool", "complex"]),
        (_save(tmp_path, "text.npy", np.full((2, 5, 64), "1")), ["text.npy", "0/1 or bool"]),
    ]


@pytest.mark.parametrize("command", ["run", "export"])
def test_bad_spike_files_name_the_file_and_the_problem(capsys, tmp_path, command):
    for path, words in bad_inputs(tmp_path):
        # --input-kind spikes: the default (auto) runs and exports non-0/1 arrays as current (tests/test_direct_input.py,
        # tests/test_graded_neurons.py)
        argv = ["run", FF, *SNN] if command == "run" else ["export", "lava", FF, *SNN, "--out",
                                                           str(tmp_path / "out" / "script")]
        code, _, err = run_cli(capsys, *argv, "--input-kind", "spikes", "--input", path)
        assert code == EXIT_INPUT, (path, err)
        assert "--input" in err, err
        for word in words:
            assert word in err, (word, err)
    assert not (tmp_path / "out").exists()


def test_spike_files_of_0_1_in_any_number_type_run(capsys, tmp_path):
    x = np.random.default_rng(1).random((10, 64)) < 0.2   # (steps, n): one sample
    for name, arr in (("b.npy", x), ("i.npy", x.astype(np.uint8)), ("f.npy", x.astype(np.float32))):
        code, out, err = run_cli(capsys, "run", FF, *SNN, "--input", _save(tmp_path, name, arr))
        assert code == 0 and "1 samples x 10 steps" in out, err


def test_steps_that_contradict_the_input_file(capsys, tmp_path):
    path = _save(tmp_path, "x.npy", np.zeros((2, 10, 64), bool))
    code, _, err = run_cli(capsys, "run", FF, *SNN, "--input", path, "--steps", "12")
    assert code == EXIT_INPUT and "--steps 12" in err and "10 steps" in err


def test_input_options_with_an_export_that_takes_no_input(capsys, tmp_path):
    code, _, err = run_cli(capsys, "export", "nir", FF, *SNN, "--steps", "10", "--out", str(tmp_path / "q.nir"))
    assert code == EXIT_INPUT and "--steps" in err and "export lava" in err
    assert not (tmp_path / "q.nir").exists()


# --- --out and --checkpoint --------------------------------------------------------------

@pytest.mark.parametrize("argv", [["map", FF, *SNN], ["report"], ["report", "--kind", "ttfs"], ["demo"]])
def test_out_that_is_a_file_or_under_a_file_is_refused_before_work(capsys, tmp_path, argv):
    afile = tmp_path / "taken"
    afile.write_text("keep me")
    code, _, err = run_cli(capsys, *argv, "--out", str(afile))
    assert code == EXIT_INPUT and f"--out {afile}" in err and "is a file" in err and "folder" in err
    code, _, err = run_cli(capsys, *argv, "--out", str(afile / "sub" / "dir"))
    assert code == EXIT_INPUT and "--out" in err and "cannot create" in err and str(afile) in err
    assert afile.read_text() == "keep me"


@pytest.mark.parametrize("fmt", ["nir", "netx", "lava"])
def test_export_out_that_is_a_folder_or_under_a_file(capsys, tmp_path, fmt):
    (tmp_path / "dir").mkdir()
    code, _, err = run_cli(capsys, "export", fmt, FF, *SNN, "--out", str(tmp_path / "dir"))
    assert code == EXIT_INPUT and f"--out {tmp_path / 'dir'}" in err and "is a folder" in err
    afile = tmp_path / "taken"
    afile.write_text("keep me")
    code, _, err = run_cli(capsys, "export", fmt, FF, *SNN, "--out", str(afile / "x"))
    assert code == EXIT_INPUT and "cannot create" in err and str(afile) in err


def test_export_lava_script_that_would_land_on_a_folder(capsys, tmp_path):
    (tmp_path / "s.py").mkdir()
    code, _, err = run_cli(capsys, "export", "lava", FF, *SNN, "--out", str(tmp_path / "s"))
    assert code == EXIT_INPUT and "s.py" in err and "is a folder" in err


def test_report_with_more_samples_than_the_data_set(capsys, tmp_path):
    code, _, err = run_cli(capsys, "report", "--test", "100000", "--out", str(tmp_path / "r"))
    assert code == EXIT_INPUT and "--test 100000" in err and "450" in err
    code, _, err = run_cli(capsys, "report", "--train", "100000", "--out", str(tmp_path / "r"))
    assert code == EXIT_INPUT and "--train 100000" in err and "1347" in err
    assert not (tmp_path / "r").exists()


def test_report_ttfs_refuses_the_digits_options(capsys, tmp_path):
    code, _, err = run_cli(capsys, "report", "--kind", "ttfs", "--epochs", "2", "--out", str(tmp_path / "t"))
    assert code == EXIT_INPUT and "--epochs 2" in err and "--kind ttfs" in err
    assert not (tmp_path / "t").exists()


def test_checkpoint_that_is_a_folder_or_in_a_missing_folder(capsys, tmp_path):
    code, _, err = run_cli(capsys, "learn", "--checkpoint", str(tmp_path))
    assert code == EXIT_INPUT and f"--checkpoint {tmp_path}" in err and "is a folder" in err
    missing = tmp_path / "nope" / "run.npz"
    code, _, err = run_cli(capsys, "learn", "--checkpoint", str(missing))
    assert code == EXIT_INPUT and "--checkpoint" in err and str(tmp_path / "nope") in err and "does not exist" in err
    afile = tmp_path / "taken"
    afile.write_text("keep me")
    code, _, err = run_cli(capsys, "learn", "--checkpoint", str(afile / "run.npz"))
    assert code == EXIT_INPUT and "--checkpoint" in err and "is a file" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_learn_option_combinations(capsys, tmp_path):
    code, _, err = run_cli(capsys, "learn", "--resume")
    assert code == EXIT_INPUT and "--resume needs --checkpoint" in err
    code, _, err = run_cli(capsys, "learn", "--checkpoint-every", "50")
    assert code == EXIT_INPUT and "--checkpoint-every 50 needs --checkpoint" in err
    code, _, err = run_cli(capsys, "learn", "--train", "5000")
    assert code == EXIT_INPUT and "--train 5000" in err and "1347" in err


def test_resume_with_epochs_already_done(capsys, tmp_path):
    learner = Learner([64, 8, 10], RULES["ottt_a"](), fixed=True, seed=0)   # the CLI's defaults
    learner._progress = (3, 0)   # as a checkpoint after three epochs
    ckpt = tmp_path / "run.npz"
    learner.save(ckpt)
    code, _, err = run_cli(capsys, "learn", "--checkpoint", str(ckpt), "--resume", "--epochs", "3")
    assert code == EXIT_INPUT and "--epochs 3" in err and "already done 3 epochs" in err and "--epochs 4" in err
