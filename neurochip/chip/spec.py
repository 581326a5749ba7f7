"""Chip descriptions: per-core limits, the mesh, the event-cost profile, the barrier table.

Presets live as TOML files in `neurochip/chip/chips/` (chips) and `neurochip/chip/profiles/` (event
costs); `ChipSpec.from_toml(path)` loads a user's own. Unknown costs are NaN, never zero.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from neurochip.model.errors import SpecError
from neurochip.model.events import ALL_EVENTS, EVENTS

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib


def _positive_int(owner: str, name: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise SpecError(f"{owner}.{name} must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class CoreSpec:
    """Per-core resource limits of a neuromorphic core.

    compartments        neurons (compartments) a core updates each step
    input_axons         distinct input axons (one per source neuron feeding the core)
    output_axons        out-axon entries (one per (neuron, destination core) pair)
    synapse_memory_bits synaptic memory; a synapse costs weight_bits + delay_bits + index bits
    weight_bits         weight mantissa bits (sign excluded)
    delay_bits          synaptic delay bits; delays 0 .. 2**delay_bits - 2 are usable
    """

    compartments: int
    input_axons: int
    output_axons: int
    synapse_memory_bits: int
    weight_bits: int = 8
    delay_bits: int = 6

    def __post_init__(self):
        for name in ("compartments", "input_axons", "output_axons", "synapse_memory_bits",
                     "weight_bits", "delay_bits"):
            _positive_int("CoreSpec", name, getattr(self, name))
        if self.weight_bits > 8:
            raise SpecError(f"CoreSpec.weight_bits = {self.weight_bits}: Loihi weights have at most 8 bits")

    @property
    def max_delay(self) -> int:
        return 2**self.delay_bits - 2

    @property
    def index_bits(self) -> int:
        """Bits to name a compartment inside the core."""
        return max(1, math.ceil(math.log2(self.compartments)))


@dataclass(frozen=True)
class EventCost:
    """Energy (pJ) and latency (ns) of one event; NaN means nobody published it."""

    energy_pj: float
    latency_ns: float
    basis: str = "unknown"
    source: str = ""


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

    def vector(self, what: str):
        """Costs in `EVENTS` order: what = 'energy_pj' or 'latency_ns'."""
        import numpy as np

        return np.array([getattr(self.events[k], what) for k in EVENTS], dtype=np.float64)

    @classmethod
    def unknown(cls) -> "Profile":
        nan = float("nan")
        return cls("unknown", {k: EventCost(nan, nan, "unknown", "not published") for k in EVENTS},
                   "no published per-event costs")

    @classmethod
    def from_toml(cls, path) -> "Profile":
        data = _read_toml(path)
        try:
            events = {k: EventCost(float(v["energy_pj"]), float(v["latency_ns"]),
                                   v.get("basis", "unknown"), v.get("source", ""))
                      for k, v in data["events"].items()}
            return cls(data["name"], events, data.get("citation", ""), data.get("process", ""),
                       data.get("voltage", ""))
        except KeyError as e:
            raise SpecError(f"{path}: missing key {e} (each event needs energy_pj and latency_ns)") from None

    @classmethod
    def preset(cls, name: str) -> "Profile":
        if name == "unknown":
            return cls.unknown()
        return cls.from_toml(_packaged("profiles", name))


@dataclass(frozen=True)
class ChipSpec:
    """A chip: `tiles_x` x `tiles_y` tiles on a 2D mesh, `cores_per_tile` cores each.

    Core c sits on tile c // cores_per_tile at x = tile % tiles_x, y = tile // tiles_x.
    Packets are routed dimension-order (x first, then y): |dx| east-west hops, |dy|
    north-south hops; cores on one tile talk through the tile's router with no hop.
    Host input enters the mesh at tile (0, 0).
    The barrier latency for a step is the `barrier_seconds` entry of the largest
    `barrier_tiles` entry <= tiles in use.
    """

    name: str
    tiles_x: int
    tiles_y: int
    cores_per_tile: int
    core: CoreSpec
    profile: Profile = field(default_factory=Profile.unknown)
    barrier_tiles: tuple = (1,)
    barrier_seconds: tuple = (0.0,)

    def __post_init__(self):
        for name in ("tiles_x", "tiles_y", "cores_per_tile"):
            _positive_int(f"ChipSpec({self.name})", name, getattr(self, name))
        if len(self.barrier_tiles) != len(self.barrier_seconds) or not self.barrier_tiles:
            raise SpecError(f"ChipSpec({self.name}): barrier tiles and seconds must be equal-length, non-empty")
        if list(self.barrier_tiles) != sorted(self.barrier_tiles):
            raise SpecError(f"ChipSpec({self.name}): barrier tiles must be increasing, got {self.barrier_tiles}")

    @property
    def n_cores(self) -> int:
        return self.tiles_x * self.tiles_y * self.cores_per_tile

    def core_xy(self, core: int) -> tuple[int, int]:
        tile = core // self.cores_per_tile
        return tile % self.tiles_x, tile // self.tiles_x

    def barrier(self, tiles_used: int) -> float:
        """Barrier latency in seconds for a step with `tiles_used` tiles active."""
        value = self.barrier_seconds[0]
        for tiles, seconds in zip(self.barrier_tiles, self.barrier_seconds):
            if tiles <= tiles_used:
                value = seconds
        return float(value)

    @classmethod
    def from_toml(cls, path) -> "ChipSpec":
        data = _read_toml(path)
        try:
            mesh, core, barrier = data["mesh"], data["core"], data.get("barrier", {})
            profile = data.get("profile", "unknown")
            return cls(
                name=data["name"],
                tiles_x=mesh["tiles_x"], tiles_y=mesh["tiles_y"], cores_per_tile=mesh["cores_per_tile"],
                core=CoreSpec(**core),
                profile=Profile.preset(profile) if isinstance(profile, str) else Profile(**profile),
                barrier_tiles=tuple(barrier.get("tiles", (1,))),
                barrier_seconds=tuple(float(s) for s in barrier.get("seconds", (0.0,))),
            )
        except KeyError as e:
            raise SpecError(f"{path}: missing key {e}") from None
        except TypeError as e:
            raise SpecError(f"{path}: {e}") from None

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


def _read_toml(path) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{path}: malformed TOML: {e}") from None


def loihi1() -> ChipSpec:
    return ChipSpec.preset("loihi1")


def loihi2() -> ChipSpec:
    return ChipSpec.preset("loihi2")
