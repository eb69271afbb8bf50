"""The precision setting: bf16 autocast inside a job, float32 where precision matters
(output distances and their cached references, metric-vector products, logits that are
scored), on small constructed networks."""

import json

import pytest
import torch
from torch import nn

from fipbench.fip import OutputDistance
from fipbench.fip.metric import metric_vector_product, trainable
from fipbench.precision import autocast, resolve_precision
from fipbench.results import Job
from fipbench.train import predict

CPU = torch.device("cpu")


def tiny_cnn():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 26 * 26, 10))


def images(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8)


def test_precision_names_resolve_and_unknown_ones_are_named():
    assert resolve_precision("fp32", CPU) == "fp32" and resolve_precision("bf16", CPU) == "bf16"
    assert resolve_precision("auto", CPU) in ("fp32", "bf16")
    with pytest.raises(ValueError, match="precision: 'fp16'"):
        resolve_precision("fp16", CPU)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_job_runs_its_body_in_its_precision_and_records_it(tmp_path, precision):
    model, x = tiny_cnn().eval(), images(8)
    with Job(tmp_path, {"scale": "smoke", "precision": precision}, 0, CPU, 1, {}) as job:
        with torch.no_grad():
            raw = model(x.unsqueeze(1).float() / 255)
        scored = predict(model, x)
        job.finish({})
    assert raw.dtype == (torch.bfloat16 if precision == "bf16" else torch.float32)
    assert scored.dtype == torch.float32  # logits that are scored are float32 in every precision
    assert json.loads((tmp_path / "provenance.json").read_text())["precision"] == precision
    assert not torch.is_autocast_enabled("cpu")  # the job's precision ends with it


def test_output_distance_is_float32_and_zero_at_its_reference_under_bf16():
    model, probes = tiny_cnn(), images(32).unsqueeze(1).float() / 255
    with autocast("bf16", CPU):
        distance = OutputDistance(model, probes)
        at_reference = distance(model.eval())
        with torch.no_grad():
            model[-1].weight.add_(0.01 * torch.randn_like(model[-1].weight))
        moved = distance(model)
    assert distance.reference.dtype == at_reference.dtype == torch.float32
    assert abs(at_reference.item()) < 1e-6 < 1e-4 < moved.item()  # the same bf16 forward on both sides


def test_metric_vector_products_stay_float32_under_bf16():
    model, probes = tiny_cnn().eval(), images(16).unsqueeze(1).float() / 255
    vector = {name: torch.randn_like(p) for name, p in trainable(model).items()}
    exact = metric_vector_product(model, probes, vector)
    with autocast("bf16", CPU):
        inside = metric_vector_product(model, probes, vector)
    for name in exact:
        assert inside[name].dtype == torch.float32
        torch.testing.assert_close(inside[name], exact[name], rtol=1e-5, atol=1e-7)
