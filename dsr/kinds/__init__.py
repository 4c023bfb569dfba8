"""The PLRNN-family model kinds, each defined once as data (one module per kind; torch-free at import).

A kind (:class:`Kind`) names its parameters, draws their published initialisation and maps them to the
family's :class:`NormalForm`, which the torch model, the training kernels and the Numba analysis face
all run (see ``normal_form``). Adding a kind: one module here with its ``Kind``, listed in ``KINDS``.
"""

from .alrnn import ALRNN
from .dendplrnn import DENDPLRNN
from .normal_form import Kind, NormalForm
from .plrnn import PLRNN
from .shallow import CLIPPED_SHPLRNN, SHPLRNN

KINDS: dict[str, Kind] = {kind.name: kind for kind in (PLRNN, SHPLRNN, CLIPPED_SHPLRNN, ALRNN, DENDPLRNN)}

__all__ = ["KINDS", "Kind", "NormalForm"]
