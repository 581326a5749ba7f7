"""The hardware-independent model: neuron models (a registry), networks, Loihi fixed-point arithmetic, event kinds, errors."""
