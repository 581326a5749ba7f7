"""NIR graphs (files or in-memory) into a float neurochip `Network`.

NIR is continuous-time and carries no dt, so `dt` is an explicit argument, as is the reset
convention (`reset="zero" | "subtract"`; NIR files do not record it reliably).

Discretisation (`discretization="euler"`, the default, as NIR's reference implementations
and snnTorch's exporter assume; `"exact"` uses 1 - exp(-dt/tau) instead of dt/tau):

| NIR node  | continuous time                                   | FloatLIF (per neuron, v' = (v - v_reset)/(v_th - v_reset)) |
|-----------|---------------------------------------------------|-----------------------------------------------|
| LIF       | tau v' = (v_leak - v) + R I                        | du = 1, dv = dt/tau, gain = dt/tau R, bias = dt/tau (v_leak - v_reset) |
| CubaLIF   | tau_syn I' = -I + w_in x; tau_mem v' = v_leak - v + R I | du = dt/tau_syn, dv = dt/tau_mem, gain = dv R du w_in |
| IF        | v' = R I (integrates R I once per step)            | du = 1, dv = 0, gain = R                      |
| LI, CubaLI, I | as above without a threshold                   | vth = +max (never spikes)                     |
| Threshold | spikes where x > threshold                         | du = dv = 1                                   |

Thresholds become 1 and resets 0 by rescaling each neuron (the dynamics are linear), so
populations with per-neuron thresholds still share one vth. Linear nodes (Affine, Linear,
Scale, Conv1d, Conv2d with PyTorch's stride/padding/'same'/'valid'/dilation/groups,
SumPool2d, AvgPool2d, Flatten, Delay) between two neuron nodes are composed into one
projection; nested subgraphs are flattened ("sub.node").

Timing (`timing=`):
- "lava": every projection adds one step, as Lava's Dense does (and Delay nodes add more).
  This is what the NIR paper's Lava runs and neurochip's Lava export compute.
- "framework": feed-forward edges take no time within a step, as in snnTorch, Norse,
  Sinabs and Rockpool; recurrent (back) edges take one step. neurochip reproduces this by
  giving population p a lag (its depth) and each projection delay = lag[post] - lag[pre] - 1
  (+ 1 on back edges): the population's chip step t + lag[p] is the framework's step t.
  A back edge to an earlier layer cannot be reproduced and raises an error.
Biases (Affine/Conv) are added to the neuron bias where that is exact (du = 1, timing
"lava"); otherwise they arrive from an always-on input channel "bias" (see `Imported.inputs_for`).

Reset timing (`reset_delay=`): snnTorch (`reset_delay=True`, its default, not recorded in
the file) resets one step late: mem[t] = beta mem[t-1] + x[t] - thr s[t-1]. For a
subtractive reset that equals subtracting thr / beta right at the spike (beta = 1 - dv), so
the import sets `v_sub` so; a late reset to zero equals an immediate one. Frameworks and
reset conventions, reproduced by:
- snnTorch: timing="framework", reset_delay=True, reset as its `reset_mechanism`
  ("subtract" is its default; it writes v_reset = 0 either way), dt = 1e-4 (hard-coded in
  its exporter: tau = dt / (1 - beta), r = tau / dt).
  Its RLeaky/RSynaptic "zero" reset also drops the input of the step after a spike
  (a one-step refractory period NIR cannot express): not reproduced; use "subtract" there.
- Norse, Sinabs, Rockpool: timing="framework" (Sinabs' IF has no time constant: any dt).
- Lava (and the NIR paper's Lava runs): timing="lava", reset="zero".

Input (`input_kind=`): NIR does not say what an Input carries. "spikes" (the default) makes
each Input a `SpikeSource` (0/1 a step); "current" a `GradedSource` whose real values x[t]
reach the first layer as the current W x[t] every step (direct encoding, the most common
setup of snnTorch and Norse: the image as an input current at every step). On the chip a
current input travels as graded spikes where the chip has them (loihi2: a payload per value,
multiplied at the synapse) and, on a chip without (loihi1), is computed on the host: the host
multiplies x by the first layer's weights in the chip's fixed-point arithmetic and writes the
sums into the first layer's compartments every step, counted as the host's synaptic ops and
one packet per compartment written (`neurochip.chip.kernels.deliver_graded`). Both compute
the same bits; `neurochip.mapping.graded.grade` sets the payload's scale after quantization.

Validation: every error is a `NIRImportError` naming the file (for a path), the node, its
type, the field and the value, and the allowed range. Refused: unknown node types (the
supported ones are listed), a node without a type or a field NIR needs, non-numeric or
non-finite (NaN, inf) parameters, time constants that are not finite and positive (and,
under "euler", shorter than dt, where the decay dt/tau would pass 1), r = 0, v_threshold at
or below v_reset, a graph without an Input, a neuron node or an Output, an Output fed by no
neuron node, a cycle of linear nodes with no neuron node in it. Weights are refused, not
warned about, when a spike would add more than `WEIGHT_LIMIT` thresholds to a spiking
neuron: Loihi's 8-bit weight mantissa at its largest weight exponent (7) cannot reach more,
even with the smallest threshold, so such a network has no chip equivalent (quantization
would clip it to a different network); scale the weights down or the threshold up. A node
whose neurons or synapses could not fit the memory available (`NEURON_BYTES`,
`SYNAPSE_BYTES` each) is refused before its arrays are allocated.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from neurochip.mapping.nir import unroll
from neurochip.model.errors import NetworkError
from neurochip.model.files import check_memory
from neurochip.model.fixed import ACT_SHIFT, NEVER_VTH_FLOAT, VTH_SHIFT, WEIGHT_EXP_RANGE, weight_range
from neurochip.model.network import Network
from neurochip.model.neurons import BIAS_SOURCE as BIAS
from neurochip.model.neurons import NEURON_MODELS, RESETS, GradedSource, SpikeSource

LINEAR_TYPES = ("Affine", "Linear", "Scale", "Conv1d", "Conv2d", "SumPool2d", "AvgPool2d", "Flatten", "Delay",
                "Identity")

TIMINGS = ("lava", "framework")     # a step of delay per projection, or none within a step
DISCRETIZATIONS = ("euler", "exact")  # how a time constant becomes a decay per step
INPUT_KINDS = ("spikes", "current")   # what an Input node carries: 0/1 spikes or real values
# the largest input one spike can bring, in thresholds: the largest 8-bit weight mantissa at the
# largest weight exponent, over the smallest threshold (mantissa 1); 32640
WEIGHT_LIMIT = (weight_range("excitatory")[1] << (WEIGHT_EXP_RANGE[1] + ACT_SHIFT)) / 2**VTH_SHIFT
_NOT_PARAMETERS = ("input_type", "output_type", "metadata")
_TIME_CONSTANTS = ("tau", "tau_mem", "tau_syn")


# what importing, mapping and simulating take, about, per neuron and per synapse (checked
# against the memory available before a node's arrays are allocated: `_check_size`)
NEURON_BYTES, SYNAPSE_BYTES = 256, 48


class NIRImportError(NetworkError):
    """A NIR graph cannot be imported; the message names the node, its type and the edge."""


@dataclass
class Imported:
    """The result of `from_nir`: a float network plus what is needed to drive and read it."""

    net: Network
    inputs: dict                  # NIR input node -> SpikeSource (or GradedSource) population
    outputs: dict                 # NIR output node -> population feeding it
    lag: dict                     # population -> chip steps behind the source timeline
    dt: float = 1.0
    discretization: str = "euler"
    units: dict = field(default_factory=dict)   # population -> NIR kind and the units undone by scaling
    shapes: dict = field(default_factory=dict)  # population -> NIR shape
    timing_delay: dict = field(default_factory=dict)  # projection -> steps added for "framework" timing

    def inputs_for(self, x: dict | np.ndarray, steps: int | None = None) -> dict:
        """Spike inputs for `Simulator.run`: the given inputs (steps, n), zero-padded by the
        largest lag so every layer sees the whole input, plus the always-on bias channel."""
        if not isinstance(x, dict):
            if len(self.inputs) != 1:
                raise NetworkError(f"give inputs as a dict over {list(self.inputs.values())}")
            x = {next(iter(self.inputs.values())): x}
        t = max(np.asarray(a).shape[0] for a in x.values()) if steps is None else steps
        pad = max(self.lag.values(), default=0)
        out = {k: np.pad(np.reshape(a, (len(a), -1)), ((0, pad + t - len(a)), (0, 0))) for k, a in x.items()}
        if BIAS in self.net.populations:
            out[BIAS] = np.vstack([np.ones((t, 1), bool), np.zeros((pad, 1), bool)])
        return out

    def align(self, raster: np.ndarray, pop: str, steps: int) -> np.ndarray:
        """A recorded (chip steps, n) array of `pop` cut to the source's timeline (steps, n)."""
        return raster[self.lag[pop]: self.lag[pop] + steps]


