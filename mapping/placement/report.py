"""The mapping report (cores used, each core's use of each limit, traffic, hop-weighted
traffic) and the tile-grid figure that draws a value per core on the mesh."""
from __future__ import annotations

import numpy as np

from neurochip.chip.placement import Placement
from neurochip.chip.program import compile_network
from neurochip.chip.spec import ChipSpec
from neurochip.chip.synapses import SynapseTable, synapse_table
from neurochip.mapping.placement.traffic import core_traffic, hop_cost
from neurochip.model.network import Network

LIMITS = ("compartments", "input_axons", "output_axons", "synapse_memory_bits")


def mapping_report(net: Network, chip: ChipSpec, placement: Placement, rates: dict | None = None,
                   table: SynapseTable | None = None) -> dict:
    """Cores used, each core's use of each limit (fraction), traffic and hop-weighted traffic."""
    table = table or synapse_table(net, chip)
    usage = compile_network(net, chip, placement, table).usage
    traffic, host, ids = core_traffic(net, placement, table, rates)
    xy = np.array([chip.core_xy(c) for c in range(chip.n_cores)])
    return dict(chip=chip.name, cores_used=len(ids), core_ids=ids.tolist(),
                utilization={k: (usage[k] / getattr(chip.core, k)).tolist() for k in LIMITS},
                inter_core_traffic=float(traffic.sum() - np.trace(traffic)), host_traffic=float(host.sum()),
                hop_traffic=hop_cost(traffic, host, ids, xy))


def plot_mesh_heatmap(report: dict, chip: ChipSpec, path, what: str = "compartments"):
    """PNG heat map of per-tile load: the mean use of `what` over the tile's cores."""
    per_core = np.asarray(report["utilization"][what]) / chip.cores_per_tile
    return plot_tile_grid(chip, report["core_ids"], per_core, path, f"mean {what} utilisation",
                          f"{chip.name}: {what} use per tile ({report['cores_used']} cores)")


def plot_tile_grid(chip: ChipSpec, core_ids, values, path, label: str, title: str, cmap: str = "viridis"):
    """PNG of a value per core drawn on the tile grid, each tile the sum over its cores."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = np.zeros((chip.tiles_y, chip.tiles_x))
    xy = np.array([chip.core_xy(core) for core in core_ids], dtype=np.int64).reshape(-1, 2)
    np.add.at(grid, (xy[:, 1], xy[:, 0]), np.asarray(values, dtype=np.float64))
    fig, ax = plt.subplots(figsize=(1 + chip.tiles_x, 1 + chip.tiles_y * 0.8))
    im = ax.imshow(grid, cmap=cmap, vmin=0, vmax=max(grid.max(), 1e-9), origin="lower")
    ax.set_xlabel("tile x (east-west)")
    ax.set_ylabel("tile y (north-south)")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label=label)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
