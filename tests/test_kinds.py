"""One definition per kind (``dsr.kinds``): every engine runs a kind from its normal form alone."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
import torch

from dsr.analysis import pwl
from dsr.data import TimeSeries
from dsr.kinds import KINDS, Kind, NormalForm
from dsr.kinds.plrnn import DIMS
from dsr.models import LatentModel, make_model
from dsr.numba_face import member_arrays, normal_form_faces, numba_face
from dsr.simulate import simulate
from dsr.training.config import FitConfig
from dsr.training.loss import member_losses
from dsr.training.trainer import Callback, Trainer
from tests.conftest import randomize

F64 = torch.float64
SIZES = {"plrnn": {}, "shplrnn": {"hidden": 6}, "clipped-shplrnn": {"hidden": 6}, "alrnn": {"relus": 2}, "dendplrnn": {"bases": 3}}


@pytest.mark.parametrize("kind", list(SIZES))
def test_the_face_of_the_models_normal_form_is_the_face_of_its_stored_parameters(kind: str) -> None:
    model = randomize(make_model(kind, 3, 4, dtype=F64, seeds=[1, 2], **SIZES[kind]))
    with torch.no_grad():
        faces = normal_form_faces(model.normal_form(), kind)
    params = model.to_dataset()
    for e, face in enumerate(faces):
        np.testing.assert_array_equal(face.param_array, numba_face(params, e).param_array)


def _leaky_normal_form(p, relus: int = 0, mean_centering: bool = False) -> NormalForm:  # noqa: ANN001
    m = p["A"].shape[-1]
    return NormalForm(A=p["A"], V=p["W"], U=None, theta=None, h=p["h"], lin=np.full(m, 0.1), ramp=np.full(m, 0.9), clip=np.zeros(m))


LEAKY = Kind("leaky-plrnn", DIMS, _leaky_normal_form, KINDS["alrnn"].init_dynamics,
             trained=(("A", ""), ("W", ""), (None, ""), (None, ""), ("h", ""), (None, "")))
"""A kind written only as data: φ(u) = 0.1 u + 0.9 [u]_+ (a leaky ReLU)."""


def test_a_kind_written_as_data_runs_on_every_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(KINDS, LEAKY.name, LEAKY)
    cls = type("LeakyPLRNN", (LatentModel,), {"kind": LEAKY.name, "spec": LEAKY})
    from dsr.models.config import ModelConfig

    config = ModelConfig(kind=LEAKY.name, n_obs=3, latent=3)
    gen = torch.Generator().manual_seed(0)
    params = {"A": 0.5 * torch.rand(2, 3, generator=gen, dtype=F64), "W": 0.5 * torch.randn(2, 3, 3, generator=gen, dtype=F64),
              "h": 0.1 * torch.randn(2, 3, generator=gen, dtype=F64)}
    model = cls(config, params, [0, 1])
    z = torch.randn(2, 5, 3, generator=gen, dtype=F64)
    u = z
    expected = params["A"][:, None] * z + torch.einsum("emk,ebk->ebm", params["W"], 0.1 * u + 0.9 * torch.relu(u)) + params["h"][:, None]
    torch.testing.assert_close(model.step(z), expected, rtol=1e-13, atol=1e-13)
    # The Jacobian against central differences (exact within a region), and the region's affine map is the step.
    delta, eps = torch.randn(2, 5, 3, generator=gen, dtype=F64), 1e-7
    with torch.no_grad():
        differences = (model.step(z + eps * delta) - model.step(z - eps * delta)) / (2 * eps)
    torch.testing.assert_close(torch.einsum("ebij,ebj->ebi", model.jacobian(z), delta), differences, rtol=1e-6, atol=1e-7)
    matrix, offset = model.affine(model.pattern(z))
    torch.testing.assert_close(torch.einsum("ebij,ebj->ebi", matrix, z) + offset, model.step(z), rtol=1e-12, atol=1e-12)
    # The fused kernel's loss and gradients are autograd's.
    x = torch.randn(2, 4, 9, 3, generator=gen, dtype=F64)
    alphas = [torch.full((2,), 0.3, dtype=F64)] * 8
    grads = []
    for kernel in ("fused", "autograd"):
        model.zero_grad()
        member_losses(model, x, alphas, kernel=kernel).sum().backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    for fused_grad, autograd_grad in zip(*grads, strict=True):
        torch.testing.assert_close(fused_grad, autograd_grad, rtol=1e-10, atol=1e-12)
    # The Numba face steps like the torch model.
    face = pwl.from_params(LEAKY.name, member_arrays(model.to_dataset(), 1))
    np.testing.assert_allclose(face.step(z[1, 0].numpy()), model.step(z)[1, 0].detach().numpy(), rtol=1e-13)


class _Recorder(Callback):
    def __init__(self, stop_after: int | None = None) -> None:
        self.calls: list[tuple] = []
        self.stop_after = stop_after

    def on_start(self, trainer: Trainer) -> None:
        self.calls.append(("start",))

    def on_epoch_start(self, trainer: Trainer) -> None:
        self.calls.append(("epoch start", trainer.epoch))

    def on_epoch_end(self, trainer: Trainer, record: dict, snapshot) -> None:  # noqa: ANN001
        self.calls.append(("epoch end", record["epoch"], "d_stsp" in record, snapshot.epoch))
        if record["epoch"] == self.stop_after:
            trainer.request_stop()


def test_the_trainer_writes_nothing_and_calls_its_callbacks_around_every_epoch(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    values = simulate("lorenz63", 2_000, seed=0, standardize=True)["x"].values.astype(np.float64)
    train, test = TimeSeries(values=values[None], variables=("x", "y", "z"), dt=0.01).split(0.2)
    config = FitConfig(epochs=4, batches_per_epoch=2, batch_size=3, sequence_length=20, ensemble=2, eval_every=2, hidden=8,
                       eval_steps=200, dtype="float64")
    model = make_model("clipped-shplrnn", 3, 3, hidden=8, seeds=[0, 1], dtype=F64)
    recorder = _Recorder(stop_after=3)
    trainer = Trainer(model, train, test, config, callbacks=[recorder])
    trainer.run()
    assert recorder.calls == [
        ("start",), ("epoch start", 0), ("epoch end", 1, False, 1), ("epoch start", 1), ("epoch end", 2, True, 2),
        ("epoch start", 2), ("epoch end", 3, False, 3),
    ]
    assert trainer.epoch == 3 and os.listdir(tmp_path) == []


def test_a_callback_changing_the_normal_form_reaches_the_compiled_epoch(tmp_path) -> None:
    values = simulate("lorenz63", 2_000, seed=0, standardize=True)["x"].values.astype(np.float64)
    train, test = TimeSeries(values=values[None], variables=("x", "y", "z"), dt=0.01).split(0.2)
    config = FitConfig(model="alrnn", latent=4, relus=2, epochs=1, batches_per_epoch=2, batch_size=3, sequence_length=20,
                       ensemble=1, dtype="float64")

    class Linearise(Callback):
        def on_epoch_start(self, trainer: Trainer) -> None:
            alrnn = KINDS["alrnn"]
            trainer.model.spec = dataclasses.replace(
                alrnn, normal_form=lambda p, r, c: dataclasses.replace(alrnn.normal_form(p, r, c), lin=np.ones(4), ramp=np.zeros(4))
            )

    losses = []
    for callbacks in ([], [Linearise()]):
        model = make_model("alrnn", 3, 4, relus=2, seeds=[0], dtype=F64)
        trainer = Trainer(model, train, test, config, callbacks=callbacks)
        assert trainer.fused_epoch is not None
        trainer.run()
        losses.append(trainer.history[-1]["loss"])
    assert not np.allclose(losses[0], losses[1])
