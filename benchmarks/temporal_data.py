"""The embedded temporal data set, saccade digits: a figure of its events and its statistics.

    .venv/bin/python benchmarks/temporal_data.py

scikit-learn's digits, scaled to 12x12 in a 16x16 view, moved in three saccades (100 steps of
1 ms each) in front of an emulated event camera (neurochip.studies.event_data.saccade_digits).
Writes benchmarks/results/saccade_digits.png: three samples as ON (green) and OFF (red) event
frames over six time slices, and the mean events per step over the 300 steps; prints the build
time, events per sample and per step, and a linear classifier's accuracy on the spike counts.
"""
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from neurochip.studies.event_data import SACCADE_DT_US, digit_images, saccade_digits
from neurochip.studies.figures import pyplot, save_figure

HERE = Path(__file__).resolve().parent
SLICES = 6
SHOWN = (0, 3, 7)   # one sample of each of these digits


def build():
    """The data set as the default call makes it (split), and the seconds it took."""
    t0 = time.perf_counter()
    data = saccade_digits()
    return data, time.perf_counter() - t0


def statistics(x: np.ndarray, seconds: float) -> dict:
    """Events per sample, per step and per channel of spikes x (samples, steps, 2 * H * W)."""
    samples, steps, n = x.shape
    per_sample = x.sum((1, 2))
    per_step = x.sum(2)
    return {"samples": samples, "steps": steps, "channels": n, "dt_us": SACCADE_DT_US, "build_s": seconds,
            "events_per_sample_mean": per_sample.mean(), "events_per_sample_std": per_sample.std(),
            "events_per_sample_min": int(per_sample.min()), "events_per_sample_max": int(per_sample.max()),
            "on_fraction": x[..., n // 2:].sum() / x.sum(),
            "events_per_step_mean": per_step.mean(), "events_per_step_max": int(per_step.max()),
            "active_channel_fraction_per_step": per_step.mean() / n,
            "channels_ever_active_per_sample": (x.any(1).sum(1)).mean(),
            "megabytes_as_bool": x.nbytes / 2**20}


def accuracy(data, n_train: int = 500) -> float:
    """Logistic regression on per-channel spike counts: the first n_train training samples."""
    x_tr, y_tr, x_te, y_te = data
    clf = LogisticRegression(max_iter=2000).fit(x_tr[:n_train].sum(1), y_tr[:n_train])
    return clf.score(x_te.sum(1), y_te)


def frames(sample: np.ndarray, size: int) -> list:
    """RGB frames of one sample over SLICES equal time slices: OFF red, ON green, brightness the
    events of a pixel in the slice over the slice's busiest pixel."""
    steps = sample.shape[0]
    out = []
    for part in np.array_split(np.arange(steps), SLICES):
        counts = sample[part].sum(0).reshape(2, size, size).astype(float)
        rgb = np.zeros((size, size, 3))
        rgb[..., 0], rgb[..., 1] = counts[0], counts[1]
        out.append((rgb / max(counts.max(), 1), part[0], part[-1]))
    return out


def figure(x: np.ndarray, y: np.ndarray, path: Path):
    plt = pyplot()
    size = int(np.sqrt(x.shape[2] // 2))
    images, labels = digit_images(size)
    fig, axes = plt.subplots(len(SHOWN) + 1, SLICES + 1, figsize=(1.6 * (SLICES + 1), 1.7 * (len(SHOWN) + 1) + 0.6))
    for row, digit in enumerate(SHOWN):
        i = int(np.flatnonzero(y == digit)[0])
        axes[row, 0].imshow(images[i], cmap="gray", vmin=0, vmax=1)
        axes[row, 0].set_title(f"digit {digit}: image" if row == 0 else f"digit {digit}", fontsize=8)
        for col, (rgb, first, last) in enumerate(frames(x[i], size), start=1):
            axes[row, col].imshow(rgb)
            if row == 0:
                axes[row, col].set_title(f"steps {first}-{last}", fontsize=8)
    for ax in axes[:-1].ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[-1]:
        ax.remove()
    ax = fig.add_subplot(len(SHOWN) + 1, 1, len(SHOWN) + 1)
    half = x.shape[2] // 2
    ax.plot(x[..., half:].sum(2).mean(0), color="tab:green", lw=1, label="ON")
    ax.plot(x[..., :half].sum(2).mean(0), color="tab:red", lw=1, label="OFF")
    for edge in (100, 200):
        ax.axvline(edge, color="0.6", lw=0.8, ls=":")
    ax.set_xlabel(f"step ({SACCADE_DT_US / 1000:g} ms); saccades at 0, 100, 200")
    ax.set_ylabel("events a step\n(mean of samples)", fontsize=8)
    ax.legend(fontsize=8, frameon=False)
    return save_figure(fig, path)


def main():
    data, seconds = build()
    x, y = saccade_digits(split=False)  # all samples in load_digits' order, as digit_images shows them
    stats = statistics(x, seconds)
    stats["logistic_regression_accuracy_500_train"] = accuracy(data)
    stats["logistic_regression_accuracy_all_train"] = accuracy(data, len(data[0]))
    for key, value in stats.items():
        print(f"{key:42s} {value:.4g}" if isinstance(value, float) else f"{key:42s} {value}")
    out = HERE / "results" / "saccade_digits.png"
    out.parent.mkdir(exist_ok=True)
    print("wrote", figure(x, y, out))


if __name__ == "__main__":
    main()
