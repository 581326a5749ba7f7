"""The chip: specs and energy profiles, placement, synapse tables, the compiled program, Numba kernels, the simulator and energy."""
