"""Slow twin of `rules.baselines`: one sample walked step by step, neuron by neuron and synapse
by synapse, forward then backward in reverse time, each operation and each memory access
counted as it happens, with memory placed by address.

Input: the model (its parameters only), sizes, and a spike raster per layer, rasters[p] a
(T, n_p) 0/1 array for the input (p = 0) and each hidden layer. The twin does not simulate the
neurons: the raster is what they did, and it decides which MACs an event engine skips.
Weights (with their gradients) get SRAM addresses matrix by matrix while a whole matrix fits;
state items get bit addresses in the order they are written, bits below 8 x sram_bytes in SRAM.
Gradient accumulators: "memory" reads and writes one in the buffer at every gradient MAC;
"register" sums each synapse's gradient in a PE register and writes it once after the backward.
"""
from fractions import Fraction

from neurochip.rules.baselines import ACC_BITS, ARITHMETIC


def _matrices(sizes, recurrent):
    L = len(sizes) - 2
    mats = [(m, m + 1) for m in range(L + 1)]
    return mats + [(l, l) for l in range(1, L + 1) if recurrent and recurrent[l - 1]]


class _StateMemory:
    """Bit-addressed state storage: SRAM below `cap_bits`, DRAM above."""

    def __init__(self, cap_bits):
        self.cap, self.next, self.items = cap_bits, 0, []
        self.bits = {"write_sram": 0, "write_dram": 0, "read_sram": 0, "read_dram": 0}

    def write(self, nbits):
        for addr in range(self.next, self.next + nbits):
            self.bits["write_sram" if addr < self.cap else "write_dram"] += 1
        self.items.append((self.next, nbits))
        self.next += nbits

    def read_last(self):
        start, nbits = self.items.pop()
        for addr in range(start, start + nbits):
            self.bits["read_sram" if addr < self.cap else "read_dram"] += 1


def accelerator_counts(model, sizes, rasters, recurrent=None) -> dict:
    T = rasters[0].shape[0]
    mats = _matrices(sizes, recurrent)
    hidden = range(1, len(sizes) - 1)
    C = sizes[-1]
    w, g, b, B = ARITHMETIC[model.arithmetic], ACC_BITS, model.state_bits, model.batch
    event = model.backward == "event"
    in_register = model.gradient_accumulator == "register"
    c = {k: 0 for k in ("forward_macs", "neuron_updates", "readout_errors", "backward_macs", "gradient_macs",
                        "surrogate_evals", "temporal_macs", "reset_macs", "update_macs")}
    bits = {f"{k}_{lv}": 0 for k in ("forward_weight", "backward_weight", "gradient", "update")
            for lv in ("sram", "dram")}
    level, used = {}, 0   # weights and gradients: whole matrices to SRAM while they fit
    for pre, post in mats:
        unit_bits = sizes[pre] * sizes[post] * (w + g)
        if used + unit_bits <= 8 * model.weight_sram_bytes:
            level[pre, post], used = "sram", used + unit_bits
        else:
            level[pre, post] = "dram"
    state = _StateMemory(8 * model.sram_bytes)

    for t in range(T):                                    # forward
        for j in range(sizes[0]):
            state.write(1)                                # input spike kept for the backward
        for pre, post in mats:
            for j in range(sizes[pre]):
                if event and not rasters[pre][t, j]:
                    continue
                for i in range(sizes[post]):
                    c["forward_macs"] += 1
                    bits[f"forward_weight_{level[pre, post]}"] += w
        for layer in hidden:
            for i in range(sizes[layer]):
                c["neuron_updates"] += 1
                state.write(b)                            # membrane potential
                state.write(1)                            # spike
        for k in range(C):
            c["readout_errors"] += 1
            state.write(b)

    for t in reversed(range(T)):                          # backward, reverse time
        for k in range(C):
            state.read_last()
        for layer in reversed(hidden):
            for i in range(sizes[layer]):
                state.read_last()
                state.read_last()
        for j in range(sizes[0]):
            state.read_last()
        for pre, post in mats:                            # error transposes into hidden layers
            if pre == 0:
                continue
            for j in range(sizes[pre]):
                for i in range(sizes[post]):
                    c["backward_macs"] += 1
                    bits[f"backward_weight_{level[pre, post]}"] += w
        for layer in hidden:
            for i in range(sizes[layer]):
                c["surrogate_evals"] += 1
                c["temporal_macs"] += 1
                if model.reset_term == "full":
                    c["reset_macs"] += 1
        for pre, post in mats:                            # weight gradients
            for j in range(sizes[pre]):
                if event and not rasters[pre][t, j]:
                    continue
                for i in range(sizes[post]):
                    c["gradient_macs"] += 1
                    if not in_register:               # read and write the accumulator in the buffer
                        bits[f"gradient_{level[pre, post]}"] += 2 * g

    if in_register:                                       # each synapse's T-step sum leaves its PE register
        for pre, post in mats:
            for j in range(sizes[pre]):
                for i in range(sizes[post]):
                    bits[f"gradient_{level[pre, post]}"] += g       # one accumulator write

    for pre, post in mats:                                # the update, once per batch
        for _ in range(sizes[pre] * sizes[post]):
            c["update_macs"] += Fraction(1, B)
            bits[f"update_{level[pre, post]}"] += Fraction(2 * w + g, B)

    assert not state.items
    out = dict(c)
    out.update({f"{k}_bytes_{lv}": Fraction(v, 8) for k_lv, v in bits.items() for k, lv in [k_lv.rsplit("_", 1)]})
    out.update({f"state_{k.split('_')[0]}_bytes_{k.split('_')[1]}": Fraction(v, 8) for k, v in state.bits.items()})
    return out


