"""What every figure of the studies shares: headless rendering and saving."""


def pyplot():
    """matplotlib.pyplot on the headless Agg backend (imported on first use, so that the
    command line starts without it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path, dpi: int = 110):
    """Lay out, write and close `fig`; returns `path`."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return path
