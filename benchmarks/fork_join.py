"""The cost of one fork-join of Numba's threads: what splitting one time step over the cores
would add to it (benchmarks/README.md, CUBA).

    python benchmarks/fork_join.py
"""
import time

import numpy as np
from numba import get_num_threads, njit, prange


@njit(parallel=True)
def region(a):
    for i in prange(a.shape[0]):
        a[i] += 1.0


if __name__ == "__main__":
    a = np.zeros(get_num_threads())
    region(a)   # compile
    n = 20_000
    t = time.perf_counter()
    for _ in range(n):
        region(a)
    print(f"one parallel region on {get_num_threads()} threads: {(time.perf_counter() - t) / n * 1e6:.2f} us")
