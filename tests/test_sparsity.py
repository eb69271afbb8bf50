"""Sparsity: masks, masked training, the sparse-projection objective, LTH's level schedule,
and the FIP path onto the sparse set, on LeNet-300-100 and small real MNIST data; LTH in
parts (one job each) against LTH in one go."""

import copy
import json

import pytest
import torch
from torch import nn

from baselines import lth, oneshot, random_sparse
from fipbench import models
from fipbench.config import load
from fipbench.data.vision import load_prepared, random_crop_flip, to_input
from fipbench.fip import SparseProjectionObjective, SparsifyWalk
from fipbench.pruning import (distance_to_sparse, magnitude_masks, masked_update, measured_sparsity, project,
                              prunable)
from fipbench.studies import sparsity as sparsity_study
from fipbench.train import (BatchStream, accuracy, predict, run_steps, sgd_update, supervised_loss,
                            with_fresh_batch_norm)
from fipbench.workflow import lth_levels, lth_part_levels


def test_lenet_weight_count():
    model = models.build("lenet300_100")
    assert sum(p.numel() for p in model.parameters()) == 266_610
    assert sum(w.numel() for w in prunable(model).values()) == 266_200
    assert list(prunable(model)) == ["layers.1.weight", "layers.3.weight", "layers.5.weight"]


def test_resnet20_weight_count_and_fresh_batch_norm():
    model = models.build("resnet20")
    assert sum(p.numel() for p in model.parameters()) == 272_474
    assert len(prunable(model)) == 22  # 19 convolutions, 2 shortcut convolutions, fc
    lenet = models.build("lenet300_100")
    images = torch.randint(0, 256, (600, 32, 32, 3), dtype=torch.uint8)
    assert with_fresh_batch_norm(lenet, images) is lenet  # nothing to re-estimate
    fresh = with_fresh_batch_norm(model, images)
    assert not torch.equal(fresh.bn.running_mean, model.bn.running_mean)  # re-estimated on the images
    assert torch.equal(model.bn.running_mean, torch.zeros(16))  # the original is left alone
    assert not fresh.training



def batch_norms(model) -> list:
    return [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]


def test_the_refresh_gives_a_network_trained_on_augmented_batches_its_own_statistics_back():
    """A ResNet-20 whose batch norm collected its running statistics in training mode on
    cropped and flipped batches (as training with augment does), refreshed by the sparsity
    study for its recipe (augment: true): the statistics come back within a few %, and its
    logits with them; refreshed on the plain images, both move far (the padded borders)."""
    torch.manual_seed(0)
    images = torch.randint(0, 256, (600, 32, 32, 3), dtype=torch.uint8)
    trained = models.build("resnet20")
    for bn in batch_norms(trained):
        bn.momentum = None  # cumulative average, as update_bn keeps it
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for _ in range(2):
            for rows in images.split(100):
                trained(to_input(random_crop_flip(rows, generator)))
    trained.eval()
    settings = load({"scale": "paper"})["sparsity"]["resnet20"]
    assert settings["train"]["augment"]
    task = {"train": (images, torch.zeros(len(images), dtype=torch.long))}
    refreshed = sparsity_study.refreshed(trained, task, settings)
    plain = with_fresh_batch_norm(trained, images)

    def largest_shift(model) -> float:  # of a layer's running means, relative to the trained ones
        return max(float((a.running_mean - b.running_mean).norm() / b.running_mean.norm())
                   for a, b in zip(batch_norms(model), batch_norms(trained)))

    assert largest_shift(refreshed) < 0.05
    assert largest_shift(plain) > 0.5
    inputs = to_input(images[:200])
    with torch.no_grad():
        own = trained(inputs)
        moved = {name: float((model(inputs) - own).norm() / own.norm())  # the logits, relative to their own
                 for name, model in (("refreshed", refreshed), ("plain", plain))}
    assert moved["refreshed"] < 0.03 and moved["plain"] > 4 * moved["refreshed"]

def test_magnitude_masks_prune_the_smallest_globally_and_exactly():
    weights = {"a": torch.tensor([[0.5, -0.1], [2.0, 0.05]]), "b": torch.tensor([-0.3, 0.2, 4.0])}
    masks = magnitude_masks(weights, 30)  # round(2.1) = 2 of 7 weights
    assert masks["a"].tolist() == [[True, False], [True, False]]
    assert masks["b"].tolist() == [True, True, True]
    # iterative: what is pruned stays pruned even when it would now be large
    weights["a"][0, 1] = 10.0
    again = magnitude_masks(weights, 60, masks)  # 4 of 7 (round(4.2))
    assert not again["a"][0, 1] and not again["a"][1, 1]
    assert sum(int((~m).sum()) for m in again.values()) == 4
    assert again["b"].tolist() == [False, False, True] and again["a"][0, 0]  # 0.3 and 0.2 go next


