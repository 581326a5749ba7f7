"""The `neurochip` command end to end on small inputs, good and bad (exit codes: 0 done,
2 bad input, 3 does not fit the chip)."""
import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from neurochip.cli import EXIT_FIT, EXIT_INPUT, main
from tests.conftest import FF, SNN, run_cli


def test_info_lists_chips_profiles_and_rules(capsys):
    code, out, _ = run_cli(capsys, "info")
    assert code == 0
    for word in ("chip loihi1", "profile loihi1_davies2018", "horowitz45nm", "ottt_a", "STD-ED", "BPTT-SG"):
        assert word in out


def test_info_lists_boards(capsys):
    code, out, _ = run_cli(capsys, "info")
    assert "chip nahuku32: 8x4 chips of 8x4 tiles x 4 cores = 4096 cores" in out


@pytest.mark.timeout(120)
def test_a_reader_that_leaves_early_gets_no_traceback():
    """`neurochip info | head -1`: the pipe closes before the command writes."""
    import subprocess
    import sys

    from neurochip.cli import EXIT_BROKEN_PIPE
    proc = subprocess.Popen([str(Path(sys.executable).parent / "neurochip"), "info"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()   # before the child has started: its first write meets a closed pipe
    err = proc.stderr.read().decode()
    assert proc.wait() == EXIT_BROKEN_PIPE and err == ""


def test_map_writes_the_report_and_heat_map(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "map", FF, *SNN, "--out", str(tmp_path / "m"))
    assert code == 0 and "mapped onto loihi1" in out
    report = json.loads((tmp_path / "m" / "mapping.json").read_text())
    assert report["cores_used"] >= 1 and (tmp_path / "m" / "mesh.png").stat().st_size > 1000


def test_run_on_digits_prints_accuracy_energy_latency(capsys):
    code, out, _ = run_cli(capsys, "run", FF, *SNN, "--digits", "--steps", "25", "--samples", "40")
    assert code == 0
    acc = float(out.split("accuracy (most output spikes): ")[1].split()[0])
    assert acc > 0.8  # the trained snnTorch network, on the chip in fixed point
    assert "nJ (loihi1_sanafe)" in out and "latency per inference" in out


def test_run_with_a_spike_file_and_a_wrong_one(capsys, tmp_path):
    good = tmp_path / "x.npy"
    np.save(good, np.random.default_rng(0).random((3, 10, 64)) < 0.2)
    code, out, _ = run_cli(capsys, "run", FF, *SNN, "--input", str(good))
    assert code == 0 and "3 samples x 10 steps" in out
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((3, 10, 5), bool))
    code, _, err = run_cli(capsys, "run", FF, *SNN, "--input", str(bad))
    assert code == EXIT_INPUT and "(samples, steps, 64)" in err and "bad.npy" in err


def test_learn_checkpoints_and_resumes(capsys, tmp_path):
    ckpt = tmp_path / "run.npz"
    code, out, _ = run_cli(capsys, "learn", "--rule", "ottt_a", "--epochs", "1", "--train", "150", "--hidden", "32",
                       "--checkpoint", str(ckpt))
    assert code == 0 and ckpt.is_file() and "epoch 1:" in out and "uJ per update" in out
    code, out, _ = run_cli(capsys, "learn", "--epochs", "2", "--train", "150", "--checkpoint", str(ckpt), "--resume")
    assert code == 0 and "resumed" in out and "epoch 2:" in out


def test_learn_fine_tunes_the_snntorch_network_on_the_chip(capsys, tmp_path):
    """ff.nir imported with snnTorch's conventions ("framework" timing: its biases come from an
    always-on channel, folded into the neuron biases for learning) learns on the chip."""
    code, out, err = run_cli(capsys, "learn", FF, *SNN, "--steps", "25", "--rule", "ottt_a", "--epochs", "1",
                             "--train", "60", "--eta", "0.001", "--json", str(tmp_path / "out.json"))
    assert code == 0, err
    r = json.loads((tmp_path / "out.json").read_text())
    assert r["updates"] == 60
    for k in ("energy_per_update_uj", "learning_energy_per_update_uj", "learning_latency_per_update_us"):
        assert r[k] > 0, k
    assert r["counters"]["learning"]["packets"] > 0
    assert {"hops_ew", "hops_ns"} <= set(r["counters"]["learning"])
    assert 0 <= r["accuracy_after"] <= 1
    # `run` classifies by the output layer's spike counts, learning by its summed input (the
    # readout's logits): not the same number, but the same trained network on the same digits
    code, out, _ = run_cli(capsys, "run", FF, *SNN, "--digits", "--steps", "25", "--samples", "450")
    run_acc = float(out.split("accuracy (most output spikes): ")[1].split()[0])
    assert r["accuracy_before"] > 0.9 and abs(r["accuracy_before"] - run_acc) <= 0.02, (r["accuracy_before"], run_acc)


def test_report_writes_the_folder(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "report", "--out", str(tmp_path / "r"), "--epochs", "1", "--train", "60",
                       "--test", "20", "--steps", "8")
    assert code == 0
    for f in ("report.md", "report.json", "energy_by_kind.png", "energy_per_update.png", "energy_vs_T.png",
              "energy_accuracy.png", "ratio_vs_rate_T.png",
              "core_heatmap.png"):
        assert (tmp_path / "r" / f).is_file(), f
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    for name, b in data["baselines"].items():   # every baseline and method: both phases, counts, assumptions
        assert 0 < b["learning_phase_uj"] < b["total_uj"] and b["counts"] and b["assumptions"], name
        for rule, r in data["ratios"][name].items():
            m = data["methods"][rule]
            assert r["total"] == b["total_uj"] / m["total_uj"]
            assert r["learning_phase"] == b["learning_phase_uj"] / m["learning_phase_uj"]
    assert data["nearest_to_paper"] in data["accountings"] and len(data["vs_rate_T"]["rows"]) == 15
    code, out, _ = run_cli(capsys, "report", "--kind", "ttfs", "--out", str(tmp_path / "t"))
    assert code == 0 and (tmp_path / "t" / "accuracy_vs_time_bits.png").is_file()


def test_export_nir_netx_and_lava(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "export", "nir", FF, *SNN, "--out", str(tmp_path / "q.nir"))
    assert code == 0 and (tmp_path / "q.nir").is_file()
    code, out, _ = run_cli(capsys, "export", "netx", FF, "--reset", "zero", "--timing", "lava", "--out",
                       str(tmp_path / "n.net"))
    assert code == 0
    with h5py.File(tmp_path / "n.net") as f:
        assert set(f["layer"]) == {"0", "1"} and f["layer/0/neuron/type"][()] == b"CUBA"
    code, out, _ = run_cli(capsys, "export", "lava", FF, "--reset", "zero", "--timing", "lava", "--steps", "10",
                       "--out", str(tmp_path / "script"))
    assert code == 0 and (tmp_path / "script.py").is_file() and (tmp_path / "script.npz").is_file()


def test_bad_inputs_say_what_and_where(capsys, tmp_path):
    code, _, err = run_cli(capsys, "map", str(tmp_path / "missing.nir"))
    assert code == EXIT_INPUT and "missing.nir: no such NIR file" in err
    junk = tmp_path / "junk.nir"
    junk.write_text("not hdf5")
    code, _, err = run_cli(capsys, "map", str(junk))
    assert code == EXIT_INPUT and "junk.nir: not a readable NIR file" in err
    tiny = tmp_path / "tiny.toml"
    tiny.write_text('name = "tiny"\nprofile = "loihi1_sanafe"\n[mesh]\ntiles_x = 1\ntiles_y = 1\ncores_per_tile = 1\n'
                    "[core]\ncompartments = 32\ninput_axons = 4096\noutput_axons = 4096\n"
                    "synapse_memory_bits = 1048576\n")
    code, _, err = run_cli(capsys, "map", FF, *SNN, "--chip", str(tiny), "--partition", "greedy")
    assert code == EXIT_FIT and "does not fit" in err and "ff.nir" in err and "tiny has 1" in err
    code, _, err = run_cli(capsys, "export", "netx", FF, "--reset", "subtract", "--timing", "lava", "--out",
                       str(tmp_path / "s.net"))
    assert code == EXIT_INPUT and "resetting to zero" in err and not (tmp_path / "s.net").exists()
    code, _, err = run_cli(capsys, "learn", "--resume", "--checkpoint", str(tmp_path / "none.npz"))
    assert code == EXIT_INPUT and "none.npz" in err
    with pytest.raises(SystemExit):
        main(["learn", "--rule", "sgd"])  # argparse names the allowed choices


@pytest.mark.timeout(300)
def test_demo_runs_end_to_end(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "demo", "--out", str(tmp_path / "d"))
    assert code == 0
    assert "identical to neurochip's: True" in out and "summary:" in out
    assert (tmp_path / "d" / "report.md").is_file() and (tmp_path / "d" / "network.nir").is_file()


def test_run_writes_the_output_counts_in_the_source_timeline(capsys, tmp_path):
    """`run --counts-out`: per-sample output spike counts over the source's T steps, which in
    float equal snnTorch's own (the fixture's, made by snnTorch) on >= 99% of the samples."""
    d = np.load(Path(FF).parent / "digits_fixture.npz")
    x = np.unpackbits(d["x_test"], axis=-1)[..., :64].astype(bool)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "counts.npy"
    code, text, _ = run_cli(capsys, "run", FF, *SNN, "--float", "--input", str(tmp_path / "x.npy"), "--samples", "450",
                            "--counts-out", str(out))
    assert code == 0 and str(out) in text
    counts = np.load(out)
    assert counts.shape == (450, 10) and counts.dtype == np.int64
    assert (counts == d["ff_counts"]).all(1).mean() >= 0.99
    code, _, err = run_cli(capsys, "run", FF, *SNN, "--counts-out", str(tmp_path / "missing" / "c.npy"))
    assert code == EXIT_INPUT and "--counts-out" in err and "does not exist" in err


@pytest.mark.parametrize("rule", ["mpd_ed", "ottt_a"])
def test_learn_on_the_temporal_default(capsys, tmp_path, rule):
    out = tmp_path / "r.json"
    code, text, _ = run_cli(capsys, "learn", "--data", "saccade", "--steps", "30", "--train", "40", "--epochs", "1",
                            "--hidden", "16", "--rule", rule, "--json", str(out))
    assert code == 0 and "epoch 1:" in text
    result = json.loads(out.read_text())
    assert result["energy_per_update_uj"] > 0 and result["counters"]["learning"]["packets"] > 0
    code, _, err = run_cli(capsys, "learn", "--data", "saccade", "--steps", "31")
    assert code == EXIT_INPUT and "--steps 31" in err and "multiple of 3" in err
