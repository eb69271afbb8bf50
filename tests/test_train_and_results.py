"""The training loop, batch-norm handling, the results contract and the claims check, on
small constructed networks and results trees."""

import json
import shutil
import subprocess

import pytest
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from fipbench import REPO_ROOT
from fipbench.claims import evaluate_claim
from fipbench.data.vision import random_crop_flip, to_input
from fipbench.fip import CrossEntropyObjective, OutputDistance, fip_loss
from fipbench.results import Job
from fipbench.studies.continual_2task import new_task_statistics_only
from fipbench.train import (BatchStream, NonFiniteLoss, RecipeTraining, accuracy, recipe_optimizer, recipe_stream,
                            run_steps, scheduled, sgd_update, supervised_loss, train_on_task, train_part)


def tiny_cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 26 * 26, 20))


def images(n, seed, bright=False):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 128, (n, 28, 28), generator=g, dtype=torch.uint8)
    return x + 127 if bright else x, torch.randint(0, 10, (n,), generator=g)


def test_run_steps_records_checkpoints_and_moves(tmp_path):
    torch.manual_seed(0)
    model = tiny_cnn()
    stream = BatchStream(*images(256, 0), 32, torch.Generator().manual_seed(0))
    assert stream.steps_per_epoch == 8
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    clock = {}
    records = run_steps(model, 10, supervised_loss(stream), sgd_update(optimizer), lambda m: {"mode": m.training},
                        record_every=4, checkpoint_dir=tmp_path, checkpoint_every=5, clock=clock)
    assert [r["step"] for r in records] == [0, 4, 8, 10]
    assert records[0]["weight_distance"] == 0 and records[-1]["weight_distance"] > 0
    assert all(r["path_length"] >= r["weight_distance"] - 1e-6 for r in records)  # a path is no shorter than its chord
    assert records[-1]["path_length"] > records[-2]["path_length"] and clock["seconds"] > 0
    assert not any("seconds" in r for r in records)  # wall time goes to provenance, never into metrics
    assert not any(r["mode"] for r in records)  # record() sees the model in eval mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step10.pt", "step5.pt"]


@pytest.mark.parametrize("train_mode", [True, False])
def test_run_steps_in_eval_mode_keeps_batch_norm_statistics(train_mode):
    torch.manual_seed(0)
    model = tiny_cnn()
    before = model[1].running_mean.clone()
    stream = BatchStream(*images(128, 0), 32, torch.Generator().manual_seed(0))
    run_steps(model, 3, supervised_loss(stream), sgd_update(torch.optim.SGD(model.parameters(), lr=0.05)),
              record=lambda m: {}, record_every=3, train_mode=train_mode)
    assert torch.equal(model[1].running_mean, before) != train_mode  # only training mode updates them
    assert not torch.equal(model[0].weight, tiny_cnn_at_seed(0)[0].weight)  # the weights moved either way


def tiny_cnn_at_seed(seed):
    torch.manual_seed(seed)
    return tiny_cnn()


