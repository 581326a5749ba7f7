"""The mapping report (cores and chips used, each core's use of each limit, traffic,
hop-weighted and link-weighted traffic, packets between chips) and the tile-grid figure that
draws a value per core on the mesh of a chip or a board."""
from __future__ import annotations

import numpy as np

from neurochip.chip.placement import Placement
from neurochip.chip.program import compile_network
from neurochip.chip.spec import ChipSpec
from neurochip.chip.synapses import SynapseTable, synapse_table
from neurochip.mapping.placement.traffic import core_traffic, route_traffic
from neurochip.model.network import Network

LIMITS = ("compartments", "input_axons", "output_axons", "synapse_memory_bits")


def mapping_report(net: Network, chip: ChipSpec, placement: Placement, rates: dict | None = None,
                   table: SynapseTable | None = None) -> dict:
    """Cores and chips used, each core's use of each limit (fraction), expected packets a step
    between cores and from the host, packets x mesh hops (hop_traffic), packets x chip links
    (link_traffic), packets that leave their chip (inter_chip_packets) and the packets
    between each pair of chips (chip_traffic[i][j], from chip i to chip j)."""
    table = table or synapse_table(net, chip)
    usage = compile_network(net, chip, placement, table).usage
    traffic, host, ids = core_traffic(net, placement, table, rates)
    chip_of = ids // chip.cores_per_chip
    t = traffic.tocoo()
    chip_traffic = np.zeros((chip.n_chips, chip.n_chips))
    np.add.at(chip_traffic, (chip_of[t.row], chip_of[t.col]), t.data)
    return dict(chip=chip.name, cores_used=len(ids), core_ids=ids.tolist(),
                chips_used=len(np.unique(chip_of)),
                utilization={k: (usage[k] / getattr(chip.core, k)).tolist() for k in LIMITS},
                inter_core_traffic=float(traffic.sum() - traffic.diagonal().sum()), host_traffic=float(host.sum()),
                **route_traffic(traffic, host, ids, chip), chip_traffic=chip_traffic.tolist())


def plot_mesh_heatmap(report: dict, chip: ChipSpec, path, what: str = "compartments"):
    """PNG heat map of per-tile load: the mean use of `what` over the tile's cores."""
    per_core = np.asarray(report["utilization"][what]) / chip.cores_per_tile
    return plot_tile_grid(chip, report["core_ids"], per_core, path, f"mean {what} utilisation",
                          f"{chip.name}: {what} use per tile ({report['cores_used']} cores)")


def plot_tile_grid(chip: ChipSpec, core_ids, values, path, label: str, title: str, cmap: str = "viridis"):
    """PNG of a value per core drawn on the tile grid (of the whole board, chip borders drawn),
    each tile the sum over its cores."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    width, height = chip.tiles_x * chip.chips_x, chip.tiles_y * chip.chips_y
    grid = np.zeros((height, width))
    xy = np.array([chip.core_xy(core) for core in core_ids], dtype=np.int64).reshape(-1, 2)
    np.add.at(grid, (xy[:, 1], xy[:, 0]), np.asarray(values, dtype=np.float64))
    scale = min(1.0, 24 / max(width, height))
    fig, ax = plt.subplots(figsize=(1.5 + width * scale, 1 + height * 0.8 * scale))
    im = ax.imshow(grid, cmap=cmap, vmin=0, vmax=max(grid.max(), 1e-9), origin="lower")
    for x in range(1, chip.chips_x):
        ax.axvline(x * chip.tiles_x - 0.5, color="white", lw=1.5)
    for y in range(1, chip.chips_y):
        ax.axhline(y * chip.tiles_y - 0.5, color="white", lw=1.5)
    ax.set_xlabel("tile x (east-west)")
    ax.set_ylabel("tile y (north-south)")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label=label)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
