"""Design-space sweeps on Dask: `neurochip sweep CONFIG.toml`.

A sweep config (TOML) has a `[job]` table, the base run, and an `[axes]` table of lists; the
sweep runs every point of the Cartesian product of the axes (in file order), each point the
job with the axis values put in. Every job key except `kind` may be an axis:

    [job]
    kind = "infer"          # "infer": a network on a chip; "learn": on-chip learning
    network = "digits"      # infer: "digits" (the demo's network) | learn: "new" | a .nir file
    chip = "loihi1"         # preset name or chip .toml
    samples = 20
    [axes]
    chip = ["loihi1", "loihi2"]
    shard = ["1 of 2", "2 of 2"]

A point is a pure function of its parameters (`run_point`) returning one flat dict:
accuracy, energy and latency per inference (or per update), event counts, wall seconds.
Points run on `dask.distributed`: a `LocalCluster` of worker processes, or any scheduler
(`--scheduler ADDRESS`, e.g. one started with `dask scheduler` and `dask worker` on several
machines, each with neurochip installed and the config's files at the same paths). Each
finished point is appended to OUT/results.jsonl at once, keyed by a hash of its parameters
(and of the files it reads), so a killed sweep keeps what it finished and a rerun skips it.
At the end: OUT/results.csv, one row per point, and OUT/sweep.png.
"""
from __future__ import annotations

import csv
import hashlib
import itertools
import json
import logging
import math
import os
import time
import warnings
from contextlib import contextmanager
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

import numpy as np

try:
    import tomllib
except ModuleNotFoundError:   # Python 3.10
    import tomli as tomllib

from neurochip.chip.energy import chip_counters, energy, run_energy
from neurochip.chip.placement import Placement
from neurochip.chip.simulator import Simulator
from neurochip.chip.spec import ChipSpec, Profile, loihi1
from neurochip.cli.commands import (DIGIT_SAMPLES, DIGIT_STEPS, OptionError, _learner, check_folder, import_nir, quiet,
                                    learning_data, learning_result, load_spikes)
from neurochip.mapping.nir.importer import DISCRETIZATIONS, TIMINGS
from neurochip.mapping.placement.partition import PARTITION_METHODS
from neurochip.mapping.placement.place import map_network, place
from neurochip.mapping.quantize import quantize
from neurochip.model.errors import DataError, FitError, NetworkError, SpecError
from neurochip.model.events import ALL_EVENTS, EVENTS
from neurochip.model.neurons import RESETS
from neurochip.rules.learner import Learner
from neurochip.rules.rule import RULES, EventDriven
from neurochip.studies.datasets import digits
from neurochip.studies.demo import T as DIGITS_T, train
from neurochip.studies.figures import pyplot, save_figure
from neurochip.studies.learning_study import every_count

RESULTS, TABLE, FIGURE, STATE = "results.jsonl", "results.csv", "sweep.png", "sweep.json"
CONNECT_TIMEOUT_S = 10      # --scheduler: give up connecting after this long
HIDDEN = 128                # learn with per_core: hidden neurons unless `hidden` (`neurochip learn`'s default)


class SweepError(OptionError):
    """A sweep config, or an output folder, that cannot work (CLI exit 2)."""


def _int(lo):
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= lo, f"a whole number of {lo} or more"


def _one_of(options):
    return lambda v: v in options, "one of " + ", ".join(map(repr, options))


def _shard_ok(v):
    try:
        return _shard(v) is not None
    except (TypeError, ValueError):
        return False


