"""Chip descriptions: per-core limits, the mesh, the event-cost profile, the barrier table.

Presets live as TOML files in `neurochip/chip/chips/` (chips) and `neurochip/chip/profiles/` (event
costs); `ChipSpec.from_toml(path)` loads a user's own. Unknown costs are NaN, never zero.

A chip file holds `name`, `profile` (a preset name, or a `[profile]` table laid out as a
profile file: `name`, `citation`, `process`, `voltage`, `[profile.events.<kind>]`), `[mesh]`,
`[core]` and `[barrier]`, and for a board of several chips `[board]` (see `ChipSpec`); a
board file may name a chip preset as `base` instead of repeating its `[mesh]`, `[core]`,
`[barrier]` and `profile`. Every error reading a file is a `SpecError` naming the file, the
table and key and the value, and what is allowed: a file that is not UTF-8 TOML, an unknown
table or key (the known ones are listed), a missing key, a value of the wrong type, a count
that is not a positive integer, and an energy, latency or barrier time that is negative or
infinite (NaN is allowed there and means "not published").
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from neurochip.model.errors import SpecError
from neurochip.model.events import ALL_EVENTS, EVENTS

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib


def _payload_bits(label: str, value) -> None:
    """A graded spike's payload width: 0 (no graded spikes) or 2 .. GRADED_BITS_MAX."""
    if not isinstance(value, int) or isinstance(value, bool) or not (value == 0 or 2 <= value <= GRADED_BITS_MAX):
        raise SpecError(f"{label} = {value!r} is out of range; allowed: 0 (no graded spikes) or 2 to "
                        f"{GRADED_BITS_MAX} bits")


