"""Hypothesis strategies for random networks, shared by the exactness tests."""
import numpy as np
from hypothesis import strategies as st

import neurochip as nc

EDGE_DU = st.one_of(st.sampled_from([-1, 0, 4095]), st.integers(-1, 4095))
EDGE_DV = st.one_of(st.sampled_from([0, 4096]), st.integers(0, 4096))


@st.composite
def networks(draw, fixed=True, max_pops=4, max_n=64, max_delay=5, steps=(20, 60), resets=("zero",)):
    """(net, inputs, steps): 1-2 spike sources and 1-`max_pops` LIF populations with random
    feed-forward and recurrent projections, edge-case parameters and states."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    T = draw(st.integers(*steps))
    net = nc.Network()
    inputs = {}
    for k in range(draw(st.integers(1, 2))):
        n = draw(st.integers(1, max_n))
        rate = draw(st.floats(0.05, 0.5))
        net.add(nc.SpikeSource(n, name=f"in{k}"))
        inputs[f"in{k}"] = rng.random((T, n)) < rate
    n_pops = draw(st.integers(1, max_pops))
    for k in range(n_pops):
        n = draw(st.integers(1, max_n))
        if fixed:
            near_wrap = draw(st.booleans())
            big = 2**23 - 1
            u0 = rng.integers(big - 3000, big, n) * rng.choice([-1, 1], n) if near_wrap else rng.integers(-5000, 5000, n)
            v0 = rng.integers(big - 3000, big, n) * rng.choice([-1, 1], n) if near_wrap else rng.integers(-5000, 5000, n)
            pop = nc.LoihiLIF(n, du=draw(EDGE_DU), dv=draw(EDGE_DV),
                              vth=draw(st.one_of(st.integers(0, 200), st.integers(0, 2**17 - 1))),
                              bias_mant=rng.integers(-4096, 4096, n) * draw(st.sampled_from([0, 1])),
                              bias_exp=rng.integers(-2, 4, n), u0=u0, v0=v0, name=f"lif{k}",
                              reset=draw(st.sampled_from(resets)))
        else:
            pop = nc.FloatLIF(n, du=draw(st.floats(0, 1)), dv=draw(st.floats(0, 1)),
                              vth=draw(st.floats(0.1, 50)), bias=rng.normal(0, 0.5, n) * draw(st.sampled_from([0, 1])),
                              u0=rng.normal(0, 1, n), v0=rng.normal(0, 1, n), name=f"lif{k}",
                              reset=draw(st.sampled_from(resets)))
        net.add(pop)
    names = list(net.populations)
    lifs = net.neurons()
    for post_i, post in enumerate(lifs):
        # every population gets input from a source or an earlier population, plus extras
        pres = {draw(st.sampled_from(names[: len(inputs) + post_i]))}
        pres |= set(draw(st.lists(st.sampled_from(names), max_size=2)))  # recurrent and self
        for pre in sorted(pres):
            shape = (net.populations[post].n, net.populations[pre].n)
            density = draw(st.floats(0.1, 1.0))
            mask = rng.random(shape) < density
            if fixed:
                mode = draw(st.sampled_from(["exc", "inh", "mixed"]))
                lo, hi = {"exc": (0, 300), "inh": (-300, 0), "mixed": (-280, 280)}[mode]
                w = rng.integers(lo, hi + 1, shape) * mask
                kw = dict(weight_exp=draw(st.integers(-3, 5)), num_weight_bits=draw(st.integers(1, 8)))
            else:
                w = rng.normal(0, 1.0, shape) * mask
                kw = {}
            if draw(st.booleans()):
                kw["delay"] = rng.integers(0, max_delay + 1, shape)
            net.connect(pre, post, w, **kw)
    return net, inputs, T
