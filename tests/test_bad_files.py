"""Malformed files get a clear error, never a traceback or a silently used value (issue 15).

Hypothesis writes broken NIR graphs (bad parameter values through `nir.write`, truncated
and garbage bytes), chip and profile TOML (garbage bytes, wrong types, NaN/inf/negative
numbers, missing keys, unknown tables and keys) and simulator checkpoints (truncated,
garbage, missing keys, wrong shapes and dtypes, NaN) and checks the error class and that
the message names the file and the offending node or key.
"""
import math
import os
import tempfile
import warnings
from pathlib import Path

import nir
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neurochip as nc
from neurochip.chip.spec import ChipSpec, Profile
from neurochip.mapping.nir.importer import NIRImportError, from_nir

EXAMPLES = int(os.environ.get("NEUROCHIP_FUZZ_EXAMPLES", 80 if os.environ.get("CI") else 40))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])


def workdir():
    return tempfile.TemporaryDirectory(prefix="neurochip-bad-")


def raises_naming(error, path: Path, *names):
    """The call raises `error` whose message names `path` and every one of `names`."""
    class Check:
        def __enter__(self):
            self.ctx = pytest.raises(error)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            handled = self.ctx.__exit__(*exc)
            message = str(self.info.value)
            assert str(path) in message, message
            for name in names:
                assert name in message, (name, message)
            return handled
    return Check()


# ---- NIR -------------------------------------------------------------------------------------

def nir_graph(n=3, **lif):
    fields = dict(tau=np.full(n, 5e-3), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n), v_reset=np.zeros(n))
    fields.update(lif)
    return nir.NIRGraph({"in": nir.Input(np.array([n])), "fc": nir.Affine(np.eye(n) * 0.5, np.zeros(n)),
                         "lif": nir.LIF(**fields), "out": nir.Output(np.array([n]))},
                        [("in", "fc"), ("fc", "lif"), ("lif", "out")])


@st.composite
def bad_nir_graphs(draw):
    """(graph, node, field) with one value out of range."""
    n = 3
    node, fld = draw(st.sampled_from([("fc", "weight"), ("fc", "bias"), ("lif", "tau"), ("lif", "r"),
                                      ("lif", "v_threshold"), ("lif", "v_leak"), ("lif", "v_reset")]))
    i = draw(st.integers(0, n - 1))
    if fld == "tau":
        value = draw(st.one_of(NON_FINITE, st.floats(-1.0, 0.0), st.floats(0.0, 9e-4, exclude_min=True)))
        bad = np.full(n, value)  # one time constant for the population
    else:
        options = [NON_FINITE]
        if fld == "weight":
            options.append(st.floats(3.0e5, 1e300))  # beyond what Loihi's weights reach (x dt/tau = 0.2)
        if fld == "r":
            options.append(st.just(0.0))
        value = draw(st.one_of(*options))
        graph = nir_graph(n)
        bad = np.array(getattr(graph.nodes[node], fld), dtype=np.float64)
        bad.flat[i if bad.ndim == 1 else i * n + i] = value
    graph = nir_graph(n)
    if node == "fc":
        w, b = graph.nodes["fc"].weight, graph.nodes["fc"].bias
        graph.nodes["fc"] = nir.Affine(bad if fld == "weight" else w, bad if fld == "bias" else b)
    else:
        graph = nir_graph(n, **{fld: bad})
    return graph, node, fld


@FUZZ
@given(bad_nir_graphs())
def test_nir_files_with_bad_values_name_the_file_node_and_field(case):
    graph, node, fld = case
    with workdir() as d:
        path = Path(d) / "net.nir"
        nir.write(path, graph)
        names = [repr(node), fld]  # a too-large weight: "...through ['fc'] ... ('fc' largest |weight| ...)"
        with raises_naming(NIRImportError, path, *names):
            from_nir(path, dt=1e-3, reset="zero")


