"""Energy and latency from counted events: energy = sum of counts x per-event costs.

Every number traces to a profile constant (`neurochip/profiles/*.toml`, each with its
source). A kind whose cost is unknown (NaN) and whose count is not zero is listed in
`Energy.unknown` and left out of `total_pj`, which is then a lower bound: never a silent 0.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from neurochip.chip.spec import Profile
from neurochip.model.events import ALL_EVENTS, EVENTS, PHASES


@dataclass
class Energy:
    """Energy of a set of counted events under one profile (pJ), by kind and phase."""

    profile: str
    counts: dict   # kind -> count
    pj: dict       # kind -> count x cost (NaN where the cost is unknown)

    @property
    def unknown(self) -> list:
        return [k for k in ALL_EVENTS if self.counts.get(k, 0) and math.isnan(self.pj[k])]

    @property
    def total_pj(self) -> float:
        """Sum over kinds with known costs (a lower bound when `unknown` is not empty)."""
        return float(sum(v for v in self.pj.values() if not math.isnan(v)))

    def by_phase(self) -> dict:
        return {ph: float(sum(self.pj[k] for k in kinds if not math.isnan(self.pj[k])))
                for ph, kinds in PHASES.items()}

    def per(self, n: float) -> "Energy":
        """This energy divided by n (per inference, per sample, per update)."""
        return Energy(self.profile, {k: c / n for k, c in self.counts.items()},
                      {k: v / n for k, v in self.pj.items()})

    def to_dict(self) -> dict:
        return {"profile": self.profile, "total_pj": self.total_pj, "unknown": self.unknown,
                "by_phase_pj": self.by_phase(), "by_kind_pj": {k: _num(v) for k, v in self.pj.items()},
                "counts": {k: _num(v) for k, v in self.counts.items()}}


def energy(counts: dict, profile: Profile) -> Energy:
    """Energy of event counts (a dict kind -> count, kinds of `ALL_EVENTS`)."""
    merged = dict.fromkeys(ALL_EVENTS, 0)
    for k, c in counts.items():
        if k not in merged:
            raise KeyError(f"unknown event kind {k!r}; kinds are {list(ALL_EVENTS)}")
        merged[k] += c
    pj = {k: (merged[k] * profile.cost(k) if merged[k] else 0.0) for k in ALL_EVENTS}
    return Energy(profile.name, merged, pj)


def chip_counters(counters: np.ndarray) -> np.ndarray:
    """`RunResult.counters` (rows, kinds), or `step_counters` (steps, rows, kinds), without the
    host's injected spikes: no soma on the chip fires them (SANA-FE agrees;
    validation/README.md). Their packets and hops stay."""
    out = np.array(counters, dtype=np.float64)
    out[..., -1, EVENTS.index("spikes_out")] = 0.0
    return out


def per_core_pj(counters: np.ndarray, profile: Profile) -> np.ndarray:
    """Energy of each row (core, then host) of counters shaped (rows, kinds) or (steps, rows,
    kinds), known costs only."""
    cost = np.nan_to_num(profile.vector("energy_pj"), nan=0.0)
    return chip_counters(counters) @ cost


def step_core_pj(result, profile: Profile) -> np.ndarray:
    """(steps, rows) energy of each core (then the host) at each step, known costs only;
    needs a run recorded with 'step_counters'."""
    if result.step_counters is None:
        raise ValueError("step_core_pj: run the simulator with record=[..., 'step_counters']")
    return per_core_pj(result.step_counters, profile)


def run_energy(result, profile: Profile) -> Energy:
    """Energy of a `Simulator.run` result (all cores, and the host's packets and hops)."""
    return energy(dict(zip(EVENTS, chip_counters(result.counters).sum(axis=0).tolist())), profile)


def _num(v):
    return None if isinstance(v, float) and math.isnan(v) else v
