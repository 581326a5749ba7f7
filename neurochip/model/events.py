"""Hardware event kinds the simulator counts, one counter column each.

Every count is attributed to one core (a row of the counter matrix):

| kind                    | counted on       | one event is                                                  |
|-------------------------|------------------|---------------------------------------------------------------|
| syn_ops                 | destination core | one synapse walked: weight read + add into a dendrite         |
| dendrite_accums         | destination core | one compartment reading a non-zero dendritic accumulator      |
| neuron_updates_active   | core of neuron   | one compartment update with input, non-zero u or v, or bias   |
| neuron_updates_inactive | core of neuron   | one compartment update of a neuron at rest with no input      |
| spikes_out              | core of neuron   | one spike generated                                           |
| packets                 | source core      | one spike message sent to one destination core (out-axon)     |
| hops_ew / hops_ns       | source core      | one router-to-router link traversed east-west / north-south   |
| axons_in                | destination core | one input axon activated by an arriving packet                |

Spikes injected by the host (input populations) are counted on an extra row, `host`,
after the chip's cores: they have no core, but their packets and hops cross the mesh.
"""

EVENTS = (
    "syn_ops",
    "dendrite_accums",
    "neuron_updates_active",
    "neuron_updates_inactive",
    "spikes_out",
    "packets",
    "hops_ew",
    "hops_ns",
    "axons_in",
)
N_EVENTS = len(EVENTS)
(SYN_OPS, DENDRITE_ACCUMS, UPDATES_ACTIVE, UPDATES_INACTIVE, SPIKES_OUT, PACKETS,
 HOPS_EW, HOPS_NS, AXONS_IN) = range(N_EVENTS)

# Learning-phase events (counted by neurochip.rules per weight matrix) that have no
# inference counterpart; an energy profile may price them (`spec.Profile`).
LEARNING_EVENTS = (
    "trace_updates",      # one trace, adaptive threshold or synaptic eligibility updated
    "surrogate_evals",    # one post factor evaluated (surrogate or spike-timing slope)
    "error_ops",          # one multiply-accumulate of the error (loss gradient, W^T pass)
    "weight_reads",       # one weight read by the learning phase
    "weight_writes",      # one synaptic weight written (Loihi: a synaptic update)
    "state_write_bytes",  # one byte of per-step state stored for a later backward pass
    "state_read_bytes",   # one byte of that state read back
)
ALL_EVENTS = EVENTS + LEARNING_EVENTS