def _positive_int(owner: str, name: str, value) -> None:
    """`owner` is a class ("CoreSpec": CoreSpec.name) or a file and table ("f.toml: [core]")."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        label = f"{owner} {name}" if owner.endswith("]") else f"{owner}.{name}"
        raise SpecError(f"{label} must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class CoreSpec:
    """Per-core resource limits of a neuromorphic core.

    compartments        neurons (compartments) a core updates each step
    input_axons         distinct input axons (one per source neuron feeding the core)
    output_axons        out-axon entries (one per (neuron, destination core) pair)
    synapse_memory_bits synaptic memory; a synapse costs weight_bits + delay_bits + index bits
    weight_bits         weight mantissa bits (sign excluded)
    delay_bits          synaptic delay bits; delays 0 .. 2**delay_bits - 2 are usable
    trace_bits          a presynaptic trace of the learning engine (Loihi: 7, Davies et al. 2018)
    error_bits          an error register and the payload of an error's graded spike
    surrogate_bits      a compartment's surrogate (post factor), unsigned
    tag_bits            a synapse's tag (OTTT_A's accumulated change), signed, in synapse memory
    graded_payload_bits the signed payload of a graded spike, which the synapse multiplies by its
                        weight (a = (W q) << weight_exp); 0: the chip has no graded spikes
                        (Loihi 1), and analog input is computed on the host (`Simulator`).
                        Loihi 2: 24, the width of Lava's graded vectors (`num_message_bits=24`,
                        lava.networks.gradedvecnetwork, lava.proc.s4d)
    """

    compartments: int
    input_axons: int
    output_axons: int
    synapse_memory_bits: int
    weight_bits: int = 8
    delay_bits: int = 6
    trace_bits: int = 7
    error_bits: int = 16
    surrogate_bits: int = 8
    tag_bits: int = 24
    graded_payload_bits: int = 0

    def __post_init__(self):
        for name in CORE_KEYS:
            if name != "graded_payload_bits":
                _positive_int("CoreSpec", name, getattr(self, name))
        _payload_bits("CoreSpec.graded_payload_bits", self.graded_payload_bits)
        if self.weight_bits > 8:
            raise SpecError(f"CoreSpec.weight_bits = {self.weight_bits}: Loihi weights have at most 8 bits")
        for name, (lo, hi) in LEARNING_WIDTHS.items():
            if not lo <= getattr(self, name) <= hi:
                raise SpecError(f"CoreSpec.{name} = {getattr(self, name)} is out of range; allowed: {lo} to {hi} bits")

    @property
    def max_delay(self) -> int:
        return 2**self.delay_bits - 2

    @property
    def index_bits(self) -> int:
        """Bits to name a compartment inside the core."""
        return max(1, math.ceil(math.log2(self.compartments)))


@dataclass(frozen=True)
class EventCost:
    """Energy (pJ) and latency (ns) of one event; NaN means nobody published it. Costs are
    NaN or 0 <= cost < inf."""

    energy_pj: float
    latency_ns: float
    basis: str = "unknown"
    source: str = ""

    def __post_init__(self):
        for name in ("energy_pj", "latency_ns"):
            _cost("EventCost", name, getattr(self, name))


def _cost(where: str, name: str, value) -> None:
    """A cost: a number, NaN (unknown) or 0 <= value < inf."""
    label = f"{where} {name}" if where.endswith("]") else f"{where}: {name}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise SpecError(f"{label} must be a number (nan if unpublished), got {value!r}")
    if not math.isnan(value) and not 0 <= value < math.inf:
        raise SpecError(f"{label} = {value!r} is out of range; allowed: 0 <= {name.split('[')[0]} < inf, "
                        "or nan where it is not published")


@dataclass(frozen=True)
class Profile:
    """Per-event energy and latency of one chip, each constant with its source.

    Every inference event kind (`events.EVENTS`) must be listed, NaN where unpublished;
    learning kinds (`events.LEARNING_EVENTS`) may be, and are unknown (NaN) when not.
    """

    name: str
    events: dict
    citation: str = ""
    process: str = ""
    voltage: str = ""

    def __post_init__(self):
        missing = [k for k in EVENTS if k not in self.events]
        extra = [k for k in self.events if k not in ALL_EVENTS]
        if missing or extra:
            raise SpecError(f"profile {self.name!r}: missing events {missing}, unknown events {extra}; "
                            f"the event kinds are {list(ALL_EVENTS)}")
        nan = float("nan")
        for k in ALL_EVENTS:
            if k not in self.events:
                self.events[k] = EventCost(nan, nan, "unknown", f"not in profile {self.name}")

    def cost(self, kind: str, what: str = "energy_pj") -> float:
        return getattr(self.events[kind], what)

    def filled(self, other: "Profile", kinds=ALL_EVENTS) -> "Profile":
        """This profile with its unknown costs among `kinds` taken from `other`, marked
        basis 'derived' and sourced, so that a report can say which numbers are borrowed."""
        events = dict(self.events)
        for k in kinds:
            mine, theirs = self.events[k], other.events[k]
            if math.isnan(mine.energy_pj) and not math.isnan(theirs.energy_pj):
                events[k] = EventCost(theirs.energy_pj, theirs.latency_ns, "derived",
                                      f"from {other.name}: {theirs.source}")
        return Profile(f"{self.name}+{other.name}", events, self.citation, self.process, self.voltage)

    def vector(self, what: str, all_events: bool = False):
        """Costs in `EVENTS` order (`ALL_EVENTS` with all_events): what = 'energy_pj' or 'latency_ns'."""
        import numpy as np

        return np.array([getattr(self.events[k], what) for k in (ALL_EVENTS if all_events else EVENTS)],
                        dtype=np.float64)

    @classmethod
    def unknown(cls) -> "Profile":
        nan = float("nan")
        return cls("unknown", {k: EventCost(nan, nan, "unknown", "not published") for k in EVENTS},
                   "no published per-event costs")

    @classmethod
    def from_toml(cls, path) -> "Profile":
        return cls.from_dict(_read_toml(path), str(path))

    @classmethod
    def from_dict(cls, data: dict, where: str, table: str = "") -> "Profile":
        """A profile from a profile file's tables (`table` is the prefix of an inline
        `[profile]` table in a chip file, for the messages)."""
        top = f"[{table}]" if table else "the top level"
        _keys(where, top, data, PROFILE_KEYS, required=("name", "events"))
        for key in ("name", "citation", "process", "voltage"):
            _text(where, f"{top} {key}", data.get(key, ""))
        events_table = f"{table}.events" if table else "events"
        if not isinstance(data["events"], dict):
            raise SpecError(f"{where}: [{events_table}] must be a table of event kinds, got {data['events']!r}")
        unknown = [k for k in data["events"] if k not in ALL_EVENTS]
        missing = [k for k in EVENTS if k not in data["events"]]
        if unknown or missing:
            raise SpecError(f"{where}: {'unknown event(s) ' + str(unknown) if unknown else ''}"
                            f"{'; ' if unknown and missing else ''}"
                            f"{'missing event(s) ' + str(missing) if missing else ''} in [{events_table}]; "
                            f"every kind of {list(EVENTS)} must be listed (nan where unpublished), "
                            f"and these may be: {[k for k in ALL_EVENTS if k not in EVENTS]}")
        events = {}
        for kind, v in data["events"].items():
            name = f"[{events_table}.{kind}]"
            _keys(where, name, v, EVENT_KEYS, required=("energy_pj", "latency_ns"))
            for key in ("energy_pj", "latency_ns"):
                _cost(f"{where}: {name}", key, v[key])
            for key in ("basis", "source"):
                _text(where, f"{name} {key}", v.get(key, ""))
            events[kind] = EventCost(float(v["energy_pj"]), float(v["latency_ns"]), v.get("basis", "unknown"),
                                     v.get("source", ""))
        try:
            return cls(data["name"], events, data.get("citation", ""), data.get("process", ""),
                       data.get("voltage", ""))
        except SpecError as e:
            raise SpecError(f"{where}: {e}") from None

    @classmethod
    def preset(cls, name: str) -> "Profile":
        if name == "unknown":
            return cls.unknown()
        return cls.from_toml(_packaged("profiles", name))


@dataclass(frozen=True)
class ChipSpec:
    """A board of `chips_x` x `chips_y` chips (1 x 1: a single chip), each chip `tiles_x` x
    `tiles_y` tiles on a 2D mesh, `cores_per_tile` cores a tile.

    Core numbering is global over the board: core c is on chip k = c // cores_per_chip at
    chip-grid (k % chips_x, k // chips_x), on that chip's tile t = (c % cores_per_chip) //
    cores_per_tile at (t % tiles_x, t // tiles_x); its global mesh position is
    (chip_x tiles_x + tile_x, chip_y tiles_y + tile_y) (the chips' meshes joined edge to edge,
    as Loihi's parallel I/O on the chip's four sides extends its mesh to its neighbours).
    Packets are routed dimension-order (x first, then y) over the global mesh; a step between
    two tiles of one chip is a hop (east-west or north-south), a step between two chips is
    one link (`chip_hops`), not a hop. From (x0, y0) on chip (a0, b0) to (x1, y1) on chip
    (a1, b1):

        chip_hops = |a1 - a0| + |b1 - b0|
        hops_ew   = |x1 - x0| - |a1 - a0|        hops_ns = |y1 - y0| - |b1 - b0|

    Cores on one tile talk through the tile's router with no hop. Host input enters the
    mesh at tile (0, 0) of chip (0, 0).
    The barrier latency for a step is the `barrier_seconds` entry of the largest
    `barrier_tiles` entry <= tiles in use; on more than one chip, the `board_barrier_seconds`
    entry of the largest `board_barrier_chips` entry <= chips in use (`board_barrier_source`
    says where those come from).
    """

    name: str
    tiles_x: int
    tiles_y: int
    cores_per_tile: int
    core: CoreSpec
    profile: Profile = field(default_factory=Profile.unknown)
    barrier_tiles: tuple = (1,)
    barrier_seconds: tuple = (0.0,)
    chips_x: int = 1
    chips_y: int = 1
    board_barrier_chips: tuple = ()
    board_barrier_seconds: tuple = ()
    board_barrier_source: str = ""

    def __post_init__(self):
        for name in ("tiles_x", "tiles_y", "cores_per_tile", "chips_x", "chips_y"):
            _positive_int(f"ChipSpec({self.name})", name, getattr(self, name))
        if self.n_chips > MAX_CHIPS:
            raise SpecError(f"ChipSpec({self.name}): {self.chips_x} x {self.chips_y} = {self.n_chips} chips is out of "
                            f"range; allowed: 1 to {MAX_CHIPS} chips")
        _barrier_table(f"ChipSpec({self.name}) [board]", list(self.board_barrier_chips),
                       list(self.board_barrier_seconds), "barrier_chips", "barrier_seconds", allow_empty=True)
        if len(self.barrier_tiles) != len(self.barrier_seconds) or not self.barrier_tiles:
            raise SpecError(f"ChipSpec({self.name}): barrier tiles and seconds must be equal-length, non-empty, "
                            f"got tiles {list(self.barrier_tiles)} and seconds {list(self.barrier_seconds)}")
        for tiles in self.barrier_tiles:
            _positive_int(f"ChipSpec({self.name})", "barrier_tiles", tiles)
        if list(self.barrier_tiles) != sorted(self.barrier_tiles):
            raise SpecError(f"ChipSpec({self.name}): barrier tiles must be increasing, got {self.barrier_tiles}")
        for seconds in self.barrier_seconds:
            _cost(f"ChipSpec({self.name})", "barrier_seconds", seconds)

    @property
    def cores_per_chip(self) -> int:
        return self.tiles_x * self.tiles_y * self.cores_per_tile

    @property
    def n_chips(self) -> int:
        return self.chips_x * self.chips_y

    @property
    def n_cores(self) -> int:
        return self.cores_per_chip * self.n_chips

    def chip_xy(self, core: int) -> tuple[int, int]:
        """The chip-grid position of the chip that holds `core`."""
        chip = core // self.cores_per_chip
        return chip % self.chips_x, chip // self.chips_x

    def core_xy(self, core: int) -> tuple[int, int]:
        """The global mesh position (tile column, tile row over the board) of `core`."""
        tile = (core % self.cores_per_chip) // self.cores_per_tile
        cx, cy = self.chip_xy(core)
        return cx * self.tiles_x + tile % self.tiles_x, cy * self.tiles_y + tile // self.tiles_x

    def coordinates(self):
        """(n_cores, 2) global mesh positions and (n_cores, 2) chip-grid positions of all cores."""
        import numpy as np

        core = np.arange(self.n_cores)
        chip, tile = core // self.cores_per_chip, (core % self.cores_per_chip) // self.cores_per_tile
        chip_xy = np.stack([chip % self.chips_x, chip // self.chips_x], axis=1)
        tile_xy = np.stack([tile % self.tiles_x, tile // self.tiles_x], axis=1)
        return chip_xy * (self.tiles_x, self.tiles_y) + tile_xy, chip_xy

    def routes(self, src, dst):
        """Hops east-west, hops north-south and chip links (`chip_hops`) of a packet from core
        src[i] (-1: the host, entering at tile (0, 0) of chip (0, 0)) to core dst[i], int64
        arrays (see the class docstring)."""
        import numpy as np

        src, dst = np.asarray(src, np.int64), np.asarray(dst, np.int64)
        xy, chip_xy = self.coordinates()
        host = (src < 0)[:, None]
        d = np.abs(xy[dst] - np.where(host, 0, xy[np.maximum(src, 0)]))
        links = np.abs(chip_xy[dst] - np.where(host, 0, chip_xy[np.maximum(src, 0)]))
        return d[:, 0] - links[:, 0], d[:, 1] - links[:, 1], links.sum(axis=1)

    def barrier(self, tiles_used: int, chips_used: int = 1) -> float:
        """Barrier latency in seconds for a step with `tiles_used` tiles active on `chips_used`
        chips."""
        value = self.barrier_seconds[0]
        for tiles, seconds in zip(self.barrier_tiles, self.barrier_seconds):
            if tiles <= tiles_used:
                value = seconds
        if chips_used > 1:
            value = math.nan   # a multi-chip barrier nobody gave
            for chips, seconds in zip(self.board_barrier_chips, self.board_barrier_seconds):
                if chips <= chips_used:
                    value = seconds
        return float(value)

    @classmethod
    def from_toml(cls, path) -> "ChipSpec":
        where = str(path)
        data = _read_toml(path)
        _keys(where, "the top level", data, CHIP_KEYS, required=("name",))
        _text(where, "the top level name", data["name"])
        if "base" in data:
            data = _with_base(where, data)
        _keys(where, "the top level", data, CHIP_KEYS, required=("name", "mesh", "core"))
        mesh, core, barrier = data["mesh"], data["core"], data.get("barrier", {})
        _keys(where, "[mesh]", mesh, MESH_KEYS, required=MESH_KEYS)
        _keys(where, "[core]", core, CORE_KEYS, required=CORE_KEYS[:4])
        _keys(where, "[barrier]", barrier, BARRIER_KEYS, required=())
        for table, values in (("[mesh]", mesh), ("[core]", core)):
            for key, value in values.items():
                if key == "graded_payload_bits":
                    _payload_bits(f"{where}: [core] graded_payload_bits", value)
                else:
                    _positive_int(f"{where}: {table}", key, value)
        tiles, seconds = barrier.get("tiles", [1]), barrier.get("seconds", [0.0])
        _barrier_table(f"{where}: [barrier]", tiles, seconds, "tiles")
        if core.get("weight_bits", 8) > 8:
            raise SpecError(f"{where}: [core] weight_bits = {core['weight_bits']} is out of range; Loihi weights "
                            "have 1 to 8 bits")
        profile = data.get("profile", "unknown")
        if isinstance(profile, dict):
            profile = Profile.from_dict(profile, where, "profile")
        elif isinstance(profile, str):
            try:
                profile = Profile.preset(profile)
            except SpecError as e:
                raise SpecError(f"{where}: profile: {e}") from None
        else:
            raise SpecError(f"{where}: profile must be a preset name ({', '.join(presets('profiles'))} or unknown) "
                            f"or a [profile] table, got {profile!r}")
        board = _board(where, data.get("board", {}))
        try:
            return cls(name=data["name"], tiles_x=mesh["tiles_x"], tiles_y=mesh["tiles_y"],
                       cores_per_tile=mesh["cores_per_tile"], core=CoreSpec(**core), profile=profile,
                       barrier_tiles=tuple(tiles), barrier_seconds=tuple(float(x) for x in seconds), **board)
        except SpecError as e:
            raise SpecError(f"{where}: {e}") from None

    @classmethod
    def preset(cls, name: str) -> "ChipSpec":
        return cls.from_toml(_packaged("chips", name))


def presets(kind: str = "chips") -> list[str]:
    """Names of the packaged chips (kind='chips') or energy profiles (kind='profiles')."""
    return sorted(p.name[:-5] for p in resources.files("neurochip.chip").joinpath(kind).iterdir()
                  if p.name.endswith(".toml"))


def _packaged(kind: str, name: str) -> Path:
    path = resources.files("neurochip.chip").joinpath(kind, f"{name}.toml")
    if not path.is_file():
        raise SpecError(f"no {kind[:-1]} preset named {name!r}; available: {presets(kind)}")
    return Path(str(path))


CHIP_KEYS = ("name", "base", "profile", "mesh", "core", "barrier", "board")
MESH_KEYS = ("tiles_x", "tiles_y", "cores_per_tile")
CORE_KEYS = ("compartments", "input_axons", "output_axons", "synapse_memory_bits", "weight_bits", "delay_bits",
             "trace_bits", "error_bits", "surrogate_bits", "tag_bits", "graded_payload_bits")
GRADED_BITS_MAX = 32   # Loihi 2's widest message payload; Lava's graded vectors use 24
# A chip without graded spikes: the host quantises analog input to this many bits (Lava's graded
# width) and computes the first layer's input itself, so loihi1 and loihi2 compute the same.
HOST_PAYLOAD_BITS = 24
LEARNING_WIDTHS = {"trace_bits": (2, 24), "error_bits": (4, 32), "surrogate_bits": (2, 16), "tag_bits": (4, 32)}
BARRIER_KEYS = ("tiles", "seconds")
BOARD_KEYS = ("chips_x", "chips_y", "barrier_chips", "barrier_seconds", "barrier_source")
# Loihi's hierarchical mesh addressing reaches 16,384 chips (Davies et al., IEEE Micro 2018)
MAX_CHIPS = 16384
PROFILE_KEYS = ("name", "citation", "process", "voltage", "events")
EVENT_KEYS = ("energy_pj", "latency_ns", "basis", "source")


def _barrier_table(label: str, counts, seconds, what: str, seconds_key: str = "seconds",
                   allow_empty: bool = False) -> None:
    """A barrier table (`label` ends with its table, "[barrier]"): increasing positive counts of
    `what` and as many times in seconds (NaN allowed)."""
    for key, values in ((what, counts), (seconds_key, seconds)):
        if not isinstance(values, list) or (not values and not allow_empty):
            raise SpecError(f"{label} {key} must be a non-empty list, got {values!r}")
    for i, value in enumerate(counts):
        _positive_int(label, f"{what}[{i}]", value)
    for i, value in enumerate(seconds):
        _cost(label, f"{seconds_key}[{i}]", value)
    if len(counts) != len(seconds) or counts != sorted(counts):
        raise SpecError(f"{label} {what} must be increasing and as many as {seconds_key}, got {what} {counts} "
                        f"and {seconds_key} {seconds}")


def _with_base(where: str, data: dict, seen: tuple = ()) -> dict:
    """A file on a chip or board preset `base`: the preset's tables (its own base's, in turn),
    with the file's name, profile (if given) and [board] keys (key by key) over them."""
    _text(where, "the top level base", data["base"])
    repeated = [k for k in ("mesh", "core", "barrier") if k in data]
    if repeated:
        raise SpecError(f"{where}: {repeated} given with base = {data['base']!r}, which defines them; give either "
                        "base or [mesh], [core] and [barrier]")
    if data["base"] in seen:
        raise SpecError(f"{where}: base = {data['base']!r} leads back to itself ({' -> '.join(seen)})")
    try:
        base = _read_toml(_packaged("chips", data["base"]))
    except SpecError as e:
        raise SpecError(f"{where}: base: {e}") from None
    if "base" in base:
        base = _with_base(where, base, seen + (data["base"],))
    board = data.get("board", {})
    if not isinstance(board, dict):
        raise SpecError(f"{where}: [board] must be a table with keys {list(BOARD_KEYS)}, got {board!r}")
    merged = {**base, **{k: v for k, v in data.items() if k != "base"}}
    if "board" in base or board:
        merged["board"] = {**base.get("board", {}), **board}
    return merged


def _board(where: str, board: dict) -> dict:
    """The ChipSpec fields of a [board] table (a chip link's costs are the profile's chip_hops)."""
    _keys(where, "[board]", board, BOARD_KEYS, required=("chips_x", "chips_y") if board else ())
    fields = {}
    for key in ("chips_x", "chips_y"):
        if key in board:
            _positive_int(f"{where}: [board]", key, board[key])
            fields[key] = board[key]
    n_chips = fields.get("chips_x", 1) * fields.get("chips_y", 1)
    if n_chips > MAX_CHIPS:
        raise SpecError(f"{where}: [board] chips_x x chips_y = {n_chips} is out of range; allowed: 1 to {MAX_CHIPS} "
                        "chips (Loihi's hierarchical addressing)")
    _text(where, "[board] barrier_source", board.get("barrier_source", ""))
    chips, seconds = board.get("barrier_chips"), board.get("barrier_seconds")
    if (chips is None) != (seconds is None) or (chips is not None and "barrier_source" not in board):
        raise SpecError(f"{where}: [board] barrier_chips, barrier_seconds and barrier_source go together "
                        f"(got {[k for k in ('barrier_chips', 'barrier_seconds', 'barrier_source') if k in board]})")
    if chips is not None:
        _barrier_table(f"{where}: [board]", chips, seconds, "barrier_chips", "barrier_seconds")
        fields.update(board_barrier_chips=tuple(chips), board_barrier_seconds=tuple(float(x) for x in seconds),
                      board_barrier_source=board["barrier_source"])
    return fields


def _keys(where: str, table: str, values, known: tuple, required: tuple) -> None:
    """`values` a table whose keys are among `known` and include `required`."""
    if not isinstance(values, dict):
        raise SpecError(f"{where}: {table} must be a table with keys {list(known)}, got {values!r}")
    unknown = [k for k in values if k not in known]
    if unknown:
        raise SpecError(f"{where}: unknown table(s) or key(s) {unknown} in {table}; the known ones are "
                        f"{list(known)}")
    missing = [k for k in required if k not in values]
    if missing:
        raise SpecError(f"{where}: missing key(s) {missing} in {table} (required: {list(required)})")


def _text(where: str, what: str, value) -> None:
    if not isinstance(value, str):
        raise SpecError(f"{where}: {what} must be text (a quoted string), got {value!r}")


def _read_toml(path) -> dict:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SpecError(f"{path}: is a folder, not a TOML file") from None
    except OSError as e:
        raise SpecError(f"{path}: cannot be read ({e.strerror or e})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SpecError(f"{path}: not a UTF-8 text file (byte {raw[e.start]:#04x} at offset {e.start}); "
                        "a chip or profile description is a TOML text file") from None
    if "\x00" in text:
        raise SpecError(f"{path}: not a text file (it holds NUL bytes); a chip or profile description is a "
                        "TOML text file") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{path}: malformed TOML: {e}") from None


def loihi1() -> ChipSpec:
    return ChipSpec.preset("loihi1")


def loihi2() -> ChipSpec:
    return ChipSpec.preset("loihi2")
