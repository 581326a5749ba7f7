"""Naive twins of the Numba kernels in neurochip/chip/kernels.py: plain Python, dicts and loops."""

def collect_spikes(flags, nrn_row, n_rows):
    """(spiking neuron ids, {row: {kind: count}}) from the update flags."""
    counts = {r: dict(dendrite_accums=0, neuron_updates_active=0, neuron_updates_inactive=0) for r in range(n_rows)}
    spikes = []
    for i, f in enumerate(flags):
        r = int(nrn_row[i])
        counts[r]["dendrite_accums"] += bool(f & 1)
        if f & 2:
            counts[r]["neuron_updates_active"] += 1
        else:
            counts[r]["neuron_updates_inactive"] += 1
        if f & 4:
            spikes.append(i)
    return spikes, counts


def deliver(program, senders, tnext, ring_slots):
    """Deliver one step's spikes. Returns ({(slot, compartment): input}, {(row, kind): count}).

    Scratch synapses are summed per (scratch row, delay), then floor-shifted, as Lava's
    Dense shifts each step's sum."""
    p = program
    dend, counts, scratch = {}, {}, {}

    def add(row, kind, n):
        counts[(row, kind)] = counts.get((row, kind), 0) + int(n)

    for s in senders:
        r = int(p.sender_row[s])
        add(r, "spikes_out", 1)
        for e in range(p.out_ptr[s], p.out_ptr[s + 1]):
            ax = int(p.out_axon[e])
            add(r, "packets", 1)
            add(r, "hops_ew", p.out_ew[e])
            add(r, "hops_ns", p.out_ns[e])
            d = int(p.axon_row[ax])
            add(d, "axons_in", 1)
            for j in range(p.syn_ptr[ax], p.syn_ptr[ax + 1]):
                add(d, "syn_ops", 1)
                key = ((tnext + int(p.syn_dly[j])) % ring_slots, int(p.syn_tgt[j]))
                dend[key] = dend.get(key, 0) + p.syn_w[j]
            for j in range(p.sc_ptr[ax], p.sc_ptr[ax + 1]):
                add(d, "syn_ops", 1)
                key = (int(p.sc_dly[j]), int(p.sc_row[j]))
                scratch[key] = scratch.get(key, 0) + int(p.sc_w[j])
    for (dl, row), total in scratch.items():
        key = ((tnext + dl) % ring_slots, int(p.sc_comp[row]))
        dend[key] = dend.get(key, 0) + (total >> int(p.sc_shift[row]))
    return dend, counts


def step_latency(counts, latency_ns, barrier_ns):
    """(step latency, per-core times): per-core time = counts . latencies; slowest core + barrier."""
    core_times = [float(sum(c * l for c, l in zip(row, latency_ns))) for row in counts[:-1]]
    return max(core_times) + barrier_ns, core_times



def b1_update(t, a, u, v, start, steps, slope, theta):
    """One step of B1 neurons (neurons.B1) at step t, neuron by neuron: (u, v, flags) lists;
    flags as the kernels write them (1 input, 2 active, 4 spiked)."""
    new_u, new_v, flags = [], [], []
    for i in range(len(a)):
        k = t - start[i]
        if k <= 0:   # integrating
            busy = a[i] != 0 or u[i] != 0 or v[i] != 0
            ui = u[i] + a[i]
            vi = v[i] + ui
        else:
            busy = a[i] != 0
            ui, vi = u[i], v[i] + a[i]
        in_window = 0 <= k < steps[i] and vi != float("-inf")
        spiked = in_window and vi + k * slope[i] >= theta[i]
        new_u.append(ui)
        new_v.append(float("-inf") if spiked else vi)
        flags.append((a[i] != 0) + 2 * (busy or in_window) + 4 * spiked)
    return new_u, new_v, flags