@FUZZ
@given(st.data())
def test_truncated_or_garbage_nir_files_are_refused(data):
    with workdir() as d:
        path = Path(d) / "net.nir"
        nir.write(path, nir_graph())
        raw = path.read_bytes()
        if data.draw(st.booleans(), label="garbage"):
            path.write_bytes(data.draw(st.binary(max_size=3000), label="bytes"))
        else:
            path.write_bytes(raw[: data.draw(st.integers(0, len(raw) - 1), label="cut")])
        with raises_naming(NIRImportError, path):
            from_nir(path, dt=1e-3, reset="zero")


def test_the_valid_nir_graph_imports():
    with workdir() as d:
        nir.write(Path(d) / "net.nir", nir_graph())
        imp = from_nir(Path(d) / "net.nir", dt=1e-3, reset="zero")
        assert imp.outputs == {"out": "lif"}


# ---- chip and profile TOML -------------------------------------------------------------------

CHIP = {"name": '"tiny"', "profile": '"loihi1_davies2018"',
        "mesh": {"tiles_x": "2", "tiles_y": "1", "cores_per_tile": "2"},
        "core": {"compartments": "8", "input_axons": "16", "output_axons": "16", "synapse_memory_bits": "4096",
                 "weight_bits": "8", "delay_bits": "6"},
        "barrier": {"tiles": "[1, 2]", "seconds": "[1e-6, 2e-6]"}}
PROFILE_TEXT = (Path(nc.__file__).parent / "chip" / "profiles" / "loihi1_sanafe.toml").read_text()


def toml_text(doc: dict) -> str:
    top = [f"{k} = {v}" for k, v in doc.items() if not isinstance(v, dict)]
    tables = [f"[{k}]\n" + "\n".join(f"{kk} = {vv}" for kk, vv in v.items()) for k, v in doc.items()
              if isinstance(v, dict)]
    return "\n".join(top) + "\n\n" + "\n\n".join(tables) + "\n"


NOT_A_COUNT = st.sampled_from(["0", "-1", "-1024", "nan", "inf", "1.5", '"8"', "true", "[8]", "{x = 1}"])
NOT_A_COST = st.sampled_from(["-1.0", "-1e-9", "inf", "-inf", '"1.0"', "true", "[1.0]"])


@st.composite
def bad_chip_files(draw):
    """(TOML text, names the message must contain)."""
    doc = {k: dict(v) if isinstance(v, dict) else v for k, v in CHIP.items()}
    fault = draw(st.sampled_from(["count", "barrier", "missing", "unknown_table", "unknown_key", "name", "profile"]))
    if fault == "count":
        table = draw(st.sampled_from(["mesh", "core"]))
        key = draw(st.sampled_from(sorted(doc[table])))
        doc[table][key] = draw(NOT_A_COUNT)
        return toml_text(doc), [f"[{table}]", key]
    if fault == "barrier":
        i = draw(st.integers(0, 1))
        seconds = ["1e-6", "2e-6"]
        seconds[i] = draw(NOT_A_COST.filter(lambda v: not v.startswith("[")))
        doc["barrier"]["seconds"] = f"[{', '.join(seconds)}]"
        return toml_text(doc), ["[barrier]", f"seconds[{i}]"]
    if fault == "missing":
        table = draw(st.sampled_from(["top", "mesh", "core"]))
        if table == "top":
            key = draw(st.sampled_from(["name", "mesh", "core"]))
            del doc[key]
            return toml_text(doc), [key]
        key = draw(st.sampled_from(["tiles_x", "tiles_y", "cores_per_tile"] if table == "mesh" else
                                   ["compartments", "input_axons", "output_axons", "synapse_memory_bits"]))
        del doc[table][key]
        return toml_text(doc), [f"[{table}]", key]
    name = draw(st.from_regex(r"[a-z][a-z_]{2,10}", fullmatch=True).filter(lambda s: s not in doc and
                                                                          s not in CHIP["core"]))
    if fault == "unknown_table":
        doc[name] = {"x": "1"}
        return toml_text(doc), [name, "the known ones"]
    if fault == "unknown_key":
        table = draw(st.sampled_from(["mesh", "core", "barrier"]))
        doc[table][name] = "1"
        return toml_text(doc), [f"[{table}]", name, "the known ones"]
    if fault == "name":
        doc["name"] = draw(st.sampled_from(["3", "nan", "[1]", "true"]))
        return toml_text(doc), ["name"]
    doc["profile"] = draw(st.sampled_from(["3", "true", '"no_such_profile"', "[1]"]))
    return toml_text(doc), ["profile"]


