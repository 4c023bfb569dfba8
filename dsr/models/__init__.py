"""PLRNN-family latent models (torch) as ensembles, with observation models and xarray conversion.

Build with ``make_model(kind, n_obs, latent, ...)``; kinds are listed in ``MODELS``. Every model
offers ``step``, ``jacobian``, ``pattern``, ``affine``, ``observe``, ``initial_state``,
``forcing_signal``, ``force``, ``generate`` and ``to_dataset``; ``from_dataset`` rebuilds it.
"""

from .base import LatentModel
from .config import ModelConfig
from .forcing import interpolate
from .io import SCHEMA_VERSION, from_dataset, to_dataset
from .observation import OBSERVATIONS, AffineObservation, IdentityObservation, ObservationModel
from .registry import MODELS, make_model, model_class
from .shallow import ClippedShallowPLRNN, ShallowPLRNN
from .unitwise import ALRNN, PLRNN, DendPLRNN

__all__ = [
    "ALRNN",
    "MODELS",
    "OBSERVATIONS",
    "PLRNN",
    "SCHEMA_VERSION",
    "AffineObservation",
    "ClippedShallowPLRNN",
    "DendPLRNN",
    "IdentityObservation",
    "LatentModel",
    "ModelConfig",
    "ObservationModel",
    "ShallowPLRNN",
    "from_dataset",
    "interpolate",
    "make_model",
    "model_class",
    "to_dataset",
]