def test_random_masks_match_the_count_and_differ_from_magnitude():
    model = models.build("lenet300_100")
    sparse, masks = random_sparse.sample(model, 90, torch.Generator().manual_seed(0))
    counted = measured_sparsity(sparse)
    assert counted["sparsity"] == pytest.approx(90, abs=1e-3)
    assert counted["nonzero"] == 266_200 - round(266_200 * 0.9)
    magnitude = magnitude_masks(prunable(model), 90)
    overlap = sum(int((m & magnitude[k]).sum()) for k, m in masks.items()) / counted["nonzero"]
    assert overlap < 0.3  # a random 10 % shares about 10 % of its kept weights with the largest 10 %


def test_connectivity_and_ends_margin_are_counted_on_the_weights():
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2), torch.nn.ReLU(),
                                torch.nn.Linear(2, 2))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 0, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]]))  # unit 3 has no input
        model[2].weight.copy_(torch.tensor([[1.0, 0, 0], [0, 1, 1]]))
        model[4].weight.copy_(torch.tensor([[1.0, 0], [1, 0]]))  # hidden2 unit 2 has no output
    counted = measured_sparsity(model)
    assert counted["connectivity"]["input_fan_out"] == [2, 1, 0, 0]
    assert counted["connectivity"]["live_units"] == {"hidden1": 2, "hidden2": 1}
    # layer sparsity 75 / 50 / 50 %: the middle layer is not sparser than the ends
    assert counted["per_layer"] == {"layer1": 75.0, "layer2": 50.0, "layer3": 50.0}
    assert counted["ends_margin"] == 50.0 - 75.0
    assert counted["inner_mean"] == counted["inner_max"] == 50.0  # the one layer between the ends
    with torch.no_grad():
        model.insert(4, torch.nn.Linear(2, 2, bias=False))
        model[4].weight.copy_(torch.tensor([[0.0, 0], [0, 1]]))
    counted = measured_sparsity(model)  # per layer 75 / 50 / 75 / 50 %
    assert counted["inner_mean"] == 62.5 and counted["inner_max"] == 75.0


def test_masked_update_keeps_pruned_weights_at_zero_under_momentum():
    torch.manual_seed(0)
    x, y = torch.rand(256, 1, 28, 28), torch.randint(0, 10, (256,))

    def train(mask_after_step: bool):
        model = models.build("lenet300_100")
        masks = project(model, 80)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        update = masked_update(optimizer, model, masks) if mask_after_step else sgd_update(optimizer)
        stream = BatchStream((x * 255).to(torch.uint8)[:, 0], y, 64, torch.Generator().manual_seed(0))
        run_steps(model, 20, supervised_loss(stream), update)
        return measured_sparsity(model)["sparsity"]

    assert train(mask_after_step=True) == pytest.approx(80, abs=1e-3)
    assert train(mask_after_step=False) < 20  # without re-masking most pruned weights regrow


def test_sparse_objective_gradient_is_2w_on_the_pruned_weights():
    model = nn.Sequential(nn.Linear(6, 4), nn.Linear(4, 3))
    weights = prunable(model)
    masks = magnitude_masks(weights, 50)
    loss = SparseProjectionObjective(50)(model)
    loss.backward()
    for name, w in weights.items():
        expected = torch.where(masks[name], 0.0, 2 * w.detach())
        assert torch.allclose(w.grad, expected)
    assert loss.item() == pytest.approx(sum((w.detach() * ~masks[n]).pow(2).sum().item() for n, w in weights.items()))
    assert all(p.grad is None or not p.grad.any() for n, p in model.named_parameters() if n.endswith("bias"))


@pytest.mark.parametrize("steps", [1, 2, 500])
def test_the_sparsifying_walks_beta_rises_geometrically_from_start_to_end(steps):
    block = {"distance": "bhattacharyya", "beta_start": 0.001, "beta_end": 10.0, "steps": steps, "lr": 0.03,
             "probe_batch": 128, "momentum": 0.9, "record_every": 100}
    walk = SparsifyWalk.of(block)
    assert (walk.momentum, walk.steps) == (0.9, steps)
    betas = [walk.beta_at(i) for i in range(steps)]
    assert betas[0] == 0.001 and (steps == 1 or betas[-1] == pytest.approx(10.0))
    assert all(b / a == pytest.approx(betas[1] / betas[0]) for a, b in zip(betas, betas[1:]))


def test_lth_levels_prune_a_fifth_of_what_remains_and_stop_on_targets():
    assert lth_levels([50], 0.2) == [20, 36, 48.8, 50]
    sequence = lth_levels([20, 90, 99.1], 0.2)
    assert sequence[0] == 20 and 90 in sequence and sequence[-1] == 99.1
    steps = [100 - b for b in sequence]
    ratios = [after / before for before, after in zip(steps, steps[1:])]
    assert all(0.8 - 1e-4 <= r < 1 for r in ratios)  # never more than 20 % of the remainder


@pytest.fixture(scope="module")
def mnist_lenet(smoke_data):
    """LeNet-300-100 trained on the smoke MNIST subset (2,000 images), with the data."""
    torch.manual_seed(0)
    data = load_prepared(smoke_data / "mnist.pt")
    model = models.build("lenet300_100")
    stream = BatchStream(*data["train"], 64, torch.Generator().manual_seed(0))
    run_steps(model, 300, supervised_loss(stream),
              sgd_update(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)))
    assert accuracy(predict(model, data["test"][0]), data["test"][1]) > 80
    return model, data


