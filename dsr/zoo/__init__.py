"""The model zoo: comparison baselines behind the PLRNN family's model interface (issue: ``dsr fit --model``).

One module per family, each with its equation and reference: ``rnn``, ``lstm``, ``gru`` (gated cells),
``pararnn-gru``, ``pararnn-lstm`` (gated cells with diagonal recurrent weights, ParaRNN),
``lru``, ``s4d``, ``aaren`` (stacked sequence models), ``esn`` (reservoir computing), ``node`` (neural ODE),
``sindy`` (sparse regression), ``parrot`` (context parroting). Build with ``make_zoo_model(kind, n_obs, ...)``;
``from_dataset`` rebuilds a model written by ``to_dataset``.
"""

from dsr.zoo.base import ZooConfig, ZooModel
from dsr.zoo.io import from_dataset, to_dataset
from dsr.zoo.registry import ZOO, family, make_zoo_model, zoo_config

__all__ = ["ZOO", "ZooConfig", "ZooModel", "family", "from_dataset", "make_zoo_model", "to_dataset", "zoo_config"]
