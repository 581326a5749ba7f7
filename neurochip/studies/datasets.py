"""scikit-learn's digits as spike trains: the default data of the demo, tests and benchmarks."""
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


def digits(steps: int | None, seed=0, rate: float = 1.0, split: bool = True):
    """Digits (8x8, 1797 samples) as Bernoulli spike trains of `steps` steps: pixel p spikes
    with probability rate * p / 16 each step. `seed` is an integer or a numpy Generator (which
    the draw advances). With `split`, the fixed stratified split (test_size 0.25,
    random_state 0): (x_train, y_train, x_test, y_test); else (x, y).
    Spikes are bool arrays of shape (samples, steps, 64); steps=None gives the pixel intensities
    p / 16 instead, floats of shape (samples, 64)."""
    x, y = load_digits(return_X_y=True)
    spikes = x / 16.0 if steps is None else \
        np.random.default_rng(seed).random((len(x), steps, x.shape[1])) < rate * x[:, None, :] / 16.0
    if not split:
        return spikes, y
    idx_tr, idx_te = train_test_split(np.arange(len(y)), test_size=0.25, stratify=y, random_state=0)
    return spikes[idx_tr], y[idx_tr], spikes[idx_te], y[idx_te]
