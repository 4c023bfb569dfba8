"""LSTM and GRU cells behind the solvers' model interface (``step`` and ``jacobian``), for reuse by a model zoo.

A cell is the recurrence z_t = F(z_{t−1}, s_t) with state z = h (GRU, M = H) or z = [h; c]
(LSTM, M = 2H, h first, so forcing the first N units forces read-outs taken from h) and input s_t
(zeros when a run has no inputs). ``torch.nn.GRUCell`` / ``torch.nn.LSTMCell`` compute F (Cho et
al., 2014; Hochreiter & Schmidhuber, 1997, with forget gate); the Jacobian ∂F/∂z is taken by
``torch.func.jacrev`` under ``torch.func.vmap`` over all leading dims, as ParaRNN's dense cells do
(Danieli et al., arXiv 2510.21450). Shapes: z (…, M), s (…, K), Jacobian (…, M, M).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class CellModel(nn.Module):
    """A ``torch.nn.GRUCell`` or ``torch.nn.LSTMCell`` as a recurrent model for ``dsr.parallel`` (module doc)."""

    def __init__(self, cell: nn.GRUCell | nn.LSTMCell) -> None:
        super().__init__()
        if not isinstance(cell, (nn.GRUCell, nn.LSTMCell)):
            raise ValueError(f"CellModel wraps torch.nn.GRUCell or torch.nn.LSTMCell, got {type(cell).__name__}")
        self.cell = cell
        self.lstm = isinstance(cell, nn.LSTMCell)

    @property
    def latent(self) -> int:
        """State size M: H (GRU) or 2H (LSTM)."""
        return self.cell.hidden_size * (2 if self.lstm else 1)

    @property
    def inputs(self) -> int:
        return self.cell.input_size

    def _inputs(self, z: Tensor, s: Tensor | None) -> Tensor:
        if s is None:
            return z.new_zeros(*z.shape[:-1], self.inputs)
        return s.expand(*z.shape[:-1], self.inputs)

    def _single(self, z: Tensor, s: Tensor) -> Tensor:
        """F for one state (M,) and input (K,): the cell's unbatched call."""
        if not self.lstm:
            return self.cell(s, z)
        h, c = self.cell(s, (z[: self.cell.hidden_size], z[self.cell.hidden_size :]))
        return torch.cat((h, c))

    def step(self, z: Tensor, s: Tensor | None = None) -> Tensor:
        """z_t = F(z_{t−1}, s_t) over any leading dims."""
        s = self._inputs(z, s)
        flat_z, flat_s = z.reshape(-1, z.shape[-1]), s.reshape(-1, s.shape[-1])
        if self.lstm:
            h, c = self.cell(flat_s, (flat_z[:, : self.cell.hidden_size], flat_z[:, self.cell.hidden_size :]))
            out = torch.cat((h, c), dim=-1)
        else:
            out = self.cell(flat_s, flat_z)
        return out.reshape(z.shape)

    def jacobian(self, z: Tensor, s: Tensor | None = None) -> Tensor:
        """∂F/∂z at z, (…, M, M), by jacrev under vmap."""
        s = self._inputs(z, s)
        flat_z, flat_s = z.reshape(-1, z.shape[-1]), s.reshape(-1, s.shape[-1])
        jac = torch.func.vmap(torch.func.jacrev(self._single, argnums=0))(flat_z, flat_s)
        return jac.reshape(*z.shape, z.shape[-1])
