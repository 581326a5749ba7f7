"""neurochip: a Loihi-style neuromorphic chip simulator with on-chip learning."""
from .errors import FitError, NetworkError, SpecError
from .events import EVENTS
from .network import Network, Projection, WeightClipWarning, effective_weights
from .neurons import FloatLIF, LoihiLIF, SpikeSource
from .placement import Placement
from .simulator import RunResult, Simulator
from .spec import ChipSpec, CoreSpec, EventCost, Profile, loihi1, loihi2, presets

__all__ = [
    "ChipSpec", "CoreSpec", "EVENTS", "EventCost", "FitError", "FloatLIF", "LoihiLIF", "Network",
    "NetworkError", "Placement", "Profile", "Projection", "RunResult", "Simulator", "SpecError",
    "SpikeSource", "WeightClipWarning", "effective_weights", "loihi1", "loihi2", "presets",
]
__version__ = "0.1.0"