_TEXT = (lambda v: isinstance(v, str) and v != "", "a non-empty string")
_BOTH, _INFER, _LEARN = ("infer", "learn"), ("infer",), ("learn",)
NIR_KEYS = ("dt", "reset", "timing", "reset_delay", "discretization")
FILE_KEYS = ("network", "chip", "profile", "input")
# key: (the kinds it applies to, its default, (check, what it must be)); a default None is the
# data's or network's own (steps, hidden), all of them (train, test) or the rule's (eta)
KEYS = {
    "kind": (_BOTH, "infer", _one_of(_BOTH)),
    "network": (_BOTH, None, (lambda v: isinstance(v, str) and (v in ("digits", "new") or v.endswith(".nir")),
                              "'digits' (infer), 'new' (learn) or a .nir file")),
    "chip": (_BOTH, "loihi1", _TEXT),
    "profile": (_BOTH, "", (lambda v: isinstance(v, str), "a profile preset, a profile .toml, or '' (default)")),
    "partition": (_BOTH, "metis", _one_of(PARTITION_METHODS)),
    "per_core": (_BOTH, 0, _int(0)),
    "seed": (_BOTH, 0, _int(0)),
    "float": (_BOTH, False, (lambda v: isinstance(v, bool), "true or false")),
    "shard": (_BOTH, "1 of 1", (_shard_ok, "'i of n' with 1 <= i <= n")),
    "steps": (_BOTH, None, _int(1)),
    "samples": (_INFER, DIGIT_SAMPLES, _int(1)),
    "input": (_INFER, "", (lambda v: isinstance(v, str) and (v == "" or v.endswith(".npy")), "a .npy file")),
    "rule": (_LEARN, "ottt_a", _one_of(tuple(RULES))),
    "eta": (_LEARN, None, (lambda v: isinstance(v, float) and math.isfinite(v) and v > 0, "a finite number above 0")),
    "epochs": (_LEARN, 1, _int(1)),
    "train": (_LEARN, None, _int(1)),
    "test": (_LEARN, None, _int(1)),
    "hidden": (_LEARN, None, _int(1)),
    "data": (_LEARN, "digits", _one_of(("digits", "saccade"))),
    "dt": (_BOTH, 1e-4, (lambda v: isinstance(v, float) and math.isfinite(v) and v > 0, "a number of seconds above 0")),
    "reset": (_BOTH, "zero", _one_of(RESETS)),
    "timing": (_BOTH, "framework", _one_of(TIMINGS)),
    "reset_delay": (_BOTH, False, (lambda v: isinstance(v, bool), "true or false")),
    "discretization": (_BOTH, "euler", _one_of(DISCRETIZATIONS)),
}


def _shard(text) -> tuple[int, int]:
    """'i of n' -> (i, n), 1 <= i <= n."""
    i, of, n = str(text).split()
    i, n = int(i), int(n)
    if of != "of" or not 1 <= i <= n:
        raise ValueError(text)
    return i, n


def shard_of(n_items: int, shard: str) -> np.ndarray:
    """The indices of shard 'i of n' of `n_items` items: the i-th of n contiguous, near-equal parts."""
    i, n = _shard(shard)
    return np.array_split(np.arange(n_items), n)[i - 1]


# -- the config ------------------------------------------------------------------------------------