def gpu_counts(model, sizes, rasters, recurrent=None) -> dict:
    T = rasters[0].shape[0]
    mats = _matrices(sizes, recurrent)
    hidden = range(1, len(sizes) - 1)
    C, B = sizes[-1], model.batch
    e, g = ARITHMETIC[model.arithmetic] // 8, ACC_BITS // 8
    W = sum(sizes[p] * sizes[q] for p, q in mats)
    resident = W * (e + g) <= model.cache_bytes
    c = dict.fromkeys(("forward_mac_flops", "neuron_flops", "forward_weight_bytes", "activation_bytes",
                       "readout_error_flops", "backward_mac_flops", "gradient_mac_flops", "surrogate_flops",
                       "temporal_flops", "reset_flops", "update_flops", "state_read_bytes", "error_bytes",
                       "backward_weight_bytes", "gradient_bytes", "update_bytes"), 0)

    def weights_read(key, matrices):
        for p, q in matrices:
            c[key] += Fraction(sizes[p] * sizes[q] * e, B)

    if resident:
        weights_read("forward_weight_bytes", mats)        # once per batch, then cached
    for t in range(T):                                    # forward
        if not resident:
            weights_read("forward_weight_bytes", mats)
        c["activation_bytes"] += sizes[0] * e             # input read
        for p, q in mats:
            for _ in range(sizes[p] * sizes[q]):
                c["forward_mac_flops"] += 2
        for layer in hidden:
            for i in range(sizes[layer]):
                c["neuron_flops"] += 3
                c["activation_bytes"] += 4 * e            # u and s written, then read
        for k in range(C):
            c["activation_bytes"] += 2 * e                # readout written, then read
            c["readout_error_flops"] += 8
            c["error_bytes"] += 2 * e                     # its error written, then read
    for t in reversed(range(T)):                          # backward
        c["state_read_bytes"] += sizes[0] * e
        if not resident:
            weights_read("backward_weight_bytes", [(p, q) for p, q in mats if p > 0])
        for layer in hidden:
            for i in range(sizes[layer]):
                c["state_read_bytes"] += 2 * e            # u and s read back
                c["surrogate_flops"] += 8
                c["temporal_flops"] += 2
                if model.reset_term == "full":
                    c["reset_flops"] += 2
                c["error_bytes"] += 4 * e                 # dL/du, dL/ds written, then read
        for p, q in mats:
            for _ in range(sizes[p] * sizes[q]):
                c["gradient_mac_flops"] += 2
                if not resident:
                    c["gradient_bytes"] += Fraction(2 * g, B)
                if p > 0:
                    c["backward_mac_flops"] += 2
    for p, q in mats:                                     # the update
        for _ in range(sizes[p] * sizes[q]):
            c["update_flops"] += Fraction(2, B)
            c["update_bytes"] += Fraction(e if resident else 2 * e + g, B)
    return c