@FUZZ
@given(bad_chip_files())
def test_chip_files_with_bad_values_name_the_file_and_key(case):
    text, names = case
    with workdir() as d:
        path = Path(d) / "chip.toml"
        path.write_text(text)
        with raises_naming(nc.SpecError, path, *names):
            ChipSpec.from_toml(path)


@st.composite
def bad_profile_files(draw):
    kind = draw(st.sampled_from(["syn_ops", "packets", "hops_ew", "spikes_out"]))
    block = PROFILE_TEXT.index(f"[events.{kind}]")
    fault = draw(st.sampled_from(["cost", "missing", "unknown_key", "unknown_event", "text"]))
    head, tail = PROFILE_TEXT[:block], PROFILE_TEXT[block:]
    lines = tail.split("\n")
    if fault == "cost":
        key = draw(st.sampled_from(["energy_pj", "latency_ns"]))
        lines = [f"{key} = {draw(NOT_A_COST)}" if ln.startswith(key) and i < 4 else ln for i, ln in enumerate(lines)]
        return head + "\n".join(lines), [f"[events.{kind}]", key]
    if fault == "missing":
        key = draw(st.sampled_from(["energy_pj", "latency_ns"]))
        lines = [ln for i, ln in enumerate(lines) if not (ln.startswith(key) and i < 4)]
        return head + "\n".join(lines), [f"[events.{kind}]", key]
    if fault == "unknown_key":
        lines.insert(1, "unit = 1")
        return head + "\n".join(lines), [f"[events.{kind}]", "unit"]
    if fault == "text":
        key = draw(st.sampled_from(["basis", "source"]))
        lines = [f"{key} = {draw(st.sampled_from(['1', 'nan', 'true', '[1]']))}" if ln.startswith(key) and i < 5
                 else ln for i, ln in enumerate(lines)]
        return head + "\n".join(lines), [f"[events.{kind}]", key]
    return PROFILE_TEXT + "\n[events.teleports]\nenergy_pj = 1\nlatency_ns = 1\n", ["teleports", "[events]"]


@FUZZ
@given(bad_profile_files())
def test_profile_files_with_bad_values_name_the_file_event_and_key(case):
    text, names = case
    with workdir() as d:
        path = Path(d) / "profile.toml"
        path.write_text(text)
        with raises_naming(nc.SpecError, path, *names):
            Profile.from_toml(path)


@FUZZ
@given(st.data())
def test_garbage_or_truncated_toml_is_refused_or_read_whole(data):
    text = toml_text(CHIP)
    with workdir() as d:
        path = Path(d) / "chip.toml"
        if data.draw(st.booleans(), label="garbage"):
            path.write_bytes(data.draw(st.binary(min_size=1, max_size=500), label="bytes"))
        else:
            path.write_text(text[: data.draw(st.integers(0, len(text) - 2), label="cut")])
        try:
            chip = ChipSpec.from_toml(path)
        except nc.SpecError as e:
            assert str(path) in str(e)
        else:  # a cut that keeps every table whole (only the last barrier list can be cut short)
            assert chip.n_cores == 4


