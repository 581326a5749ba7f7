"""neurochip: a Loihi-style neuromorphic chip simulator with on-chip learning."""
from neurochip.chip.placement import Placement
from neurochip.chip.simulator import RunResult, Simulator
from neurochip.chip.spec import ChipSpec, CoreSpec, EventCost, Profile, loihi1, loihi2, presets
from neurochip.model.errors import FitError, NetworkError, SpecError
from neurochip.model.events import EVENTS
from neurochip.model.fixed import effective_weights
from neurochip.model.network import Network, Projection, WeightClipWarning
from neurochip.model.neurons import FloatLIF, GradedReluVec, GradedSource, GradedVec, LoihiLIF, SpikeSource

__all__ = [
    "ChipSpec", "CoreSpec", "EVENTS", "EventCost", "FitError", "FloatLIF", "GradedReluVec", "GradedSource",
    "GradedVec", "LoihiLIF", "Network",
    "NetworkError", "Placement", "Profile", "Projection", "RunResult", "Simulator", "SpecError",
    "SpikeSource", "WeightClipWarning", "effective_weights", "loihi1", "loihi2", "presets",
]
__version__ = "0.1.0"
