"""Chip descriptions: presets, TOML loading, validation, geometry, barrier table."""
import math

import pytest

import neurochip as nc
from neurochip.chip.spec import ChipSpec


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