def test_nan_costs_and_barriers_mean_unpublished():
    doc = {k: dict(v) if isinstance(v, dict) else v for k, v in CHIP.items()}
    doc["barrier"]["seconds"] = "[nan, 2e-6]"
    with workdir() as d:
        path = Path(d) / "chip.toml"
        path.write_text(toml_text(doc))
        assert math.isnan(ChipSpec.from_toml(path).barrier(1))


# ---- simulator checkpoints ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def checkpoint():
    """(network, the saved state) of a small float network after a few steps."""
    net = nc.Network()
    net.add(nc.SpikeSource(4, name="in"))
    net.add(nc.FloatLIF(3, du=0.5, dv=0.1, vth=1.0, name="h"))
    net.connect("in", "h", np.full((3, 4), 0.3), delay=np.ones((3, 4), int))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sim = nc.Simulator(net)
    sim.run(6, inputs={"in": np.ones((6, 4), bool)})
    with workdir() as d:
        sim.save(Path(d) / "sim.npz")
        raw = (Path(d) / "sim.npz").read_bytes()
        state = dict(np.load(Path(d) / "sim.npz"))
    return net, raw, state


STATE_KEYS = ("t", "fingerprint", "u", "v", "dend", "scratch")


@FUZZ
@given(st.data())
def test_damaged_checkpoints_name_the_file_and_key(checkpoint, data):
    net, raw, state = checkpoint
    fault = data.draw(st.sampled_from(["truncate", "garbage", "missing", "shape", "dtype", "nan"]), label="fault")
    names = []
    with workdir() as d:
        path = Path(d) / "sim.npz"
        if fault == "truncate":
            path.write_bytes(raw[: data.draw(st.integers(0, len(raw) - 1), label="cut")])
        elif fault == "garbage":
            path.write_bytes(data.draw(st.binary(max_size=2000), label="bytes"))
        else:
            arrays = dict(state)
            key = data.draw(st.sampled_from(STATE_KEYS[2:] if fault in ("shape", "dtype", "nan") else STATE_KEYS),
                            label="key")
            names = [repr(key)]
            if fault == "missing":
                del arrays[key]
            elif fault == "shape":
                shape = data.draw(st.lists(st.integers(0, 5), max_size=3).filter(
                    lambda s: tuple(s) != state[key].shape), label="shape")
                arrays[key] = np.zeros(shape, state[key].dtype)
            elif fault == "dtype":
                dtype = data.draw(st.sampled_from(["int8", "int32", "float32", "bool", "complex128"]).filter(
                    lambda t: np.dtype(t) != state[key].dtype), label="dtype")
                arrays[key] = state[key].astype(dtype)
            else:
                if state[key].dtype.kind != "f" or not state[key].size:
                    return
                bad = state[key].copy()
                bad.flat[data.draw(st.integers(0, bad.size - 1), label="at")] = data.draw(NON_FINITE, label="value")
                arrays[key] = bad
            np.savez(path, **arrays)
        fresh = nc.Simulator(net)
        with raises_naming(nc.NetworkError, path, *names):
            fresh.load(path)
        assert fresh.t == 0  # nothing of a refused checkpoint is used


def test_the_saved_checkpoint_loads(checkpoint):
    net, raw, _ = checkpoint
    with workdir() as d:
        (Path(d) / "sim.npz").write_bytes(raw)
        sim = nc.Simulator(net)
        sim.load(Path(d) / "sim.npz")
        assert sim.t == 6


# ---- NIR files too large for memory, or damaged inside HDF5 (issue 15) -------------------------
def _ff_with(tmp_path, name, patch):
    """ff.nir with its HDF5 datasets changed by `patch(h5py.File)`."""
    import shutil

    import h5py
    from tests.conftest import FF
    path = tmp_path / name
    shutil.copy(FF, path)
    with h5py.File(path, "r+") as f:
        patch(f)
    return path


