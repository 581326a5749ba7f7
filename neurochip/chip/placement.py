"""Which core each neuron lives on. The full mapper (partitioning, placement on the mesh)
is `neurochip.mapping`; this module holds the result type and the simplest placement."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurochip.chip.spec import ChipSpec
from neurochip.model.errors import FitError
from neurochip.model.network import Network


@dataclass
class Placement:
    """`cores[pop]` holds the core index of each neuron of population `pop` (0 .. chip.n_cores-1).

    Spike sources have no entry: the host injects their spikes at tile (0, 0).
    """

    cores: dict

    def validate(self, net: Network, chip: ChipSpec) -> None:
        for name in net.neurons():
            c = np.asarray(self.cores.get(name, ()))
            if c.shape != (net.populations[name].n,):
                raise FitError(f"placement of population {name!r}: expected one core index per neuron "
                               f"({net.populations[name].n}), got shape {c.shape}")
            if c.size and (c.min() < 0 or c.max() >= chip.n_cores):
                raise FitError(f"placement of population {name!r}: core indices must lie in "
                               f"[0, {chip.n_cores - 1}] for {chip.name}, got [{c.min()}, {c.max()}]")

    @classmethod
    def sequential(cls, net: Network, chip: ChipSpec, per_core: int | None = None,
                   own_cores: bool = False) -> "Placement":
        """Fill cores in order, `per_core` neurons each (default: the compartment limit).

        Populations follow one another without gaps, so a core may hold several, unless
        `own_cores`: then each population starts on a fresh core.
        """
        per_core = per_core or chip.core.compartments
        if per_core > chip.core.compartments:
            raise FitError(f"per_core = {per_core} exceeds {chip.name}'s {chip.core.compartments} compartments a core")
        sizes = [net.populations[k].n for k in net.neurons()]
        total = sum(sizes)
        need = sum(-(-n // per_core) for n in sizes) if own_cores else -(-total // per_core)
        if need > chip.n_cores:
            raise FitError(f"{total} neurons at {per_core} a core need {need} cores; {chip.name} has "
                           f"{chip.n_cores}. Use a chip with more tiles (ChipSpec tiles_x/tiles_y) or fewer neurons.")
        cores, start = {}, 0
        for name in net.neurons():
            n = net.populations[name].n
            if own_cores:
                start = -(-start // per_core) * per_core
            cores[name] = (start + np.arange(n)) // per_core
            start += n
        return cls(cores)