def test_fip_path_reaches_the_sparse_set_and_beats_one_shot_pruning(mnist_lenet, smoke_config):
    dense, data = mnist_lenet
    sparsity = 99
    settings = copy.deepcopy(smoke_config["sparsity"]["lenet300_100"])
    settings["fip"].update(steps=400, lr=0.01)
    found, curve, _ = sparsity_study.fip_path(dense, data, settings, [sparsity], torch.Generator().manual_seed(0),
                                              lambda model, masks: {})
    start = distance_to_sparse(dense, sparsity)
    # the path ends near the sparse set, so the exact projection barely moves it
    assert found[sparsity]["distance_to_sparse_before_projection"] < 0.05 * start
    assert curve[-1]["distance_to_sparse"] < curve[0]["distance_to_sparse"]
    assert found[sparsity]["sparsity"] == pytest.approx(sparsity, abs=1e-3)
    assert found[sparsity]["steps"] == 400
    pruned, _ = oneshot.prune_once(dense, sparsity)
    x, y = data["test"]
    oneshot_accuracy = accuracy(predict(pruned, x), y)
    assert found[sparsity]["test_accuracy"] > oneshot_accuracy + 10, (found[sparsity], oneshot_accuracy)


def test_lth_runs_and_keeps_its_masks(mnist_lenet):
    dense, data = mnist_lenet
    rewind = models.build("lenet300_100").state_dict()
    x, y = data["test"]

    def retrain(model, masks):
        stream = BatchStream(*data["train"], 64, torch.Generator().manual_seed(1))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        run_steps(model, 30, supervised_loss(stream), masked_update(optimizer, model, masks))
        return 30

    found = lth.iterative_magnitude_pruning(dense, rewind, [50, 80], 0.2, retrain,
                                            lambda m: {"test_accuracy": accuracy(predict(m, x), y)})["found"]
    assert list(found) == [50, 80]
    assert found[80]["sparsity"] == pytest.approx(80, abs=1e-3)
    assert found[80]["steps"] == 30 * len(lth_levels([50, 80], 0.2))
    assert found[80]["test_accuracy"] > 50


def test_lth_in_parts_gives_the_lth_of_one_go(smoke_data, smoke_config, tmp_path):
    cfg = copy.deepcopy(smoke_config)
    settings = cfg["sparsity"]["lenet300_100"]
    settings["sparsities"] = [50, 80]  # 9 levels: parts of 4, 4 and 1
    assert len(lth_levels(settings["sparsities"], settings["lth"]["fraction"])) == 9
    dense = tmp_path / "dense"
    sparsity_study.train_dense(cfg, "lenet300_100", 0, smoke_data, dense, tmp_path / "dense-out", threads=1)
    sparsity_study.sparsify(cfg, "lenet300_100", "lth", 0, smoke_data, dense, tmp_path / "whole", threads=1)
    settings["lth"]["levels_per_part"] = 4
    parts = tmp_path / "parts"
    for part in (0, 1):
        sparsity_study.sparsify(cfg, "lenet300_100", "lth", 0, smoke_data, dense, tmp_path / "never", threads=1,
                                lth_work=parts, part=part)
        assert (parts / f"part{part}.pt").exists() and not (tmp_path / "never").exists()
    with pytest.raises(ValueError, match="parts 0..2"):
        lth_part_levels(settings, 3)
    sparsity_study.sparsify(cfg, "lenet300_100", "lth", 0, smoke_data, dense, tmp_path / "parted", threads=1,
                            lth_work=parts)
    whole, parted = (json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("whole", "parted"))
    assert parted["levels_run"] == 9 and [level["level"] for level in parted["levels"].values()] == [4, 9]
    assert parted == whole


def test_dense_training_in_parts_gives_the_training_of_one_go(smoke_data, smoke_config, tmp_path):
    """Each part a job of its own, in the job's precision (bf16 where the CPU has the units)
    like the last part, which writes the metrics."""
    cfg = copy.deepcopy(smoke_config)
    sparsity_study.train_dense(cfg, "lenet300_100", 0, smoke_data, tmp_path / "whole", tmp_path / "whole-out", 1)
    cfg["sparsity"]["lenet300_100"]["train"]["part_epochs"] = 2  # 5 epochs: parts of 2, 2 and 1
    for part in (0, 1):
        sparsity_study.train_dense(cfg, "lenet300_100", 0, smoke_data, tmp_path / "parts", tmp_path / "never", 1,
                                   part=part)
    sparsity_study.train_dense(cfg, "lenet300_100", 0, smoke_data, tmp_path / "parts", tmp_path / "parts-out", 1)
    assert not (tmp_path / "never").exists()
    for name in ("model.pt", "rewind.pt"):
        whole, parted = (torch.load(tmp_path / folder / name) for folder in ("whole", "parts"))
        assert all(torch.equal(whole[key], parted[key]) for key in whole)
    read = lambda folder: json.loads((tmp_path / folder / "metrics.json").read_text())  # noqa: E731
    assert read("parts-out") == read("whole-out")