def test_a_nir_node_too_large_for_memory_is_refused_before_allocating(tmp_path):
    from neurochip.mapping.nir.importer import NIRImportError, from_nir

    def huge_input(f):
        (inp,) = [k for k in f["node/nodes"] if str(f[f"node/nodes/{k}/type"][()], "utf-8") == "Input"]
        del f[f"node/nodes/{inp}/shape"]
        f[f"node/nodes/{inp}/shape"] = np.array([10**12])

    path = _ff_with(tmp_path, "huge.nir", huge_input)
    with pytest.raises(NIRImportError, match=r"huge.nir: node '.*' \(Input\): shape \(1000000000000,\), "
                                             r"1,000,000,000,000 neurons needs about .* GiB of memory, more than"):
        from_nir(path, dt=1e-4, reset="zero")


def test_a_convolution_too_large_for_memory_names_its_node(monkeypatch):
    import nir

    from neurochip.mapping.nir.importer import NIRImportError, from_nir
    from neurochip.model import files
    monkeypatch.setattr(files, "available_memory", lambda: 2**30)
    n = 1000
    g = nir.NIRGraph(nodes={"in": nir.Input(np.array([1, n, n])),
                            "conv": nir.Conv2d(input_shape=(n, n), weight=np.ones((16, 1, 3, 3)), stride=1, padding=1,
                                               dilation=1, groups=1, bias=np.zeros(16)),
                            "lif": nir.IF(r=np.array(1.0), v_threshold=np.array(1.0)),
                            "out": nir.Output(np.array([16, n, n]))},
                     edges=[("in", "conv"), ("conv", "lif"), ("lif", "out")], type_check=False)
    with pytest.raises(NIRImportError, match=r"node 'conv' \(Conv2d\): input \(1, 1000, 1000\), weight "
                                             r"\(16, 1, 3, 3\), 16,000,000 neurons and 144,000,000 synapses"):
        from_nir(g, dt=1e-4, reset="zero")


def test_a_nir_name_that_is_not_utf8_is_refused(tmp_path):
    from neurochip.mapping.nir.importer import NIRImportError, read_nir

    def bad_edge(f):
        edges = f["node/edges"][()]
        edges[0][0] = b"\xff\xfe"
        del f["node/edges"]
        f.create_dataset("node/edges", data=edges)

    path = _ff_with(tmp_path, "names.nir", bad_edge)
    with pytest.raises(NIRImportError, match="names.nir: a node or edge name is not UTF-8 text"):
        read_nir(path)


@pytest.mark.timeout(60)
def test_a_nir_file_on_which_hdf5_hangs_is_refused(tmp_path, capsys, monkeypatch):
    """One byte zeroed inside an HDF5 object header of ff.nir makes the HDF5 library loop
    forever (Ctrl-C does not stop it); `read_nir` (the command line, `from_nir`) reads the
    file in a child process first and gives up after a time limit, naming the file."""
    from neurochip.cli import EXIT_INPUT
    from neurochip.mapping.nir import importer
    from tests.conftest import FF, run_cli
    raw = bytearray(Path(FF).read_bytes())
    assert raw[2520] == 64   # the byte this test zeroes (an object header field of this fixture)
    raw[2520] = 0
    bad = tmp_path / "loops.nir"
    bad.write_bytes(bytes(raw))
    with pytest.raises(importer.NIRImportError, match="loops.nir: the HDF5 library did not finish reading it in 2 s"):
        importer.probe_nir(bad, timeout=2)
    importer.probe_nir(FF, timeout=30)   # a good file passes
    monkeypatch.setattr(importer, "PROBE_TIMEOUT_S", 2.0)
    code, _, err = run_cli(capsys, "map", str(bad), "--out", str(tmp_path / "m"))
    assert code == EXIT_INPUT and "loops.nir" in err and "did not finish" in err
    with pytest.raises(importer.NIRImportError, match="loops.nir: the HDF5 library did not finish"):
        importer.from_nir(bad, dt=1e-4, reset="zero")   # the Python API probes too