PROBE_TIMEOUT_S = 30.0   # probe_nir: seconds, plus one a megabyte of file


def probe_nir(path, timeout: float | None = None) -> None:
    """Open `path` with h5py and read its graph in a child process first: a file damaged
    inside HDF5's own structures can make the HDF5 library spin forever (one byte zeroed in
    an object header does; Ctrl-C cannot stop it) or crash the process, before Python sees
    an error. NIRImportError names the file if the child hangs (past `timeout`, default
    PROBE_TIMEOUT_S plus a second a megabyte) or dies of a signal; errors the child raises
    are left to `read_nir`, which reports them. `read_nir` (so `from_nir` of a path and the
    command line) calls this once per file version (path, size, mtime): a process start,
    about 0.3 s.
    """
    import subprocess
    import sys

    path = Path(path)
    if not path.is_file():
        return   # read_nir says what is wrong
    st = path.resolve().stat()
    version = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if version in _PROBED:
        return
    limit = timeout if timeout is not None else PROBE_TIMEOUT_S + path.stat().st_size / 2**20
    code = ("import sys, h5py\nfrom nir.serialization import hdf2dict\n"
            "with h5py.File(sys.argv[1], 'r') as f:\n    hdf2dict(f['node'])\n")
    try:
        done = subprocess.run([sys.executable, "-c", code, str(path)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=limit)
    except subprocess.TimeoutExpired:
        raise NIRImportError(f"{path}: the HDF5 library did not finish reading it in {limit:.0f} s (its internal "
                             "structures are damaged, so it loops); write the file again with nir.write") from None
    if done.returncode < 0:
        raise NIRImportError(f"{path}: the HDF5 library crashed reading it (signal {-done.returncode}); its "
                             "internal structures are damaged; write the file again with nir.write")
    _PROBED.add(version)


_PROBED: set = set()   # file versions the HDF5 library read to the end in a child process


def read_nir(path, probe: bool = True):
    """Read a .nir file with NIR's own reader, tolerating what peers' older files do:
    type mismatches (read without type checks) and an edge naming a missing node when
    exactly one node of that graph starts with the name (repaired, with a warning).
    A file that is not HDF5, has no graph, a node of an unknown or missing type, or a node
    NIR cannot build raises `NIRImportError` naming the file and the node. `probe`: read it
    in a child process first (`probe_nir`), so a file on which HDF5 hangs or crashes is an
    error, not a hang."""
    if probe:
        probe_nir(path)
    import h5py
    import nir
    from nir.serialization import hdf2dict

    try:
        with h5py.File(path, "r") as f:
            data = hdf2dict(f["node"])
    except FileNotFoundError:
        raise NIRImportError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise NIRImportError(f"{path}: is a folder, not a NIR file") from None
    except Exception as e:  # h5py raises OSError, KeyError, RuntimeError, ValueError on damaged files
        raise NIRImportError(f"{path}: not a readable NIR file ({type(e).__name__}: {e}); "
                             "write it with nir.write") from None
    try:
        _check_graph_dict(data, str(path))
        _repair_edges(data, str(path))
    except UnicodeDecodeError as e:
        raise NIRImportError(f"{path}: a node or edge name is not UTF-8 text ({e}); the file is damaged") from None
    data["type_check"] = False
    try:
        return nir.dict2NIRNode(data)
    except Exception as e:  # NIR raises ValueError/AssertionError/KeyError/TypeError on malformed graphs
        node = _failing_node(data)
        raise NIRImportError(f"{path}: malformed NIR graph{node}: {type(e).__name__}: {e}".rstrip(": ")) from None


def nir_node_types() -> tuple:
    """The NIR node types `from_nir` imports: the registry's neuron nodes, the linear nodes,
    Input, Output and (nested) NIRGraph."""
    neurons = tuple(kind for model in NEURON_MODELS.values() for kind in model.nir_nodes)
    return (*neurons, *(t for t in LINEAR_TYPES if t != "Identity"), "Input", "Output", "NIRGraph")


def _check_graph_dict(graph, where: str, prefix: str = "") -> None:
    """The file's graph as read: nodes with known types, edges as pairs of names."""
    what = f"subgraph {prefix[:-1]!r}" if prefix else "the graph"
    if not isinstance(graph, dict) or not isinstance(graph.get("nodes"), dict):
        raise NIRImportError(f"{where}: {what} has no 'nodes' group; not a NIR graph (write it with nir.write)")
    if "edges" not in graph:
        raise NIRImportError(f"{where}: {what} has no 'edges'; not a NIR graph (write it with nir.write)")
    edges = graph["edges"]
    if isinstance(edges, dict) or np.ndim(edges) != 2 or (np.size(edges) and np.shape(edges)[1] != 2):
        raise NIRImportError(f"{where}: the edges of {what} must be a list of (source, target) node names, "
                             f"got {type(edges).__name__} of shape {np.shape(edges)}")
    if not graph["nodes"]:
        raise NIRImportError(f"{where}: {what} has no nodes")
    supported = nir_node_types()
    for name, node in graph["nodes"].items():
        full = prefix + name
        kind = node.get("type") if isinstance(node, dict) else None
        if isinstance(kind, bytes):
            kind = kind.decode(errors="replace")
        if kind is None:
            raise NIRImportError(f"{where}: node {full!r} has no type; every NIR node records one of "
                                 f"{', '.join(supported)}")
        if not isinstance(kind, str) or kind not in supported:
            raise NIRImportError(f"{where}: node {full!r} has type {kind!r}, which neurochip does not import; "
                                 f"supported types: {', '.join(supported)}")
        node["type"] = kind
        if kind == "NIRGraph":
            _check_graph_dict(node, where, full + ".")


def _failing_node(graph, prefix: str = "") -> str:
    """' (node NAME of type T)' for the first node NIR cannot build, or ''."""
    import nir

    for name, node in graph.get("nodes", {}).items():
        if node.get("type") == "NIRGraph":
            inner = _failing_node(node, prefix + name + ".")
            if inner:
                return inner
            continue
        try:
            nir.dict2NIRNode(dict(node))
        except Exception:
            return f" (node {prefix + name!r} of type {node.get('type')})"
    return ""


def _repair_edges(graph: dict, where: str) -> None:
    nodes = graph.get("nodes", {})
    for sub in nodes.values():
        if isinstance(sub, dict) and sub.get("type") == "NIRGraph":
            _repair_edges(sub, where)

    def repair(end, a, b):
        head = end.split(".")[0]
        if end in nodes or head in nodes:
            return end
        cands = [n for n in nodes if n.startswith(end) or n.startswith(head)]
        if len(cands) != 1:
            raise NIRImportError(f"{where}: edge ({a!r}, {b!r}) names node {end!r}, which does not exist "
                                 f"(nodes: {sorted(nodes)})")
        warnings.warn(f"{where}: edge ({a!r}, {b!r}) names missing node {end!r}; using {cands[0]!r}")
        return cands[0]

    edges = [[x.decode() if isinstance(x, bytes) else str(x) for x in edge] for edge in graph.get("edges", [])]
    graph["edges"] = [(repair(a, a, b), repair(b, a, b)) for a, b in edges]


def _flatten(graph, prefix=""):
    """Inline nested subgraphs: nodes 'sub.name'; a subgraph's Input/Output become Identity."""
    import nir

    nodes, edges = {}, []
    for name, node in graph.nodes.items():
        full = prefix + name
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges = _flatten(node, full + ".")
            for k, v in sub_nodes.items():
                if type(v).__name__ in ("Input", "Output") and k.count(".") == full.count(".") + 1:
                    v = ("Identity", v)
                nodes[k] = v
            edges += sub_edges
        else:
            nodes[full] = node
    edges += [(_endpoint(graph, prefix, a, "Output"), _endpoint(graph, prefix, b, "Input")) for a, b in graph.edges]
    return nodes, edges


def _endpoint(graph, prefix, name, kind):
    import nir

    head = name.split(".")[0]
    node = graph.nodes.get(head)
    if isinstance(node, nir.NIRGraph) and name == head:
        ports = [k for k, v in node.nodes.items() if type(v).__name__ == kind]
        if len(ports) != 1:
            raise NIRImportError(f"subgraph {prefix + head!r} has {len(ports)} {kind} nodes; edges must name one")
        return f"{prefix}{head}.{ports[0]}"
    return prefix + name


def _kind(node) -> str:
    return node[0] if isinstance(node, tuple) else type(node).__name__


def _arr(x, n=None):
    a = np.asarray(x, dtype=np.float64)
    return a if n is None else np.broadcast_to(a.ravel() if a.size == n else a, (n,)).astype(np.float64)


def _neuron_shape(node) -> tuple:
    for f in ("v_threshold", "tau", "tau_mem", "r", "threshold"):
        if hasattr(node, f) and np.ndim(getattr(node, f)):
            return tuple(np.shape(getattr(node, f)))
    return ()


def _decay(tau, dt, how):
    tau = np.asarray(tau, dtype=np.float64)
    return dt / tau if how == "euler" else 1.0 - np.exp(-dt / tau)


def _check_tau(name, kind, field_name, tau, dt, how) -> None:
    """A time constant finite and positive; under "euler" at least dt (the decay dt/tau <= 1)."""
    low = dt if how == "euler" else 0.0
    bad = ~np.isfinite(tau) | (tau < low if how == "euler" else tau <= 0)
    if np.any(bad):
        first = tau[bad][0]
        allowed = (f"dt = {dt:g} s <= {field_name} < inf with discretization 'euler' (its decay dt/{field_name} "
                   "must not pass 1; discretization='exact' takes shorter ones)" if how == "euler"
                   else f"0 < {field_name} < inf")
        raise NIRImportError(f"node {name!r} ({kind}): {field_name} = {first:g} s is out of range; allowed: "
                             f"{allowed}" + ("; an IF node has no leak" if np.isinf(first) else ""))


def _one(name, field_name, arr):
    a = np.unique(np.round(arr, 12))
    if a.size != 1:
        raise NIRImportError(f"node {name!r}: {field_name} differs between neurons ({a[:4]}...); "
                             "neurochip LIF populations share one time constant")
    return float(a[0])


def _neuron_params(name, node, n, dt, how):
    """(float LIF fields, per-neuron input gain, units) for a neuron node, normalised to vth 1,
    reset 0; `units` keeps what the export needs to undo the normalisation."""
    kind = _kind(node)
    if kind == "Threshold":
        th = _arr(node.threshold, n)
        scale = 1.0 / np.where(th > 0, th, 1.0)
        return dict(du=1.0, dv=1.0, vth=1.0), scale, dict(kind=kind, scale=scale, v_reset=np.zeros(n))
    r = _arr(getattr(node, "r", 1.0), n)
    if np.any(r == 0):
        raise NIRImportError(f"node {name!r} ({kind}): r = 0 for {int(np.sum(r == 0))} neuron(s), which cuts "
                             "them off from their input; allowed: any finite non-zero resistance")
    spiking = kind in ("LIF", "CubaLIF", "IF")
    if spiking:
        vth = _arr(node.v_threshold, n)
        v_reset = _arr(node.v_reset if getattr(node, "v_reset", None) is not None else 0.0, n)
        span = vth - v_reset
        if np.any(span <= 0):
            i = int(np.argmax(span <= 0))
            raise NIRImportError(f"node {name!r} ({kind}): v_threshold must exceed v_reset, got v_threshold "
                                 f"{vth[i]:g} <= v_reset {v_reset[i]:g} (neuron {i})")
        scale = 1.0 / span
    else:
        v_reset, scale = np.zeros(n), np.ones(n)
    v_leak, w_in = _arr(getattr(node, "v_leak", 0.0), n), _arr(getattr(node, "w_in", 1.0), n)
    cuba = kind.startswith("Cuba")
    if kind in ("IF", "I"):
        du, dv, gain, bias = 1.0, 0.0, r * scale, np.zeros(n)
    else:
        tau_field = "tau_mem" if cuba else "tau"
        _check_tau(name, kind, tau_field, _arr(getattr(node, tau_field), n), dt, how)
        if cuba:
            _check_tau(name, kind, "tau_syn", _arr(node.tau_syn, n), dt, how)
        a = _decay(_arr(getattr(node, tau_field), n), dt, how)
        dv = _one(name, tau_field, a)
        bias = a * (v_leak - v_reset) * scale
        if cuba:
            b = _decay(_arr(node.tau_syn, n), dt, how)
            du = _one(name, "tau_syn", b)
            gain = a * r * scale * b * w_in
        else:
            du, gain = 1.0, a * r * scale
    params = dict(du=du, dv=dv, vth=1.0 if spiking else NEVER_VTH_FLOAT, bias=bias, v0=-v_reset * scale)
    return params, gain, dict(kind=kind, scale=scale, v_reset=v_reset, r=r, w_in=w_in)


def _linear(name, node, in_shape, dt):
    """(M, bias or None, per-output delay steps or None, out_shape) of one linear node."""
    kind = _kind(node)
    n_in = int(np.prod(in_shape))
    if kind == "Identity":
        return sp.identity(n_in, format="csr"), None, None, tuple(in_shape)
    if kind == "Flatten":
        start, end = int(node.start_dim), int(node.end_dim)
        dims = list(in_shape)  # NIR shapes carry no batch dim; start_dim counts it
        s = max(start - 1, 0) if start > 0 else start + len(dims)
        e = end + len(dims) if end < 0 else end - 1
        out = tuple(dims[:s]) + (int(np.prod(dims[s:e + 1])),) + tuple(dims[e + 1:])
        return sp.identity(n_in, format="csr"), None, None, out
    if kind in ("Affine", "Linear"):
        w = np.asarray(node.weight, dtype=np.float64)
        if w.ndim != 2 or w.shape[1] != n_in:
            raise NIRImportError(f"node {name!r} ({kind}): weight shape {w.shape} does not take {n_in} inputs")
        b = _arr(node.bias) if kind == "Affine" else None
        return sp.csr_matrix(w), b, None, (w.shape[0],)
    if kind == "Scale":
        return sp.diags(_arr(node.scale, n_in)).tocsr(), None, None, tuple(in_shape)
    if kind in ("Conv1d", "Conv2d"):
        M, out = unroll.conv(node.weight, in_shape, node.stride, node.padding, node.dilation, node.groups)
        b = unroll.bias_vector(node.bias, out) if node.bias is not None and np.ndim(node.bias) else None
        return M, b, None, out
    if kind in ("SumPool2d", "AvgPool2d"):
        M, out = unroll.pool2d(in_shape, node.kernel_size, node.stride, node.padding, kind == "AvgPool2d")
        return M, None, None, out
    steps = _arr(node.delay, n_in) / dt  # Delay
    if np.any(np.abs(steps - np.round(steps)) > 1e-6):
        raise NIRImportError(f"node {name!r} (Delay): delays {node.delay} are not whole steps of dt = {dt}")
    return sp.identity(n_in, format="csr"), None, np.round(steps).astype(np.int64), tuple(in_shape)


def _either(options) -> str:
    return " or ".join(repr(o) for o in options)


def from_nir(graph, dt: float, reset: str, discretization: str = "euler", timing: str = "lava",
             reset_delay: bool = False, input_kind: str = "spikes") -> Imported:
    """Import a NIR graph (a path or a `nir.NIRGraph`) as a float `Network` (see module doc)."""
    if input_kind not in INPUT_KINDS:
        raise NIRImportError(f"input_kind must be {_either(INPUT_KINDS)}, got {input_kind!r}")
    if reset not in RESETS:
        raise NIRImportError(f"reset must be {_either(RESETS)}, got {reset!r} (NIR files do not say which)")
    if discretization not in DISCRETIZATIONS:
        raise NIRImportError(f"discretization must be {_either(DISCRETIZATIONS)}, got {discretization!r}")
    if timing not in TIMINGS:
        raise NIRImportError(f"timing must be {_either(TIMINGS)}, got {timing!r}")
    if isinstance(dt, bool) or not isinstance(dt, (int, float, np.integer, np.floating)) or not 0 < dt < np.inf:
        raise NIRImportError(f"dt must be a positive, finite number of seconds, got {dt!r}")
    if hasattr(graph, "nodes"):
        return _import(graph, dt, reset, discretization, timing, reset_delay, input_kind)
    path = graph
    graph = read_nir(path)
    try:
        return _import(graph, dt, reset, discretization, timing, reset_delay, input_kind)
    except NetworkError as e:  # the importer's checks and the network's own: name the file
        raise NIRImportError(f"{path}: {e}") from None


def _import(graph, dt, reset, discretization, timing, reset_delay, input_kind="spikes") -> Imported:
    nodes, edges = _flatten(graph)
    preds = {k: [] for k in nodes}
    for a, b in edges:
        for end in (a, b):
            if end not in nodes:
                raise NIRImportError(f"edge ({a!r}, {b!r}) names node {end!r}, which does not exist")
        preds[b].append(a)
    kinds = {k: _kind(v) for k, v in nodes.items()}
    models = {kind: model for model in NEURON_MODELS.values() for kind in model.nir_nodes}  # the registry's
    supported = (*models, *LINEAR_TYPES, "Input", "Output")
    for k, kind in kinds.items():
        if kind not in supported:
            raise NIRImportError(f"node {k!r} has type {kind}, which neurochip does not import; "
                                 f"supported types: {', '.join(supported)}")
    _check_structure(nodes, kinds, preds, models)
    for k, v in nodes.items():
        _check_values(k, kinds[k], v)

    # shapes: inputs and neuron nodes know theirs; linear nodes follow their predecessor
    shapes = {}
    for k, v in nodes.items():
        if kinds[k] == "Input":
            shapes[k] = tuple(int(s) for s in np.atleast_1d(v.input_type["input"]))
        elif kinds[k] in models and _neuron_shape(v):
            shapes[k] = _neuron_shape(v)
        if k in shapes:
            _check_size(k, kinds[k], f"shape {shapes[k]}", math.prod(shapes[k]))
    lin = {}
    for _ in range(len(nodes) + 1):
        for k in nodes:
            if k in lin or kinds[k] not in LINEAR_TYPES + ("Output",) and k in shapes:
                continue
            known = [shapes[p] for p in preds[k] if p in shapes]
            if not known:
                continue
            if kinds[k] not in LINEAR_TYPES:
                shapes[k] = known[0]
            else:
                _check_linear_size(k, kinds[k], nodes[k], known[0])
                try:
                    lin[k] = _linear(k, nodes[k], known[0], dt)
                except NIRImportError:
                    raise
                except (ValueError, TypeError, IndexError) as e:
                    raise NIRImportError(f"node {k!r} ({kinds[k]}): {e}") from None
                shapes[k] = lin[k][3]
    missing = [k for k in nodes if k not in shapes]
    if missing:
        raise NIRImportError(f"cannot infer the shape of nodes {missing}: they are not reachable from an Input")

    # compose linear chains: for each node, its (source, M, delays) paths and the bias it adds
    @functools.cache
    def incoming(k):
        paths, pre_bias = [], 0.0
        for p in preds[k]:
            if kinds[p] in models or kinds[p] == "Input":
                n = int(np.prod(shapes[p]))
                paths.append((p, sp.identity(n, format="csr"), None))
            else:
                sub_paths, sub_bias = incoming(p)
                paths += sub_paths
                pre_bias = pre_bias + sub_bias
        n_in = lin[k][0].shape[1] if k in lin else int(np.prod(shapes[k]))
        for src, P, _ in paths:
            if P.shape[0] != n_in:
                raise NIRImportError(f"node {k!r} ({kinds[k]}) takes {n_in} inputs but the edge from {src!r} "
                                     f"brings {P.shape[0]}")
        bias = np.zeros(n_in) + pre_bias
        if k in lin:
            M, b, d, _ = lin[k]
            paths = [(src, (M @ P).tocsr(), _carry_delay(k, M, (M @ P).tocsr(), D, d)) for src, P, D in paths]
            bias = M @ bias + (b if b is not None else 0.0)
        return paths, bias

    net = Network()
    inputs, outputs = {}, {}
    for k, v in nodes.items():
        if kinds[k] == "Input" and not isinstance(v, tuple):
            source = GradedSource if input_kind == "current" else SpikeSource
            inputs[k] = net.add(source(int(np.prod(shapes[k])), name=k)).name
    params, gains, units = {}, {}, {}
    for k, v in nodes.items():
        if kinds[k] in models:
            try:
                params[k], gains[k], units[k] = _neuron_params(k, v, int(np.prod(shapes[k])), dt, discretization)
            except NIRImportError:
                raise
            except (ValueError, TypeError, IndexError) as e:
                raise NIRImportError(f"node {k!r} ({kinds[k]}): {e}") from None
            if reset_delay and reset == "subtract" and params[k]["vth"] == 1.0:
                if params[k]["dv"] >= 1.0:
                    raise NIRImportError(f"node {k!r} ({kinds[k]}): a late (reset_delay) subtractive reset needs "
                                         f"a decay below 1, got dv = {params[k]['dv']:g}; make tau longer than "
                                         f"dt = {dt:g} s")
                params[k]["v_sub"] = 1.0 / (1.0 - params[k]["dv"])  # the late reset, moved forward

    # depth: longest feed-forward path from the inputs; the lag under "framework" timing
    pops = [*inputs, *params]
    senders = {k: [s for s, _, _ in incoming(k)[0]] for k in params}
    back = _back_edges(pops, senders)
    depth = {k: 0 for k in pops}
    for _ in range(len(pops)):
        for k in params:
            for src in senders[k]:
                if (src, k) not in back:
                    depth[k] = max(depth[k], depth[src] + 1)
    lag = depth if timing == "framework" else {k: 0 for k in pops}
    params = dict(sorted(params.items(), key=lambda kv: depth[kv[0]]))  # layers in order: cores fill in order
    bias_weights, timing_delay = {}, {}
    for k, p in params.items():
        bias = incoming(k)[1]
        if np.any(bias):
            if p["du"] == 1.0 and timing == "lava":
                p["bias"] = p["bias"] + gains[k] * bias
            else:
                bias_weights[k] = gains[k] * bias
        net.add(models[kinds[k]](int(np.prod(shapes[k])), reset=reset if p["vth"] != NEVER_VTH_FLOAT else "zero",
                                 name=k, **p))
    if bias_weights:
        net.add(SpikeSource(1, name=BIAS))
    for k in params:
        merged = {}  # paths without delays from one source add up into one projection
        for src, P, D in incoming(k)[0]:
            key = (src, None) if D is None else (src, len(merged))
            merged[key] = (merged[key][0] + P, None) if key in merged else (P, D)
        for (src, _), (P, D) in merged.items():
            W = (sp.diags(gains[k]) @ P).tocsr()
            _check_weights(k, kinds[k], src, W, params[k]["vth"] == 1.0, _linear_between(src, k, preds, kinds, models),
                           nodes)
            extra = (lag[k] - lag[src] - 1 + ((src, k) in back)) if timing == "framework" else 0
            if extra < 0:
                raise NIRImportError(f"edge {src!r} -> {k!r} feeds back to an earlier layer; the framework's "
                                     "zero-delay timing cannot be reproduced (use timing='lava')")
            delay = extra if D is None else np.round(D.toarray()).astype(np.int64) + extra
            proj = net.connect(src, k, W.toarray() if W.shape[0] * W.shape[1] <= 4_000_000 else W, delay=delay,
                               name=f"{src}->{k}" if D is None else f"{src}->{k}~{len(net.projections)}")
            timing_delay[proj.name] = extra
        if k in bias_weights:
            if not np.all(np.isfinite(bias_weights[k])):
                raise NIRImportError(f"node {k!r} ({kinds[k]}): the biases reaching it overflow to "
                                     f"{bias_weights[k][~np.isfinite(bias_weights[k])][0]}; make them smaller")
            proj = net.connect(BIAS, k, bias_weights[k][:, None], delay=max(lag[k] - 1, 0), name=f"{BIAS}->{k}")
            timing_delay[proj.name] = max(lag[k] - 1, 0)
    for k, v in nodes.items():
        if kinds[k] == "Output" and not isinstance(v, tuple):
            srcs = {s for s, _, _ in incoming(k)[0]}
            if len(srcs) != 1 or not srcs <= set(params):
                raise NIRImportError(f"output {k!r} must be fed by one neuron node, got {sorted(srcs)} "
                                     f"(neuron nodes: {sorted(params)})")
            outputs[k] = srcs.pop()
    return Imported(net, inputs, outputs, {k: lag[k] for k in params}, dt=dt, discretization=discretization,
                    units=units, shapes={k: shapes[k] for k in params}, timing_delay=timing_delay)


def _check_size(name, kind, what: str, neurons: int, synapses: int = 0) -> None:
    """A node whose neurons or synapses cannot fit this machine's memory: NIRImportError naming
    it, its shape and the memory needed and available, before its arrays are allocated."""
    check_memory(f"node {name!r} ({kind}): {what}, {neurons:,} neurons" + (f" and {synapses:,} synapses" if synapses
                                                                           else ""),
                 neurons * NEURON_BYTES + synapses * SYNAPSE_BYTES, NIRImportError,
                 "check the node's shape (a mistyped or damaged file?), or import it where there is more memory")


def _check_linear_size(name, kind, node, in_shape) -> None:
    """`_check_size` of a convolution or pooling before it is unrolled into a matrix: about
    one synapse per output position and weight (stride 1), one per input for pooling."""
    n_in = math.prod(int(s) for s in in_shape)
    if kind in ("Conv1d", "Conv2d"):
        w = np.shape(getattr(node, "weight", ()))
        spatial = math.prod(int(s) for s in in_shape[1:]) if len(in_shape) > 1 else 1
        if len(w) >= 2:
            _check_size(name, kind, f"input {tuple(in_shape)}, weight {w}", spatial * int(w[0]),
                        spatial * math.prod(int(s) for s in w))
    elif kind in ("SumPool2d", "AvgPool2d", "Scale"):
        _check_size(name, kind, f"input {tuple(in_shape)}", n_in, n_in)


def _check_structure(nodes, kinds, preds, models) -> None:
    """An Input, a neuron node and an Output at the top level; no edge into an Input; no
    cycle of linear nodes (a loop must pass through a neuron node, which takes a step)."""
    top = [k for k, v in nodes.items() if not isinstance(v, tuple)]
    neurons = sorted(k for k in nodes if kinds[k] in models)
    if not any(kinds[k] == "Input" for k in top):
        raise NIRImportError(f"the graph has no Input node (nodes: {sorted(nodes)}); add a nir.Input feeding "
                             "the first layer")
    if not neurons:
        raise NIRImportError(f"the graph has no neuron node (nodes: {sorted(nodes)}): nothing to put on the "
                             f"chip; add one of {', '.join(models)} between the Input and the Output")
    if not any(kinds[k] == "Output" for k in top):
        raise NIRImportError(f"the graph has no Output node, so its result is undefined; add a nir.Output fed "
                             f"by the neuron node whose spikes are the result (neuron nodes: {neurons})")
    for k in top:
        if kinds[k] == "Input" and preds[k]:
            raise NIRImportError(f"Input node {k!r} has incoming edges from {sorted(preds[k])}; an Input takes none")
    passing = [k for k in nodes if kinds[k] not in models and kinds[k] != "Input"]
    state = {}
    for start in passing:  # iterative depth-first walk along incoming edges
        if start in state:
            continue
        stack = [(start, iter(preds[start]))]
        state[start] = 1
        while stack:
            k, it = stack[-1]
            p = next(it, None)
            if p is None:
                state[k] = 2
                stack.pop()
            elif kinds[p] in models or kinds[p] == "Input" or state.get(p) == 2:
                continue
            elif state.get(p) == 1:
                path = [q for q, _ in stack]
                cycle = path[path.index(p):] + [p]
                raise NIRImportError(f"nodes {' <- '.join(repr(q) for q in cycle)} form a cycle of "
                                     f"{', '.join(sorted({kinds[q] for q in cycle}))} nodes with no neuron node "
                                     "in it; a recurrent connection must pass through a neuron node")
            else:
                state[p] = 1
                stack.append((p, iter(preds[p])))


def _check_values(name, kind, node) -> None:
    """Every parameter of a node a finite number (or array of them); Input shapes positive."""
    if isinstance(node, tuple):
        return
    if kind == "Input":
        shape = node.input_type.get("input") if isinstance(node.input_type, dict) else None
        try:
            dims = np.atleast_1d(np.asarray(shape, dtype=np.float64))
        except (TypeError, ValueError):
            dims = np.array([np.nan])
        if shape is None or dims.ndim != 1 or not dims.size or not np.all(np.isfinite(dims)) \
                or np.any(dims < 1) or np.any(dims != np.round(dims)):
            raise NIRImportError(f"node {name!r} (Input): shape {shape!r} must be positive whole numbers, "
                                 "one per dimension")
        return
    if not dataclasses.is_dataclass(node):
        return
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if f.name in _NOT_PARAMETERS or value is None or (f.name == "padding" and isinstance(value, str)):
            continue
        checked_later = f.name in _TIME_CONSTANTS and kind not in LINEAR_TYPES  # with its range (_check_tau)
        try:
            a = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise NIRImportError(f"node {name!r} ({kind}): {f.name} must be a number or an array of numbers, "
                                 f"got {_short(value)}") from None
        bad = ~np.isfinite(a)
        if np.any(bad) and not checked_later:
            where = np.argwhere(bad)[0] if a.ndim else ()
            raise NIRImportError(f"node {name!r} ({kind}): {f.name} holds {int(bad.sum())} non-finite "
                                 f"value(s) (the first, {a[tuple(where)]}, at index {tuple(int(i) for i in where)}); "
                                 "allowed: finite numbers")


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _linear_between(src, k, preds, kinds, models) -> list:
    """The linear nodes on the paths from `src` to `k`."""
    def upstream(start):
        seen, todo = set(), list(preds[start])
        while todo:
            p = todo.pop()
            if p not in seen and kinds[p] not in models and kinds[p] != "Input":
                seen.add(p)
                todo += preds[p]
        return seen
    return sorted(q for q in upstream(k) if any(src in preds[r] for r in upstream(q) | {q}))


def _check_weights(k, kind, src, W, spiking, via, nodes) -> None:
    """The weights from `src` into neuron node `k` (in thresholds per spike): finite and, into
    a spiking neuron, within what Loihi's weight format can reach (`WEIGHT_LIMIT`)."""
    data = W.data if sp.issparse(W) else np.asarray(W)
    through = f" through {via}" if via else ""
    if not np.all(np.isfinite(data)):
        raise NIRImportError(f"node {k!r} ({kind}): the weights from {src!r}{through} overflow to "
                             f"{data[~np.isfinite(data)][0]} after composing the linear nodes; make them smaller")
    top = float(np.abs(data).max()) if data.size else 0.0
    if spiking and top > WEIGHT_LIMIT:
        raw = [f"{q!r} largest |weight| {np.abs(np.asarray(getattr(nodes[q], a), np.float64)).max():.4g}"
               for q in via for a in ("weight", "scale") if hasattr(nodes[q], a)]
        raise NIRImportError(
            f"node {k!r} ({kind}): one spike from {src!r}{through} adds up to {top:.4g} thresholds "
            f"(v_threshold - v_reset) to a neuron{' (' + '; '.join(raw) + ')' if raw else ''}; Loihi's 8-bit "
            f"weight mantissa at its largest exponent ({WEIGHT_EXP_RANGE[1]}) reaches at most {WEIGHT_LIMIT:g} "
            "thresholds: scale the weights down or the threshold up")


def _carry_delay(name, M, Q, D, d):
    """Per-synapse delays (a sparse matrix shaped like Q) after linear map M, or None.

    Delays pass through elementwise maps; through any other map they must be uniform.
    A Delay node adds d[row] to every synapse reaching output row."""
    if D is None and d is None:
        return None
    out = sp.csr_matrix((np.zeros(Q.nnz), Q.indices.copy(), Q.indptr.copy()), Q.shape)
    if D is not None:
        values = np.unique(D.data)
        if values.size <= 1:
            out.data[:] = values[0] if values.size else 0
        elif M.shape[0] == M.shape[1] and (M - sp.diags(M.diagonal())).nnz == 0:  # elementwise
            out = (sp.diags((M.diagonal() != 0).astype(float)) @ D).tocsr()
        else:
            raise NIRImportError(f"node {name!r} mixes inputs that arrive with different delays: "
                                 "per-synapse delays would be ambiguous")
    if d is not None:
        rows = np.repeat(np.arange(out.shape[0]), np.diff(out.indptr))
        out.data = out.data + d[rows]
    return out


def _back_edges(pops, srcs):
    """Edges that close a cycle in a depth-first walk from the sources (recurrent edges)."""
    back, state = set(), {}

    def visit(k):
        state[k] = 1
        for nxt in [p for p in pops if k in srcs.get(p, [])]:
            if state.get(nxt) == 1:
                back.add((k, nxt))
            elif nxt not in state:
                visit(nxt)
        state[k] = 2

    for k in [p for p in pops if p not in srcs] + pops:  # the sources first, then whatever is left
        if k not in state:
            visit(k)
    return back
