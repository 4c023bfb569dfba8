"""The data of a fit: its training and test parts, checked and standardized with the training statistics."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dsr.data import TimeSeries, load
from dsr.errors import DsrError
from dsr.standardization import Standardization
from dsr.training.config import FitConfig, for_data


def prepare_data(config: FitConfig, data: Path, test: Path | None) -> tuple[TimeSeries, TimeSeries, np.ndarray, np.ndarray]:
    """Training and test series, standardized with the training statistics, and those statistics (mean, scale).

    The test part is ``config.test_trials`` whole trials, else the store ``test``, else the last
    ``config.test_fraction`` of every trial.
    """
    series = load(data, var=config.var, inputs=config.inputs)
    if test is not None and config.test_trials:
        raise DsrError("--test-trials and a --test store both choose the test set; pass one of them")
    if config.test_trials:
        train, held_out = series.hold_out_trials(config.test_trials)
    elif test is None:
        train, held_out = series.split(config.test_fraction)
    else:
        train, held_out = series, load(test, var=config.var, inputs=config.inputs)
        if held_out.variables != train.variables:
            raise DsrError(f"test store variables {held_out.variables} differ from the data's {train.variables}; pass matching stores")
    train.require_length(for_data(config, train.n_variables, train.n_time).sequence_length + 1, what="sequence length (+1)")
    held_out.require_length(config.pe_steps + 2, what="PE horizon")
    standardization = Standardization.of(train.values)
    if not np.all(standardization.scale > 0):
        raise DsrError("a variable is constant over the training part; drop it or use a longer training part")
    return standardization.series(train), standardization.series(held_out), standardization.mean, standardization.scale
