"""Resumable training state as a plain xarray Dataset (no pickle).

Holds the optimizer's state tensors (one variable per parameter and key, e.g.
``opt3_exp_avg``), its parameter groups, the window samplers' generator states, the
forcing schedule's state and the loop counters, so that a resumed fit continues exactly
where the saved one stopped.
"""

from __future__ import annotations

import json
import re

import numpy as np
import torch
import xarray as xr

_NAME = re.compile(r"opt(\d+)_(\w+)")


def optimizer_to_dataset(state_dict: dict) -> xr.Dataset:
    """An optimizer ``state_dict`` (tensors per parameter index) as a Dataset."""
    data_vars = {}
    for index, entries in state_dict["state"].items():
        for key, value in entries.items():
            array = value.detach().cpu().numpy()
            name = f"opt{index}_{key}"
            data_vars[name] = ([f"{name}_{d}" for d in range(array.ndim)], array)
    # The graph path's learning rate is a one-element tensor; stored as the number it holds.
    groups = [{k: v.item() if isinstance(v, torch.Tensor) else v for k, v in g.items()} for g in state_dict["param_groups"]]
    return xr.Dataset(data_vars, attrs={"param_groups": json.dumps(groups)})


def optimizer_from_dataset(ds: xr.Dataset, device: torch.device | str = "cpu") -> dict:
    """Inverse of :func:`optimizer_to_dataset`."""
    state: dict[int, dict] = {}
    for name, var in ds.data_vars.items():
        index, key = _NAME.fullmatch(str(name)).groups()
        tensor = torch.as_tensor(np.asarray(var.values))
        # RAdam keeps its step counter on the CPU (unless capturable); the moments live with the parameters.
        state.setdefault(int(index), {})[key] = tensor if key == "step" else tensor.to(device)
    return {"state": state, "param_groups": json.loads(ds.attrs["param_groups"])}