@pytest.mark.parametrize("lr_end", [None, 0.001])
def test_learning_rate_decays_to_lr_end_only_when_asked(lr_end):
    model = tiny_cnn()
    x, y = images(64, 0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sgd = {"lr": 0.1} if lr_end is None else {"lr": 0.1, "lr_end": lr_end}
    stream = BatchStream(x, y, 16, torch.Generator().manual_seed(0))
    seen = []
    update = scheduled(sgd_update(optimizer), optimizer, sgd, 10)
    run_steps(model, 10, supervised_loss(stream), lambda loss: (seen.append(optimizer.param_groups[0]["lr"]), update(loss)))
    final = optimizer.param_groups[0]["lr"]
    if lr_end is None:
        assert seen == [0.1] * 10 and final == 0.1
    else:
        assert seen[0] == 0.1 and all(a > b for a, b in zip(seen, seen[1:]))
        assert seen[5] == pytest.approx((0.1 + lr_end) / 2) and final == pytest.approx(lr_end)


@pytest.mark.parametrize("shape", [(6, 28, 28), (6, 32, 32, 3)])
def test_crop_and_flip_gives_a_shifted_window_of_the_padded_image_or_its_mirror(shape):
    x = torch.randint(1, 256, shape, generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    out = random_crop_flip(x, torch.Generator().manual_seed(1), padding=4)
    assert out.shape == x.shape and out.dtype == torch.uint8
    padded = torch.nn.functional.pad(x.unsqueeze(-1) if x.dim() == 3 else x, (0, 0, 4, 4, 4, 4)).squeeze(-1)
    h, w = shape[1:3]
    for image, source in zip(out, padded):
        windows = [window for dy in range(9) for dx in range(9)
                   for window in (source[dy:dy + h, dx:dx + w], source[dy:dy + h, dx:dx + w].flip(1))]
        assert any(torch.equal(image, window) for window in windows)
    again = random_crop_flip(x, torch.Generator().manual_seed(1), padding=4)
    assert torch.equal(out, again)  # the generator decides everything
    assert not torch.equal(out, x)  # 6 images: some offset or flip differs from none
    unpadded = random_crop_flip(x, torch.Generator().manual_seed(2), padding=0)
    assert all(torch.equal(image, source) or torch.equal(image, source.flip(1)) for image, source in zip(unpadded, x))


def test_a_recipe_sets_nesterov_weight_decay_label_smoothing_and_augmentation():
    sgd = {"epochs": 1, "batch_size": 8, "lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4,
           "label_smoothing": 0.1, "augment": True}
    group = recipe_optimizer(tiny_cnn().parameters(), sgd).param_groups[0]
    assert group["nesterov"] and group["weight_decay"] == 5e-4
    plain = recipe_optimizer(tiny_cnn().parameters(), {"lr": 0.1, "momentum": 0.0}).param_groups[0]
    assert not plain["nesterov"] and plain["weight_decay"] == 0.0
    x, y = images(32, 0)
    augmented = next(recipe_stream({"train": (x, y)}, sgd, torch.Generator().manual_seed(0)))[0]
    unchanged = next(recipe_stream({"train": (x, y)}, {**sgd, "augment": False}, torch.Generator().manual_seed(0)))[0]
    assert augmented.shape == unchanged.shape and not torch.equal(augmented, unchanged)
    torch.manual_seed(0)
    model = tiny_cnn()
    assert train_on_task(model, {"train": (x, y)}, sgd, 4, torch.Generator().manual_seed(0)) == 4
    model.eval()
    logits, labels = model(to_input(x[:8])), y[:8]  # one batch of all 8: the mean is the same in any order
    loss = supervised_loss(BatchStream(x[:8], labels, 8, torch.Generator().manual_seed(0)), 0.1)(model)[0]
    assert loss.item() == pytest.approx(torch.nn.functional.cross_entropy(logits, labels, label_smoothing=0.1).item(),
                                        rel=1e-5)
    assert loss.item() != pytest.approx(torch.nn.functional.cross_entropy(logits, labels).item(), rel=1e-3)


def test_a_training_in_parts_gives_the_network_of_one_go(tmp_path):
    """Each part in a fresh RecipeTraining (as in a new job) resumed from the state the part
    before saved: the same weights as one uninterrupted run, and the same kept iterate."""
    x, y = images(48, 0)
    task = {"train": (x, y)}
    sgd = {"epochs": 2, "batch_size": 16, "lr": 0.1, "lr_end": 0.0, "momentum": 0.9, "nesterov": True,
           "weight_decay": 5e-4, "augment": True}

    def fresh():
        torch.manual_seed(0)
        return RecipeTraining(tiny_cnn(), task, sgd, 10, torch.Generator().manual_seed(3))
    whole = fresh()
    whole.run(4)
    kept_in_one_go = {k: v.clone() for k, v in whole.model.state_dict().items()}
    whole.run(6)
    for part in range(3):
        training = fresh()
        carried = train_part(training, part, 3, tmp_path, keep_at=4)
    assert training.done == 10 and sorted(p.name for p in tmp_path.iterdir()) == ["part0.pt", "part1.pt"]
    for name, value in whole.model.state_dict().items():
        assert torch.equal(value, training.model.state_dict()[name]), name
        assert torch.equal(kept_in_one_go[name], carried["kept"][name]), name
    assert len(carried["seconds"]) == 3


def test_a_part_cut_off_mid_way_resumes_from_its_progress(tmp_path):
    """A part stopped after 7 of its 10 steps (progress saved every 3) goes on from step 6
    in a fresh RecipeTraining, taking the 4 steps left: the same weights and kept iterate
    as an uncut part, and no progress file left behind; a part of another recipe ignores it."""
    x, y = images(48, 0)
    task = {"train": (x, y)}
    sgd = {"epochs": 2, "batch_size": 16, "lr": 0.1, "lr_end": 0.0, "momentum": 0.9, "augment": True}

    class Cut(Exception):
        pass

    def counted(cut_after=None, recipe=sgd):
        """A fresh RecipeTraining whose loss calls are counted, cut off after cut_after calls."""
        torch.manual_seed(0)
        training = RecipeTraining(tiny_cnn(), task, recipe, 10, torch.Generator().manual_seed(3))
        loss_fn, calls = training.loss_fn, []

        def loss(model):
            if len(calls) == cut_after:
                raise Cut
            calls.append(1)
            return loss_fn(model)
        training.loss_fn = loss
        return training, calls
    uncut, _ = counted()
    kept_uncut = train_part(uncut, 0, 1, tmp_path / "uncut", keep_at=4, save_every=3)["kept"]
    with pytest.raises(Cut):
        train_part(counted(cut_after=7)[0], 0, 1, tmp_path / "cut", keep_at=4, save_every=3)
    progress = torch.load(tmp_path / "cut" / "part0.progress.pt", weights_only=False)
    assert progress["training"]["done"] == 6 and progress["carried"]["kept"] is not None
    (tmp_path / "other").mkdir()
    shutil.copy(tmp_path / "cut" / "part0.progress.pt", tmp_path / "other")
    other, calls = counted(recipe={**sgd, "lr": 0.05})  # another recipe starts the part afresh
    train_part(other, 0, 1, tmp_path / "other", save_every=3)
    assert len(calls) == 10
    resumed, calls = counted()
    carried = train_part(resumed, 0, 1, tmp_path / "cut", keep_at=4, save_every=3)
    assert resumed.done == 10 and len(calls) == 4 and list((tmp_path / "cut").iterdir()) == []
    for name, value in uncut.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[name]), name
        assert torch.equal(kept_uncut[name], carried["kept"][name]), name
    assert len(carried["seconds"]) == 1 and carried["seconds"][0] > 0


def test_non_finite_loss_stops_the_loop_naming_its_first_step():
    model = tiny_cnn()
    stream = BatchStream(*images(64, 0), 32, torch.Generator().manual_seed(0))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    calls = []

    def nan_from_step_3(net):
        loss, parts = supervised_loss(stream)(net)
        calls.append(1)
        return (loss * float("nan") if len(calls) >= 3 else loss), parts

    with pytest.raises(NonFiniteLoss, match="non-finite loss at step 3"):
        run_steps(model, 6, nan_from_step_3, sgd_update(optimizer))


class ReadBacks(TorchFunctionMode):
    """Counts the calls that copy a tensor's value to the host (item, tolist, bool, int,
    float, numpy, cpu) while it is active."""
    READING = {torch.Tensor.item, torch.Tensor.tolist, torch.Tensor.__bool__, torch.Tensor.__int__,
               torch.Tensor.__float__, torch.Tensor.numpy, torch.Tensor.cpu}

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.count += func in self.READING
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("walk", ["plain", "fip"])
def test_steps_read_nothing_back_between_record_points(walk):
    """A run of n steps with no record points reads values back a fixed number of times,
    whatever n: loss parts, path length, turning angle and the finiteness check stay on the device."""
    def read_backs(n_steps):
        torch.manual_seed(0)
        model, generator = tiny_cnn(), torch.Generator().manual_seed(0)
        stream = BatchStream(*images(64, 0), 16, generator)
        loss_fn = (supervised_loss(stream) if walk == "plain" else
                   fip_loss(OutputDistance(model, to_input(images(32, 1)[0])), CrossEntropyObjective(stream), 1.0, 8,
                            generator))
        update = sgd_update(torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
        with ReadBacks() as counter:
            run_steps(model, n_steps, loss_fn, update)
        return counter.count

    few, many = read_backs(3), read_backs(30)
    assert few == many <= 2


def test_accuracy_class_and_task_incremental():
    logits = torch.tensor([[5.0, 0, 0, 9.0], [0, 5.0, 0, 0], [0, 0, 1.0, 2.0]])
    labels = torch.tensor([0, 1, 3])
    assert accuracy(logits, labels) == pytest.approx(200 / 3)
    assert accuracy(logits, labels, range(0, 2)) == pytest.approx(200 / 3)  # row 3 cannot be right
    assert accuracy(logits[2:], labels[2:], range(2, 4)) == 100.0
    assert accuracy(logits, labels, [3, 0]) == pytest.approx(100 / 3)  # any set of units, e.g. a split task's


def test_batch_norm_statistics_reestimated_on_new_task_only():
    """The ablation copy gets running statistics of the new-task images alone; the
    network itself keeps its own."""
    torch.manual_seed(0)
    model = tiny_cnn()
    model.train()
    with torch.no_grad():
        for _ in range(30):
            model(images(64, 1)[0].unsqueeze(1).float() / 255)  # old task: darker images
    before = model[1].running_mean.clone()
    tasks = {"fashion_mnist": {"train": images(1000, 2, bright=True)}}
    clone = new_task_statistics_only(model, tasks, batch_size=100, n_batches=10)
    assert torch.equal(model[1].running_mean, before)
    expected = nn.Sequential(*list(model.children())[:1])(tasks["fashion_mnist"]["train"][0].unsqueeze(1).float() / 255)
    assert torch.allclose(clone[1].running_mean, expected.mean(dim=(0, 2, 3)), atol=1e-3)
    assert not clone.training


def test_job_writes_nothing_when_interrupted(tmp_path):
    cfg = {"scale": "smoke", "precision": "fp32"}
    with pytest.raises(RuntimeError):
        with Job(tmp_path / "a", cfg, 0, torch.device("cpu"), 1, {}):
            raise RuntimeError("killed")
    assert not (tmp_path / "a").exists()
    with Job(tmp_path / "b", cfg, 0, torch.device("cpu"), 1, {"mnist": {"kind": "mirror"}}) as job:
        job.steps = 3
        job.finish({"x": 1.0})
    provenance = json.loads((tmp_path / "b" / "provenance.json").read_text())
    assert provenance["optimizer_steps"] == 3 and provenance["seed"] == 0 and "commit" in provenance
    assert json.loads((tmp_path / "b" / "metrics.json").read_text()) == {"x": 1.0}
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["metrics.json", "provenance.json"]


def write_metrics(root, method, seed, value, standard_error=None):
    folder = root / "study" / method / f"seed{seed}"
    folder.mkdir(parents=True)
    final = {"acc": value} if standard_error is None else {"acc": value, "standard_error": standard_error}
    (folder / "metrics.json").write_text(json.dumps({"final": final}))


CLAIM = {"id": "c", "figure": "F", "claim": "t", "statement": {"value": 90.0, "sd": 1.0, "n": 5},
         "metric": {"study": "study", "method": "fip", "key": "final.acc"}}


def judged(tmp_path, statement=None, scale="laptop", seeds=(0, 1), **row):
    claim = {**CLAIM, **({"statement": statement} if statement else {}), **row}
    return evaluate_claim(claim, scale, tmp_path, lambda method, study=None: list(seeds))


@pytest.fixture
def two_seeds(tmp_path):
    """fip 90 and 92 (mean 91, sd of the mean 1); ewc 85, close 90.5, above 92.5 and far 95 on both seeds."""
    for seed, fip in enumerate([90.0, 92.0]):
        write_metrics(tmp_path, "fip", seed, fip)
        for method, value in (("ewc", 85.0), ("close", 90.5), ("above", 92.5), ("far", 95.0)):
            write_metrics(tmp_path, method, seed, value)
    return tmp_path


def versus(method, **extra):
    return {"beats": {"method": method, "key": "final.acc"}, **extra}


@pytest.mark.parametrize("statement, verdict, d", [
    ({"value": 90.0, "sd": 1.0, "n": 5}, "reproduced", 1.0),         # t = 2 sqrt(1 + 0.2) = 2.19
    ({"value": 95.0}, "not reproduced", -4.0),                       # t = 2
    ({"range": [91.5, 93.0]}, "reproduced", -0.5),                  # 0.5 below the range
    ({"at_most": 88.0}, "not reproduced", 3.0),
    (versus("ewc"), "reproduced", 6.0),                              # separated (t = 2) and > 0
    (versus("ewc", gap=30.0), "not reproduced", 6.0),                # below a quarter of the paper's gap
    (versus("ewc", gap=20.0), "reproduced", 6.0),                    # at least 20 / 4
    (versus("close"), "not separated", 0.5),
    (versus("far"), "not reproduced", -4.0),                         # the other way round, separated
    ({"par": {"method": "above", "key": "final.acc"}}, "reproduced", -1.5),
    ({"par": {"method": "far", "key": "final.acc"}}, "not reproduced", -4.0),
    ({"beats": 80.0}, "reproduced", 11.0),                            # a constant
])
def test_one_rule_judges_every_statement(two_seeds, statement, verdict, d):
    row = judged(two_seeds, statement)
    assert row["verdict"] == verdict
    assert float(row["difference"].split()[0]) == pytest.approx(d)
    assert "fip final.acc: 91.00 +- 1.41 (n=2)" in row["ours"]


def test_the_resolution_and_a_stochastic_estimate_widen_the_noise(tmp_path):
    write_metrics(tmp_path, "fip", 0, 90.4, standard_error=0.0)
    write_metrics(tmp_path, "ewc", 0, 90.0)
    write_metrics(tmp_path, "noisy", 0, 90.4, standard_error=1.0)
    one_seed = dict(seeds=(0,))
    assert judged(tmp_path, versus("ewc"), **one_seed)["verdict"] == "not separated"  # 0.4 under 0.5 points
    assert judged(tmp_path, versus("ewc"), resolution=0.1, **one_seed)["verdict"] == "reproduced"
    noisy = {**CLAIM["metric"], "method": "noisy"}
    assert judged(tmp_path, versus("ewc"), resolution=0.1, metric=noisy, **one_seed)["verdict"] == "not separated"


@pytest.mark.parametrize("gate, result", [
    ({"at_least": 90}, "pass"),
    ({"at_least": 92}, "FAIL"),
    ({"range": [90, 92]}, "pass"),
    ({"exceeds": {"method": "ewc", "key": "final.acc", "margin": 5}}, "pass"),
    ({"exceeds": {"method": "ewc", "key": "final.acc", "margin": 7}}, "FAIL"),
    ({"ratio": {"method": "ewc", "key": "final.acc", "at_least": 1.05}}, "pass"),  # 91 / 85 = 1.07
    ({"ratio": {"method": "ewc", "key": "final.acc", "at_least": 1.1}}, "FAIL"),
])
def test_gates_are_their_own_column_beside_the_verdict(two_seeds, gate, result):
    row = judged(two_seeds, {"value": 99.0}, gates={"laptop": gate})
    assert row["gate"].split()[0] == result
    assert row["verdict"] == "not reproduced"  # a gate can pass while the paper's number is missed
    assert judged(two_seeds, {"value": 99.0}, scale="paper", gates={"laptop": gate})["gate"] == "-"


def test_missing_seed_is_incomplete_never_passed(tmp_path):
    write_metrics(tmp_path, "fip", 0, 99.0)
    row = judged(tmp_path, gates={"laptop": {"at_least": 90}})
    assert row["verdict"] == "incomplete" and row["gate"].startswith("incomplete")
    row = judged(tmp_path, seeds=(5,), gates={"laptop": {"at_least": 90}})
    assert row["verdict"] == "not run" and row["gate"].startswith("incomplete")


def test_a_seed_older_than_the_key_its_other_seeds_have_is_incomplete(tmp_path):
    write_metrics(tmp_path, "fip", 0, 99.0)
    folder = tmp_path / "study" / "fip" / "seed1"
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps({"final": {"older": 1.0}}))
    row = judged(tmp_path)
    assert row["verdict"] == "incomplete" and row["ours"].endswith("[missing seeds [1]]")


def test_a_claim_the_scale_cannot_run_says_why_even_beside_results(tmp_path):
    """not_run (for example: the data is not available) is reported with its reason and is
    never judged, even when a results folder of that name exists."""
    write_metrics(tmp_path, "fip", 0, 99.0)
    row = judged(tmp_path, seeds=(0,), not_run={"laptop": "no CIFAR-100 offline"})
    assert row["verdict"] == "not run" and row["ours"] == "not run: no CIFAR-100 offline"


def test_a_network_the_scale_does_not_run_makes_every_row_of_it_not_run(tmp_path):
    """A settings entry of a network (study/network) with not_run applies to each row of that
    network at its scale, results or not; the study's other networks are judged as usual."""
    for network in ("small", "big"):
        write_metrics(tmp_path, f"{network}/fip", 0, 90.0)
    settings = {"laptop": {"study": {"text": "reduced"}, "study/big": {"text": "paper only", "not_run": "too big"}}}
    rows = {network: evaluate_claim({**CLAIM, "metric": {**CLAIM["metric"], "method": f"{network}/fip"}}, "laptop",
                                    tmp_path, lambda method, study=None: [0], settings)
            for network in ("small", "big")}
    assert rows["big"]["verdict"] == "not run" and rows["big"]["ours"] == "not run: too big"
    assert rows["big"]["setting"] == "paper only"
    assert rows["small"]["verdict"] == "reproduced" and rows["small"]["setting"] == "reduced"


def test_a_claim_that_needs_what_the_machine_lacks_says_so_until_its_results_exist(tmp_path):
    """needs (for example: a GPU) names what is missing while the results are, and never
    masks them: a comparison with one side run shows that side and what the other needs; with
    both, it is judged."""
    needs = {"laptop": "a GPU"}
    beats = {"beats": {"method": "ewc", "key": "final.acc"}}
    row = judged(tmp_path, seeds=(0,), needs=needs)
    assert row["verdict"] == "not run" and row["ours"] == "not run: needs a GPU"
    write_metrics(tmp_path, "fip", 0, 95.0)
    row = judged(tmp_path, beats, seeds=(0,), needs=needs)
    assert row["verdict"] == "not run" and row["ours"].endswith("; not run: needs a GPU")
    write_metrics(tmp_path, "ewc", 0, 80.0)
    assert judged(tmp_path, beats, seeds=(0,), needs=needs)["verdict"] == "reproduced"


def test_a_metric_the_scale_does_not_measure_is_named_not_judged(tmp_path):
    write_metrics(tmp_path, "fip", 0, 99.0)
    row = judged(tmp_path, seeds=(0,), metric={**CLAIM["metric"], "key": "levels.95.acc"})
    assert row["verdict"] == "not run" and "no fip levels.95.acc" in row["ours"]


def test_every_committed_claim_row_is_well_formed():
    """Every row of config/claims.yaml has one statement form and gates of one known form at
    known scales; the settings name every scale."""
    import yaml

    from fipbench.claims import CLAIMS_FILE, GATE_FORMS

    spec = yaml.safe_load(CLAIMS_FILE.read_text())
    forms = ("value", "range", "at_least", "at_most", "beats", "par")
    for claim in spec["claims"]:
        assert sum(form in claim["statement"] for form in forms) == 1, claim["id"]
        for scale, gate in claim.get("gates", {}).items():
            assert scale in ("smoke", "laptop", "paper") and sum(f in gate for f in GATE_FORMS) == 1, claim["id"]
    assert set(spec["settings"]) == {"smoke", "laptop", "paper"}


def test_provenance_audit_lists_what_does_not_match(tmp_path, mirror):
    from fipbench.audit import audit
    from fipbench.config import config_hash, load
    from fipbench.data.mirror import expected_checksums
    from fipbench.results import git_state
    from fipbench.workflow import job_config

    cfg = load({"scale": "smoke"})
    job = json.loads(job_config(cfg, "continual_2task"))
    name, digest = next(iter(expected_checksums(mirror).items()))
    good = {"commit": git_state()["commit"], "dirty": False, "scale": "smoke", "config": job,
            "config_hash": config_hash(job), "data": {"mnist": {"kind": "mirror", "files": {name: digest}}}}
    bad = {**good, "commit": "0" * 40, "config_hash": "0" * 16,
           "data": {"mnist": {"kind": "mirror", "files": {name: "f" * 64}}}}
    aside = subprocess.run(["git", "commit-tree", "HEAD^{tree}", "-m", "a commit outside HEAD's history"],
                           cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout.strip()
    for folder, provenance in (("good/seed0", good), ("bad/seed0", bad), ("dirty/seed0", {**good, "dirty": True}),
                               ("aside/seed0", {**good, "commit": aside})):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "provenance.json").write_text(json.dumps(provenance))
    problems, notes = audit(tmp_path, cfg, mirror)
    assert [line.split(":")[0] for line in problems] == ["aside/seed0"] + ["bad/seed0"] * 3 + ["dirty/seed0"]
    assert any("commit 0000" in p for p in problems) and any("config_hash" in p for p in problems)
    assert any(name in p and "ffff" in p for p in problems)
    assert "uncommitted changes" in problems[-1] and "not HEAD or one of its ancestors" in problems[0]
    assert "data checksums against the mirror" in notes[-1] and "commits in HEAD's history" in notes[-1]
    unchecked = audit(tmp_path, cfg, None)[1]
    assert any(note.startswith("data checksums not checked") for note in unchecked)
    assert "data checksums" not in unchecked[-1]  # it says only what it checked


def job_result(folder, scale, value=91.12):
    """A result written by a real Job with the config the rules give a two-task job at scale."""
    from fipbench.config import load
    from fipbench.workflow import job_config

    cfg = json.loads(job_config(load({"scale": scale}), "continual_2task"))
    with Job(folder, cfg, 0, torch.device("cpu"), 1, {}) as job:
        job.finish({"final": {"mean_class_incremental": value}})
    provenance = json.loads((folder / "provenance.json").read_text())  # as if made from a clean tree, which the
    (folder / "provenance.json").write_text(json.dumps({**provenance, "dirty": False}))  # tests' own may not be


def test_check_fails_on_an_edited_number_naming_the_file(tmp_path):
    from fipbench.audit import audit
    from fipbench.config import load

    job_result(tmp_path / "continual_2task" / "fip" / "seed0", "laptop")
    assert audit(tmp_path, load({"scale": "laptop"}), None)[0] == []
    metrics = tmp_path / "continual_2task" / "fip" / "seed0" / "metrics.json"
    metrics.write_text(metrics.read_text().replace("91.12", "99.5"))
    problems = audit(tmp_path, load({"scale": "laptop"}), None)[0]
    assert problems == ["continual_2task/fip/seed0/metrics.json: sha256 differs from the one its provenance "
                        "records (changed after the job wrote it)"]


def test_check_fails_on_a_result_moved_from_another_scale(tmp_path):
    from fipbench.audit import audit
    from fipbench.config import config_hash, load

    job_result(tmp_path / "continual_2task" / "fip" / "seed0", "smoke")
    problems = audit(tmp_path, load({"scale": "laptop"}), None)[0]
    assert problems == ["continual_2task/fip/seed0: made at scale 'smoke', found in the tree of scale 'laptop'"]
    provenance = tmp_path / "continual_2task" / "fip" / "seed0" / "provenance.json"
    record = json.loads(provenance.read_text())
    record["scale"] = record["config"]["scale"] = "laptop"  # relabelled by hand: the settings still differ
    record["config_hash"] = config_hash(record["config"])
    provenance.write_text(json.dumps(record))
    problems = audit(tmp_path, load({"scale": "laptop"}), None)[0]
    assert len(problems) == 1 and "its config is not what the laptop config gives this job" in problems[0]


def test_a_failed_rerun_leaves_neither_metrics_nor_a_stale_provenance(tmp_path):
    folder = tmp_path / "continual_2task" / "fip" / "seed0"
    job_result(folder, "smoke")
    assert (folder / "provenance.json").exists()
    with pytest.raises(NonFiniteLoss):
        with Job(folder, {"scale": "smoke", "precision": "fp32"}, 0, torch.device("cpu"), 1, {}):
            raise NonFiniteLoss("diverged")
    assert list(folder.iterdir()) == []

def test_a_method_added_to_a_continual_study_reruns_no_other_job():
    """A job's config holds its own method's block (and FIP's), so adding a method (here
    as if LwF were new) or changing another baseline leaves it unchanged; its own change shows."""
    import copy

    from fipbench.config import load
    from fipbench.workflow import method_config

    cfg = load({"scale": "laptop"})
    before = copy.deepcopy(cfg)
    del before["continual_2task"]["lwf"], before["continual_2task"]["tune"]["lwf"]
    before["continual_2task"]["methods"].remove("lwf")
    for method in ("ewc", "fip", "naive", None):
        assert method_config(cfg, "continual_2task", method) == method_config(before, "continual_2task", method)
    cfg["continual_2task"]["gem"]["strength"] = 9.0
    assert method_config(cfg, "continual_2task", "ewc") == method_config(before, "continual_2task", "ewc")
    assert method_config(cfg, "continual_2task", "gem") != method_config(before, "continual_2task", "gem")
    cfg["continual_2task"]["fip"]["distance"] = "euclidean"  # every method's memory distance is FIP's
    assert method_config(cfg, "continual_2task", "ewc") != method_config(before, "continual_2task", "ewc")


def test_the_networks_a_study_runs_decide_which_jobs_exist_not_what_one_does():
    """Dropping a network from geometry (as the laptop scale drops ResNet-20) leaves the
    other networks' job configs, and so their results, as they are; a setting they read shows."""
    from fipbench.config import load
    from fipbench.workflow import job_config

    cfg = load({"scale": "paper"})
    fewer = load({"scale": "paper", "geometry": {"networks": ["cnn5"], "states": ["trained"]}})
    assert job_config(cfg, "geometry") == job_config(fewer, "geometry")
    assert job_config(cfg, "geometry") != job_config(load({"scale": "paper", "geometry": {"top_k": 7}}), "geometry")


def test_the_grid_pick_reads_its_parameter_from_the_folder_and_fills_it_in(tmp_path):
    from fipbench.selection import select, tuned_settings

    paths = []
    for value, score in ((0.1, 70.0), (1.0, 80.0), (10.0, 75.0)):
        path = tmp_path / "tune" / "lwf" / f"alpha-{value}" / "metrics.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"split": "val", "method": "lwf", "settings": {"alpha": value, "temperature": 2.0},
                                    "final": {"mean_class_incremental": score}}))
        paths.append(path)
    select(paths, tmp_path / "chosen.json")
    chosen = json.loads((tmp_path / "chosen.json").read_text())
    assert (chosen["parameter"], chosen["value"]) == ("alpha", 1.0)
    study = {"lwf": {"alpha": 5.0, "temperature": 2.0}, "tune": {"lwf": {"alpha": [0.1, 1.0, 10.0]}}}
    assert tuned_settings(study, "lwf", chosen=tmp_path / "chosen.json") == {"alpha": 1.0, "temperature": 2.0}
    assert tuned_settings(study, "lwf", value=10.0) == {"alpha": 10.0, "temperature": 2.0}
    paths[2].write_text(paths[2].read_text().replace("75.0", "80.0"))  # a tie goes to the first listed
    select(paths[::-1], tmp_path / "tie.json")
    assert json.loads((tmp_path / "tie.json").read_text())["value"] == 10.0


def test_a_choice_on_its_grids_edge_is_a_problem(tmp_path):
    from fipbench.selection import grid_edges

    for method, value in (("ewc", 1e4), ("gem", 0.5)):
        folder = tmp_path / "continual_2task" / "tune" / method
        folder.mkdir(parents=True)
        grid = [{"value": v, "score": 1.0} for v in ((1e2, 1e3, 1e4) if method == "ewc" else (0.0, 0.5, 1.0))]
        (folder / "chosen.json").write_text(json.dumps({"parameter": "x", "value": value, "grid": grid}))
    assert grid_edges(tmp_path) == ["continual_2task/tune/ewc: the chosen x 10000.0 is an edge of its grid "
                                    "[100.0, 1000.0, 10000.0]; extend the grid"]
