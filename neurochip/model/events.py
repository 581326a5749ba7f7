"""The event vocabulary: every kind of hardware event that inference and learning count.

One table, `EVENT_TABLE`: name, unit, phase of the time step, what one event is, and where
it is counted. The chip counts per core, in a matrix with one row per core in use and then
a last row, `host`, for spikes the host injects (they have no core, but their packets and
hops cross the mesh); one column per kind, in `ALL_EVENTS` order. Energy prices the same
names (`neurochip.chip.energy`).

What one learning event includes, so that no energy is counted twice: a synaptic update
(`weight_writes`, `tag_updates`) is one read-modify-write of a synapse's word in synapse
memory, its read included (Davies et al. 2018's "synaptic update"); a graded error spike
through a feedback synapse is one `feedback_syn_ops` (the weight read and the multiply-
accumulate), not also an error op; `error_ops` are a compartment's error arithmetic only.
"""
from typing import NamedTuple


class Event(NamedTuple):
    name: str
    unit: str
    phase: str      # delivery, update, routing (a step of inference) or learning
    counts: str     # what one event is
    where: str      # the counter row it is attributed to


EVENT_TABLE = (
    Event("syn_ops", "synapse", "delivery", "one synapse walked: weight read + add into a dendrite", "destination core"),
    Event("dendrite_accums", "compartment", "delivery", "one compartment reading a non-zero dendritic accumulator",
          "destination core"),
    Event("neuron_updates_active", "compartment", "update",
          "one compartment update with input, non-zero state, or bias", "core of neuron"),
    Event("neuron_updates_inactive", "compartment", "update", "one compartment update of a neuron at rest, no input",
          "core of neuron"),
    Event("spikes_out", "spike", "update", "one spike generated", "core of neuron"),
    Event("packets", "packet", "routing", "one spike message sent to one destination core (out-axon)", "source core"),
    Event("hops_ew", "hop", "routing", "one router-to-router link traversed east-west", "source core"),
    Event("hops_ns", "hop", "routing", "one router-to-router link traversed north-south", "source core"),
    Event("chip_hops", "link", "routing", "one chip-to-chip link traversed (a packet leaving one chip of a board "
          "for its neighbour; not also a hop)", "source core"),
    Event("axons_in", "axon", "delivery", "one input axon activated by an arriving packet", "destination core"),
    Event("trace_updates", "trace", "learning", "one presynaptic trace or adaptive threshold updated (axon or "
          "compartment state)", "core of the trace"),
    Event("tag_updates", "synapse", "learning", "one synaptic tag (an accumulator or eligibility, stored with the "
          "weight) read-modify-written in synapse memory: a synaptic update", "core of the synapse"),
    Event("surrogate_evals", "evaluation", "learning", "one post factor evaluated (surrogate or spike-timing slope)",
          "core of neuron"),
    Event("error_ops", "multiply-accumulate", "learning", "one multiply-accumulate of an error in a compartment "
          "(loss gradient, surrogate product; not at a synapse)", "core of the neuron"),
    Event("feedback_syn_ops", "synapse", "learning", "one feedback synapse walked by a graded error spike: its "
          "weight read and multiplied into the target's error sum (a synaptic op of the learning phase)",
          "core of the synapse"),
    Event("weight_writes", "synapse", "learning", "one synaptic weight read-modify-written, its read included (Loihi: a "
          "synaptic update)",
          "core of the synapse"),
    Event("state_write_bytes", "byte", "learning", "one byte of per-step state stored for a later backward pass",
          "core of the state"),
    Event("state_read_bytes", "byte", "learning", "one byte of that state read back", "core of the state"),
)
ALL_EVENTS = tuple(e.name for e in EVENT_TABLE)
EVENTS = tuple(e.name for e in EVENT_TABLE if e.phase != "learning")          # counted by the chip kernels
LEARNING_EVENTS = tuple(e.name for e in EVENT_TABLE if e.phase == "learning")
PHASES = {ph: tuple(e.name for e in EVENT_TABLE if e.phase == ph) for ph in ("delivery", "update", "routing", "learning")}
N_EVENTS = len(EVENTS)
(SYN_OPS, DENDRITE_ACCUMS, UPDATES_ACTIVE, UPDATES_INACTIVE, SPIKES_OUT, PACKETS,
 HOPS_EW, HOPS_NS, CHIP_HOPS, AXONS_IN) = range(N_EVENTS)
