"""Random training windows, one independent stream per ensemble member."""

from __future__ import annotations

import json

import numpy as np
import torch
from torch import Tensor


class WindowSampler:
    """Batches of S random windows of T̃+1 steps from standardized training data.

    Member e draws its windows (trial and start index, uniformly, with replacement) and its
    observation noise from its own generator seeded by its model seed, so member e of an
    ensemble sees exactly the batches of a single fit with that seed. Noise is added to the
    whole window, i.e. to forcing signals and targets alike (as the lab's Julia code does).
    """

    def __init__(
        self,
        values: np.ndarray,
        inputs: np.ndarray | None,
        length: int,
        batch_size: int,
        member_seeds: list[int],
        noise: float = 0.0,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ) -> None:
        self.values = torch.as_tensor(values, dtype=dtype, device=device)
        self.inputs = None if inputs is None else torch.as_tensor(inputs, dtype=dtype, device=device)
        self.length = length
        self.batch_size = batch_size
        self.noise = noise
        self.rngs = [np.random.default_rng([seed, 0xDA7A]) for seed in member_seeds]
        self._offsets = torch.arange(length + 1, device=device)

    def sample(self) -> tuple[Tensor, Tensor | None]:
        """x of shape (E, S, T̃+1, N) and inputs (E, S, T̃+1, K) or None."""
        trials, n_time = self.values.shape[:2]
        picks = [
            (rng.integers(0, trials, self.batch_size), rng.integers(0, n_time - self.length, self.batch_size))
            for rng in self.rngs
        ]
        trial = torch.as_tensor(np.stack([p[0] for p in picks]), device=self.values.device)
        start = torch.as_tensor(np.stack([p[1] for p in picks]), device=self.values.device)
        time = start[..., None] + self._offsets
        x = self.values[trial[..., None], time]
        if self.noise > 0:
            noise = np.stack([rng.standard_normal(x.shape[1:]) for rng in self.rngs])
            x = x + self.noise * torch.as_tensor(noise, dtype=x.dtype, device=x.device)
        s = None if self.inputs is None else self.inputs[trial[..., None], time]
        return x, s

    def state(self) -> str:
        """The generators' states as JSON (for exact resumption)."""
        return json.dumps([rng.bit_generator.state for rng in self.rngs])

    def load_state(self, state: str) -> None:
        for rng, saved in zip(self.rngs, json.loads(state), strict=True):
            rng.bit_generator.state = saved
