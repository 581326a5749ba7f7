"""Chip descriptions: presets, TOML loading, validation, geometry, barrier table."""
import math
from pathlib import Path

import pytest

import neurochip as nc
from neurochip.chip.spec import ChipSpec, EventCost, Profile, presets


def test_loihi1_preset_matches_published_limits():
    chip = nc.loihi1()
    assert (chip.tiles_x, chip.tiles_y, chip.cores_per_tile, chip.n_cores) == (8, 4, 4, 128)
    c = chip.core
    assert (c.compartments, c.input_axons, c.output_axons, c.synapse_memory_bits) == (1024, 4096, 4096, 2**20)
    assert c.max_delay == 62
    assert chip.profile.events["hops_ew"].latency_ns == 4.1


def test_loihi2_costs_are_unknown_not_zero():
    chip = nc.loihi2()
    assert chip.core.compartments == 8192
    assert all(math.isnan(e.energy_pj) and math.isnan(e.latency_ns) for e in chip.profile.events.values())


def test_core_geometry_and_barrier_lookup():
    chip = nc.loihi1()
    assert chip.core_xy(0) == (0, 0) and chip.core_xy(3) == (0, 0)
    assert chip.core_xy(4) == (1, 0) and chip.core_xy(32) == (0, 1) and chip.core_xy(127) == (7, 3)
    assert chip.barrier(1) == 0.6e-6 and chip.barrier(3) == 1.0e-6 and chip.barrier(32) == 1.8e-6


def test_custom_chip_from_toml(tmp_path):
    f = tmp_path / "tiny.toml"
    f.write_text('name = "tiny"\nprofile = "loihi1_davies2018"\n[mesh]\ntiles_x = 2\ntiles_y = 1\n'
                 'cores_per_tile = 2\n[core]\ncompartments = 8\ninput_axons = 16\noutput_axons = 16\n'
                 'synapse_memory_bits = 4096\n')
    chip = ChipSpec.from_toml(f)
    assert chip.n_cores == 4 and chip.core.compartments == 8
    assert chip.profile.events["syn_ops"].energy_pj == 23.6


@pytest.mark.parametrize("text, message", [
    ('name = "x"\n[mesh]\ntiles_x = 2\n', "missing key"),
    ('name = "x"\n[mesh\n', "malformed TOML"),
    ('name="x"\n[mesh]\ntiles_x=0\ntiles_y=1\ncores_per_tile=1\n[core]\ncompartments=1\ninput_axons=1\n'
     'output_axons=1\nsynapse_memory_bits=1\n', "tiles_x must be a positive integer"),
    ('name="x"\nprofile="nope"\n[mesh]\ntiles_x=1\ntiles_y=1\ncores_per_tile=1\n[core]\ncompartments=1\n'
     'input_axons=1\noutput_axons=1\nsynapse_memory_bits=1\n', "no profile preset named 'nope'"),
])
def test_bad_chip_files_say_what_is_wrong(tmp_path, text, message):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(nc.SpecError, match=message):
        ChipSpec.from_toml(f)


def test_missing_chip_file_and_unknown_preset():
    with pytest.raises(nc.SpecError, match="no such file"):
        ChipSpec.from_toml("/nonexistent/chip.toml")
    with pytest.raises(nc.SpecError, match="available"):
        ChipSpec.preset("loihi9")


CHIP = ('name="x"\nprofile="loihi1_davies2018"\n[mesh]\ntiles_x=1\ntiles_y=1\ncores_per_tile=1\n[core]\n'
        'compartments=1\ninput_axons=1\noutput_axons=1\nsynapse_memory_bits=1\n')


