"""PLRNN-family latent models (torch) as ensembles, with observation models and xarray conversion.

Build with ``make_model(kind, n_obs, latent, ...)``; kinds are listed in ``MODELS``. Every model
offers ``step``, ``jacobian``, ``pattern``, ``affine``, ``observe``, ``initial_state``,
``forcing_signal``, ``force``, ``generate`` and ``to_dataset``; ``from_dataset`` rebuilds it.
"""

from .base import LatentModel
from .config import ModelConfig
from .interpolation import interpolate
from .io import SCHEMA_VERSION, to_dataset
from .observation import OBSERVATIONS, AffineObservation, IdentityObservation, ObservationModel
from .registry import ALRNN, MODELS, PLRNN, ClippedShallowPLRNN, DendPLRNN, ShallowPLRNN, from_dataset, make_model, model_class

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