def load_config(path) -> dict:
    """The sweep config at `path`, validated: {"job", "axes", "points", "files"}, where points
    are full parameter dicts in Cartesian order and files the digests of the files they read."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such sweep config" + (" (it is a folder)" if path.is_dir() else ""))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SweepError(f"{path}: not a valid TOML file ({e})") from None
    bad = [k for k in data if k not in ("job", "axes")]
    if bad:
        raise SweepError(f"{path}: unknown top-level key(s) {', '.join(bad)}; a sweep config has a [job] table and "
                         "an [axes] table")
    for table in ("job", "axes"):
        if not isinstance(data.get(table, {}), dict):
            raise SweepError(f"{path}: {table} = {data[table]!r}: must be a table, [{table}]")
    job, axes = dict(data.get("job", {})), dict(data.get("axes", {}))
    kind = job.get("kind", "infer")
    _check(path, "[job] kind", KEYS["kind"][2], kind)
    allowed = [k for k, (kinds, *_) in KEYS.items() if kind in kinds]
    for where, table in (("[job]", job), ("[axes]", axes)):
        for key in table:
            if key not in allowed:
                raise SweepError(f"{path}: {where} unknown key {key!r} for kind {kind!r}; the keys are "
                                 f"{', '.join(allowed)}")
    base = path.parent.absolute()
    for key, value in job.items():
        job[key] = _value(path, base, f"[job] {key}", key, value)
    for key, values in axes.items():
        if key == "kind":
            raise SweepError(f"{path}: [axes] kind: one sweep has one kind; write a config per kind")
        if key in job:
            raise SweepError(f"{path}: {key} is in [job] and in [axes]; give it in one of them")
        if not isinstance(values, list) or not values:
            raise SweepError(f"{path}: [axes] {key} = {values!r}: an axis is a non-empty list of values")
        values = [_value(path, base, f"[axes] {key}[{i}]", key, v) for i, v in enumerate(values)]
        dup = next((v for i, v in enumerate(values) if v in values[:i]), None)
        if dup is not None:
            raise SweepError(f"{path}: [axes] {key} lists {dup!r} twice; each value once")
        axes[key] = values
    if "partition" in axes and ("per_core" in axes or job.get("per_core")):
        raise SweepError(f"{path}: [axes] partition with per_core: per_core > 0 fills cores in order and ignores the "
                         "partition method; sweep one of them")
    points = [_resolve(path, job, dict(zip(axes, combo))) for combo in itertools.product(*axes.values())]
    files = {str(p[k]): _digest(p[k]) for p in points for k in FILE_KEYS
             if str(p.get(k)).endswith((".nir", ".toml", ".npy"))}
    return {"job": job, "axes": axes, "points": points, "files": files}


def _check(path, where, check, value):
    ok, allowed = check
    if not ok(value):
        raise SweepError(f"{path}: {where} = {value!r}: must be {allowed}")


def _value(path, base: Path, where: str, key: str, value):
    """One value of `key` checked (files made absolute, chips and profiles loaded once)."""
    if key in ("dt", "eta") and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    _check(path, where, KEYS[key][2], value)
    if key in FILE_KEYS and str(value).endswith((".nir", ".toml", ".npy")):
        file = Path(value) if Path(value).is_absolute() else base / value
        if not file.is_file():
            raise SweepError(f"{path}: {where} = {value!r}: no such file {file}")
        value = str(file)
    try:
        if key == "chip":
            _chip(value)
        elif key == "profile" and value:
            _profile(value)
    except SpecError as e:
        raise SweepError(f"{path}: {where} = {value!r}: {e}") from None
    return value


def _resolve(path, job: dict, point: dict) -> dict:
    """A point's full parameters (the job's, with `point`'s axis values): defaults filled in,
    cross-key rules checked."""
    given = {**job, **point}
    kind = given.get("kind", "infer")
    p = {k: given.get(k, default) for k, (kinds, default, _) in KEYS.items() if kind in kinds}
    p["network"] = p["network"] or ("digits" if kind == "infer" else "new")
    nir = p["network"].endswith(".nir")
    where = f"{path}: " + ("[job]" if not point else "the point " + ", ".join(f"{k} = {v!r}" for k, v in point.items()))
    if p["network"] != ("digits" if kind == "infer" else "new") and not nir:
        raise SweepError(f"{where}: network {p['network']!r} is for the other kind; kind {kind!r} takes "
                         f"{'digits' if kind == 'infer' else 'new'} or a .nir file")
    extra = [k for k in NIR_KEYS + ("input",) if k in given and not nir]
    if extra:
        raise SweepError(f"{where}: {', '.join(extra)} set the import of a NIR file; network is {p['network']!r}")
    if not nir:   # the import conventions of a NIR file: not parameters of the others
        p = {k: v for k, v in p.items() if k not in NIR_KEYS + ("input",)}
    if kind == "infer" and p["float"] and not nir:
        raise SweepError(f"{where}: float: the digits network is fixed point; float is for a NIR network")
    if kind == "learn" and nir and (p["per_core"] or "hidden" in given):
        raise SweepError(f"{where}: per_core and hidden are for a new network; a NIR network brings its layers "
                         "and is placed by partition")
    if kind == "infer" and p.get("input") and "steps" in given:
        raise SweepError(f"{where}: steps: the input file gives its own steps; drop steps")
    if kind == "infer" and p["steps"] is None and not p.get("input"):   # learn: the data's own default
        p["steps"] = DIGIT_STEPS if nir else DIGITS_T
    n = p["samples"] if kind == "infer" else p["train"]
    if n is not None and _shard(p["shard"])[1] > n:
        raise SweepError(f"{where}: shard {p['shard']!r}: {n} samples cannot make {_shard(p['shard'])[1]} shards")
    return p


def _digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def point_key(params: dict, files: dict) -> str:
    """A stable hash of a point's parameters and of the contents of the files it reads."""
    used = {str(params[k]): files[str(params[k])] for k in FILE_KEYS if str(params.get(k)) in files}
    text = json.dumps({"params": params, "files": used}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# -- one point -------------------------------------------------------------------------------------

def run_point(params: dict) -> dict:
    """Run one point: its parameters and results as one flat dict. What a point cannot do
    (does not fit the chip, a bad file) is its result too, in `error`."""
    t0 = time.perf_counter()
    # warning filters are per process: points on threads of one worker may see each other's
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = (_infer if params["kind"] == "infer" else _learn)(params)
            error = ""
        except FitError as e:
            out, error = {}, f"does not fit: {e}"
        except (NetworkError, SpecError, DataError, OptionError, FileNotFoundError) as e:
            out, error = {}, str(e)
    said = sorted({str(w.message) for w in caught})
    return {**params, **out, "error": error, "warnings": " | ".join(said), "wall_s": time.perf_counter() - t0}


@lru_cache(maxsize=None)
def _chip(name: str) -> ChipSpec:
    return ChipSpec.from_toml(name) if name.endswith(".toml") else ChipSpec.preset(name)


@lru_cache(maxsize=None)
def _profile(name: str) -> Profile:
    return Profile.from_toml(name) if name.endswith(".toml") else Profile.preset(name)


@lru_cache(maxsize=4)
def _digits_network(seed: int, steps: int):
    """The demo's digits network (`demo.train`: a fixed random hidden layer, a readout fitted
    offline) for `seed`, and its test digits: (net, x_test, y_test)."""
    rng = np.random.default_rng(seed)
    x, y = digits(steps, seed=rng, rate=0.5, split=False)
    train_idx, test_idx = np.split(rng.permutation(len(y)), [int(0.75 * len(y))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net, _ = train(rng, x, y, train_idx, test_idx, loihi1())
    return net, x[test_idx], y[test_idx]


def _args(p) -> SimpleNamespace:
    """What the `neurochip.cli.commands` helpers read from the command line, from a point."""
    nir = p["network"] if p["network"].endswith(".nir") else None
    return SimpleNamespace(nir=nir, **{k: p.get(k) for k in NIR_KEYS}, float=p["float"], chip=p["chip"],
                           partition=p["partition"], steps=p["steps"], data=p.get("data"), rule=p.get("rule"),
                           hidden=p.get("hidden"), seed=p["seed"])


def _placed(net, chip, p) -> Simulator:
    """A simulator of `net` on `chip`: per_core neurons a core in order, or partitioned."""
    if p["per_core"]:
        return Simulator(net, chip, place(Placement.sequential(net, chip, per_core=p["per_core"]), net, chip))
    mapping = map_network(net, chip, p["partition"], seed=p["seed"])
    return Simulator(net, chip, mapping.placement, mapping.table)


def _counts(counts: dict) -> dict:
    return {f"count_{k}": int(v) for k, v in counts.items()}


def _infer(p) -> dict:
    """Inference as `neurochip run` does it (a NIR file), or as the demo does (the digits network)."""
    chip = _chip(p["chip"])
    if p["network"] == "digits":
        net, x, y = _digits_network(p["seed"], p["steps"])
        src, out_pop, imp = "pixels", "readout", None
    else:
        imp = import_nir(_args(p))
        net = imp.net
        if not p["float"]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                net, _ = quantize(net)
        (src,), (out_pop,) = imp.inputs.values(), imp.outputs.values()
        if p["input"]:
            x, y = load_spikes(p["input"]), None
        else:
            x, y = digits(p["steps"], seed=p["seed"])[2:]
        if x.shape[2] != net.populations[src].n:
            raise NetworkError(f"{p['network']}: its input has {net.populations[src].n} channels; the data "
                               f"(samples, steps, n) is {x.shape}")
    take = shard_of(min(p["samples"], len(x)), p["shard"])
    x, y = x[take], (None if y is None else y[take])
    sim = _placed(net, chip, p)
    T = x.shape[1]
    if imp is None:   # the demo's readout never spikes: the class is its largest v at the end
        res = sim.run_samples([{src: s} for s in x], record=["v"], populations=[out_pop])
        pred = np.argmax(res.v[out_pop][:, -1], axis=1)
    else:             # as `neurochip run`: the output's spikes over the source's T steps
        tail = max(imp.lag.values(), default=0) if p["timing"] == "framework" else len(net.projections)
        res = sim.run_samples([imp.inputs_for(s, T + tail if p["timing"] == "lava" else None) for s in x],
                              steps=T + tail, populations=[out_pop])
        counts = np.stack([imp.align(r, out_pop, T) for r in res.spikes[out_pop]]).sum(1)
        pred = counts.argmax(1) if counts.shape[1] == 10 else None
    prof = _profile(p["profile"]) if p["profile"] else chip.profile
    e = run_energy(res, prof)
    latency = np.asarray([np.sum(s) for s in res.step_latency_ns], dtype=np.float64)  # NaN: a latency is unknown
    n = len(x)
    return {"accuracy": None if y is None or pred is None else float(np.mean(pred == y)),
            "energy_per_inference_uj": e.total_pj / n / 1e6, "latency_per_inference_us":
            None if np.isnan(latency).any() else float(latency.sum() / n / 1e3),
            "energy_profile": prof.name, "unknown_costs": " ".join(e.unknown), "samples_run": n,
            "steps_run": T, "cores": len(sim.program.core_ids),
            **_counts(dict(zip(EVENTS, chip_counters(res.counters).sum(0).astype(np.int64))))}


def _learn(p) -> dict:
    """On-chip learning as `neurochip learn` does it, on the point's shard of the training set."""
    args = _args(p)
    x_tr, y_tr, x_te, y_te = learning_data(args)
    for key, have in (("train", len(x_tr)), ("test", len(x_te))):
        if p[key] is not None and p[key] > have:
            raise OptionError(f"{key} {p[key]}: the {p['data']} {key} set has {have} samples; give at most {have}")
    x_tr, y_tr, x_te, y_te = x_tr[:p["train"]], y_tr[:p["train"]], x_te[:p["test"]], y_te[:p["test"]]
    take = shard_of(len(x_tr), p["shard"])
    x_tr, y_tr = x_tr[take], y_tr[take]
    if not len(x_tr):
        raise OptionError(f"shard {p['shard']!r}: no training samples in it")
    rule = RULES[p["rule"]](**({} if p["eta"] is None else {"eta": p["eta"]}))
    if isinstance(rule, EventDriven):   # as `neurochip learn`: the spike-count readout's scale for T steps
        rule = replace(rule, readout_scale=rule.readout_scale * 16 / x_tr.shape[1])
    n_in = x_tr.shape[2]
    if p["per_core"]:   # a new chain, per_core neurons a core (`neurochip learn` lets the chip decide)
        learner = Learner([n_in, p["hidden"] or HIDDEN, 10], rule, fixed=not p["float"], seed=p["seed"],
                          chip=_chip(p["chip"]), per_core=p["per_core"])
    else:
        learner = _learner(args, rule, n_in)
    before = learner.accuracy(x_te, y_te)
    learner.fit(x_tr, y_tr, p["epochs"])
    r = learning_result(learner, before, learner.accuracy(x_te, y_te), x_tr.shape[1])
    counts = every_count(learner)
    if p["profile"]:   # the same counts priced with the point's profile
        prof, n = _profile(p["profile"]), r["updates"]
        total, learning = energy(counts, prof), energy(learner.counts("learn"), prof)
        r.update(energy_per_update_uj=total.total_pj / n / 1e6, profile=prof.name, unknown_costs=total.unknown,
                 learning_energy_per_update_uj=learning.total_pj / n / 1e6)
    return {"accuracy": r["accuracy_after"], "accuracy_before": r["accuracy_before"],
            "energy_per_update_uj": r["energy_per_update_uj"],
            "learning_energy_per_update_uj": r["learning_energy_per_update_uj"],
            "latency_per_update_us": r["latency_per_update_us"],
            "learning_latency_per_update_us": r["learning_latency_per_update_us"],
            "energy_profile": r["profile"], "unknown_costs": " ".join(r["unknown_costs"]), "updates": r["updates"],
            "state_bytes": r["state_bytes"], "cores": len(learner.sim.program.core_ids),
            **_counts({k: counts.get(k, 0) for k in ALL_EVENTS})}


# -- the output folder -----------------------------------------------------------------------------

def _read_rows(path: Path) -> tuple[list, int]:
    """The rows of results.jsonl and how many lines were not complete rows (a killed write)."""
    rows, bad = [], 0
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            row = None
        if isinstance(row, dict) and "key" in row:
            rows.append(row)
        else:
            bad += 1
    return rows, bad


def _write_rows(path: Path, rows: list) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    os.replace(tmp, path)


def prepare(out, cfg: dict, keys: list, force: bool, echo=print) -> dict:
    """Check OUT before any work: {key: row} of the points already done. Results of another
    config there are refused, or with `force` reduced to the points this config shares."""
    out = check_folder(out)
    state, results = out / STATE, out / RESULTS
    if results.exists() and not results.is_file():
        raise SweepError(f"--out {out}: {results} is not a file; choose another folder")
    identity = {"job": cfg["job"], "axes": cfg["axes"], "files": cfg["files"]}
    rows, bad = _read_rows(results) if results.is_file() else ([], 0)
    previous = None
    if state.is_file():
        try:
            previous = json.loads(state.read_text(encoding="utf-8")).get("config")
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            previous = "unreadable"
    wanted = set(keys)
    if (rows or state.exists()) and previous != identity:
        what = "an unknown config" if previous is None else "a different config (or its files changed)"
        if not force:
            raise SweepError(f"--out {out}: holds the results of {what}; choose another --out, or add --force to "
                             "keep only the results of points this config shares and run the rest")
        keep = [r for r in rows if r["key"] in wanted]
        echo(f"--force: {out} held results of {what}; kept {len(keep)} that are points of this config, dropped "
             f"{len(rows) - len(keep)}")
        _write_rows(results, keep)
        rows = keep
    elif bad:
        echo(f"{results}: dropped {bad} incomplete line(s) (an interrupted write)")
        _write_rows(results, rows)
    out.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps({"config": identity, "points": len(keys)}, indent=1), encoding="utf-8")
    return {r["key"]: r for r in rows if r["key"] in wanted}


# -- the cluster -----------------------------------------------------------------------------------

@contextmanager
def client(workers: int, threads: int, scheduler: str | None):
    """A dask.distributed Client: on `scheduler` (an address), else on a LocalCluster of
    `workers` processes of `threads` threads; closed on the way out, whatever happens."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        try:
            c = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as e:
            raise SweepError(f"--scheduler {scheduler}: cannot connect ({e}); give the address a `dask scheduler` "
                             "prints, e.g. tcp://host:8786") from None
        with c:
            yield c
        return
    # numba threads per worker = its dask threads, so workers do not oversubscribe the cores
    with LocalCluster(n_workers=workers, threads_per_worker=threads, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR, env={"NUMBA_NUM_THREADS": str(threads)}) as cluster, \
            Client(cluster) as c:
        yield c


def sweep(config, out, *, workers: int | None = None, threads: int = 1, scheduler: str | None = None,
          force: bool = False, progress: bool = True, echo=print) -> dict:
    """Run the sweep of `config` into folder `out`; returns {"points", "skipped", "ran", "errors"}."""
    from tqdm import tqdm

    cfg = load_config(config)
    points = cfg["points"]
    keys = [point_key(p, cfg["files"]) for p in points]
    done = prepare(out, cfg, keys, force, echo)
    out = Path(out)
    todo = [(k, p) for k, p in zip(keys, points) if k not in done]
    axes = " x ".join(f"{k} ({len(v)})" for k, v in cfg["axes"].items()) or "no axes"
    echo(f"sweep {config}: {len(points)} points ({axes}); {len(points) - len(todo)} done before, {len(todo)} to run")
    t0 = time.perf_counter()
    if todo:
        from dask.distributed import as_completed

        workers = workers or os.cpu_count() or 1
        with client(workers, threads, scheduler) as c, open(out / RESULTS, "a", encoding="utf-8") as f, \
                tqdm(total=len(todo), desc="sweep", unit="point", disable=not progress) as bar:
            futures = c.map(run_point, [p for _, p in todo], key=[f"neurochip-point-{k}" for k, _ in todo])
            key_of = {fut.key: k for fut, (k, _) in zip(futures, todo)}
            for fut in as_completed(futures):
                row = {"key": key_of[fut.key], **fut.result()}
                f.write(json.dumps(row) + "\n")
                f.flush()   # a killed sweep keeps every finished point
                done[row["key"]] = row
                bar.update()
    rows = [done[k] for k in keys]
    write_table(rows, out / TABLE, list(cfg["axes"]))
    plot(rows, out / FIGURE, list(cfg["axes"]))
    errors = [r for r in rows if r["error"]]
    echo(f"ran {len(todo)} points in {time.perf_counter() - t0:.1f} s; wrote {out / TABLE} ({len(rows)} rows), "
         f"{out / FIGURE}, {out / RESULTS}")
    if errors:
        echo(f"{len(errors)} point(s) could not run (column 'error'), e.g. {errors[0]['error']}")
    return {"points": len(points), "skipped": len(points) - len(todo), "ran": len(todo), "errors": len(errors)}


# -- the table and the figure ----------------------------------------------------------------------

def write_table(rows: list, path: Path, axes: list) -> None:
    """results.csv: one row per point, the key and the axes first, then the rest in row order."""
    cols = ["key", *axes]
    for r in rows:
        cols += [k for k in r if k not in cols]
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, cols, restval="")
        w.writeheader()
        w.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in rows)
    os.replace(tmp, path)


def _label(row, axes) -> str:
    return " / ".join(Path(str(row[k])).name for k in axes) or "job"


def plot(rows: list, path: Path, axes: list) -> None:
    """sweep.png: energy against accuracy (latency when there are no labels), one colour per
    value of the first axis, and the energy of every point; an energy with unknown costs is a
    lower bound, drawn hollow and hatched."""
    plt = pyplot()
    ok = [r for r in rows if not r["error"]]
    what = "inference" if rows and rows[0]["kind"] == "infer" else "update"
    e_key = f"energy_per_{what}_uj"
    x_key = "accuracy" if ok and all(r["accuracy"] is not None for r in ok) else f"latency_per_{what}_us"
    first = axes[0] if axes else None
    values = list(dict.fromkeys(str(r[first]) if first else "" for r in ok))
    colour = {v: f"C{i % 10}" for i, v in enumerate(values)}
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.5), gridspec_kw={"width_ratios": [1, 1.4]})
    for v in values:
        for bound in (False, True):
            sel = [r for r in ok if (str(r[first]) if first else "") == v and bool(r["unknown_costs"]) == bound]
            if sel:
                ax0.scatter([np.nan if r[x_key] is None else r[x_key] for r in sel], [r[e_key] for r in sel],
                            s=40, edgecolors=colour[v], facecolors="none" if bound else colour[v],
                            label=(f"{first}={Path(v).name}" if first else "job") + (" (lower bound)" if bound else ""))
    ax0.set_xlabel(x_key.replace("_", " "))
    ax0.set_ylabel(f"energy per {what} (uJ)")
    ax0.legend(fontsize=7)
    ax0.set_title("energy against " + ("accuracy" if x_key == "accuracy" else "latency"))
    for i, r in enumerate(ok):
        v = str(r[first]) if first else ""
        ax1.bar(i, r[e_key], color="none" if r["unknown_costs"] else colour[v], edgecolor=colour[v],
                hatch="//" if r["unknown_costs"] else None)
        if r["unknown_costs"]:
            ax1.text(i, 0, " unknown costs", rotation=90, ha="center", va="bottom", fontsize=6)
    ax1.set_xticks(range(len(ok)), [_label(r, axes) for r in ok], rotation=60, ha="right", fontsize=6)
    ax1.set_xlabel(" / ".join(axes))
    ax1.set_ylabel(f"energy per {what} (uJ)")
    ax1.set_title(f"{len(ok)} of {len(rows)} points" + ("" if len(ok) == len(rows) else " (the rest could not run)"))
    save_figure(fig, path)


def cmd_sweep(args) -> int:
    if args.scheduler and (args.workers or args.threads):
        raise OptionError(f"--scheduler {args.scheduler}: its workers are set where they are started; drop "
                          "--workers and --threads (they size the local cluster)")
    sweep(args.config, args.out or Path("sweeps") / Path(args.config).stem, workers=args.workers,
          threads=args.threads or 1, scheduler=args.scheduler, force=args.force, progress=not quiet(args))
    return 0