@pytest.mark.parametrize("text, message", [
    (CHIP.replace("compartments=1", "compartments=-1024"),
     r"bad.toml: \[core\] compartments must be a positive integer, got -1024"),
    (CHIP + "[routing]\nx = 1\n",
     r"bad.toml: unknown table\(s\) or key\(s\) \['routing'\] in the top level; the known"),
    (CHIP.replace("tiles_x=1", "tiles_x=1\ntiles_z=2"), r"unknown table\(s\) or key\(s\) \['tiles_z'\] in \[mesh\]"),
    (CHIP + "[barrier]\ntiles=[1]\nseconds=[-1e-6]\n", r"bad.toml: \[barrier\] seconds\[0\] = -1e-06 is out of range; "
                                                       "allowed: 0 <= seconds < inf, or nan"),
    (CHIP + "[barrier]\ntiles=[1]\nseconds=[inf]\n", r"\[barrier\] seconds\[0\] = inf is out of range"),
    (CHIP + "[barrier]\ntiles=[2, 1]\nseconds=[0.0, 1.0]\n", r"bad.toml: \[barrier\] tiles must be increasing"),
    (CHIP.replace('"loihi1_davies2018"', "3"), "bad.toml: profile must be a preset name"),
    (CHIP.replace('profile="loihi1_davies2018"', 'profile={name="p", events={}}'),
     r"bad.toml: missing event\(s\) \['syn_ops'"),
    (CHIP.replace("synapse_memory_bits=1", "synapse_memory_bits=1\nweight_bits=9"),
     r"bad.toml: \[core\] weight_bits = 9 is out of range"),
    (CHIP.replace('name="x"', "name=3"), "bad.toml: the top level name must be text"),
])
def test_chip_file_errors_name_the_file_key_and_value(tmp_path, text, message):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(nc.SpecError, match=message):
        ChipSpec.from_toml(f)


def test_binary_and_non_utf8_chip_files_are_refused(tmp_path):
    f = tmp_path / "chip.toml"
    f.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(nc.SpecError, match=r"chip.toml: not a UTF-8 text file \(byte 0x89 at offset 0\)"):
        ChipSpec.from_toml(f)
    f.write_bytes(b'name = "x"\x00\n')
    with pytest.raises(nc.SpecError, match="chip.toml: not a text file"):
        ChipSpec.from_toml(f)
    with pytest.raises(nc.SpecError, match="is a folder"):
        ChipSpec.from_toml(tmp_path)


def test_inline_profile_table_is_read_as_a_profile_file(tmp_path):
    profile = (Path(nc.__file__).parent / "chip" / "profiles" / "loihi1_sanafe.toml").read_text()
    inline = profile.replace("[events.", "[profile.events.").replace('name = "loihi1_sanafe"',
                                                                     '[profile]\nname = "mine"', 1)
    f = tmp_path / "chip.toml"
    f.write_text(CHIP.replace('profile="loihi1_davies2018"\n', "") + inline)
    chip = ChipSpec.from_toml(f)
    assert chip.profile.name == "mine" and chip.profile.events["syn_ops"].energy_pj == 35.5
    f.write_text(CHIP.replace('profile="loihi1_davies2018"\n', "") +
                 inline.replace("energy_pj = 35.5", "energy_pj = -35.5"))
    with pytest.raises(nc.SpecError, match=r"chip.toml: \[profile.events.syn_ops\] energy_pj = -35.5 is out of range"):
        ChipSpec.from_toml(f)


@pytest.mark.parametrize("old, new, message", [
    ("energy_pj = 35.5", "energy_pj = -35.5", r"\[events.syn_ops\] energy_pj = -35.5 is out of range; allowed: "
                                              "0 <= energy_pj < inf, or nan"),
    ("latency_ns = 3.8", "latency_ns = inf", r"\[events.syn_ops\] latency_ns = inf is out of range"),
    ("energy_pj = 35.5", 'energy_pj = "35.5"', r"\[events.syn_ops\] energy_pj must be a number"),
    ("energy_pj = 35.5\n", "", r"missing key\(s\) \['energy_pj'\] in \[events.syn_ops\]"),
    ('basis = "silicon"', 'basis = "silicon"\nunit = "pJ"', r"unknown table\(s\) or key\(s\) \['unit'\] in "
                                                            r"\[events.syn_ops\]; the known ones are \['energy_pj'"),
    ("[events.syn_ops]", "[events.teleports]\nenergy_pj = 1\nlatency_ns = 1\n\n[events.syn_ops]",
     r"unknown event\(s\) \['teleports'\] in \[events\]"),
])
def test_profile_file_errors_name_the_file_event_and_value(tmp_path, old, new, message):
    text = (Path(nc.__file__).parent / "chip" / "profiles" / "loihi1_sanafe.toml").read_text()
    assert old in text
    f = tmp_path / "prof.toml"
    f.write_text(text.replace(old, new, 1))
    with pytest.raises(nc.SpecError, match="prof.toml: .*" + message):
        Profile.from_toml(f)


def test_nan_means_unpublished_and_every_packaged_file_loads():
    for name in presets("profiles"):
        Profile.preset(name)
    for name in presets("chips"):
        ChipSpec.preset(name)
    assert math.isnan(nc.loihi2().barrier(1))
    with pytest.raises(nc.SpecError, match="energy_pj = -1 is out of range"):
        EventCost(-1, 0.0)
