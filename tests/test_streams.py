"""Task streams and CIFAR-100 on a small fake copy written here in torchvision's own
on-disk format (pickled dicts), served from a mirror folder with SHA256SUMS."""

import copy
import math
import pickle

import numpy as np
import pytest
import torch
import torchvision

from fipbench import models
from fipbench.data.mirror import DataError, sha256
from fipbench.data.streams import class_order, split_tasks
from fipbench.data.vision import load_raw

FINE = [f"class{c:02d}" for c in range(100)]


def two_class_tasks(count: int, images: int) -> list[tuple]:
    """count tasks of `images` random 28x28 uint8 images each, task t labelled 2t and 2t+1
    in turn (generator seeded 0, drawn task after task)."""
    g = torch.Generator().manual_seed(0)
    return [(torch.randint(0, 256, (images, 28, 28), generator=g, dtype=torch.uint8), torch.arange(images) % 2 + 2 * t)
            for t in range(count)]


def write_fake_cifar100(mirror, per_class_train=6, per_class_test=2):
    """mirror/cifar-100-python/{train,test,meta} as torchvision reads them, image k of
    class c filled with the value c, and the mirror's SHA256SUMS over them."""
    folder = mirror / "cifar-100-python"
    folder.mkdir(parents=True)
    for split, per_class in (("train", per_class_train), ("test", per_class_test)):
        labels = [c for c in range(100) for _ in range(per_class)]
        data = np.repeat(np.array(labels, dtype=np.uint8)[:, None], 3 * 32 * 32, axis=1)
        with open(folder / split, "wb") as handle:
            pickle.dump({"data": data, "fine_labels": labels, "coarse_labels": [c // 5 for c in labels],
                         "filenames": [f"{i}.png" for i in range(len(labels))], "batch_label": split}, handle)
    with open(folder / "meta", "wb") as handle:
        pickle.dump({"fine_label_names": FINE, "coarse_label_names": [f"super{c}" for c in range(20)]}, handle)
    (mirror / "SHA256SUMS").write_text("".join(f"{sha256(folder / name)}  cifar-100-python/{name}\n"
                                               for name in ("meta", "test", "train")))


def test_cifar100_from_a_mirror_folder_in_torchvisions_format(tmp_path, monkeypatch):
    write_fake_cifar100(tmp_path / "mirror")
    monkeypatch.setenv("FIPBENCH_DATA_MIRROR", str(tmp_path / "mirror"))
    data, source = load_raw("cifar100", tmp_path / "raw")
    x, y = data["train"]
    assert x.shape == (600, 32, 32, 3) and x.dtype == torch.uint8 and data["test"][0].shape == (200, 32, 32, 3)
    assert torch.equal(x[:, 0, 0, 0].long(), y) and sorted(set(y.tolist())) == list(range(100))
    assert source["kind"] == "mirror" and set(source["files"]) == {f"cifar-100-python/{n}" for n in ("meta", "test", "train")}


def test_split_cifar100_into_20_tasks_of_5_classes(tmp_path, monkeypatch):
    write_fake_cifar100(tmp_path / "mirror")
    monkeypatch.setenv("FIPBENCH_DATA_MIRROR", str(tmp_path / "mirror"))
    data, _ = load_raw("cifar100", tmp_path / "raw")
    tasks, order = split_tasks(data, 20, 5, seed=3)
    assert sorted(order) == list(range(100)) and order == class_order(100, 3) != class_order(100, 4)
    assert [t["classes"] for t in tasks] == [order[5 * i:5 * i + 5] for i in range(20)]
    for task in tasks:
        x, y = task["train"]
        assert len(y) == 30 and set(y.tolist()) == set(task["classes"]) and len(task["test"][1]) == 10
        assert torch.equal(x[:, 0, 0, 0].long(), y)  # images travel with their labels
    with pytest.raises(ValueError, match="need 105 classes"):
        split_tasks(data, 21, 5, seed=3)


def test_cifar100_absent_everywhere_says_what_to_provide(tmp_path, monkeypatch):
    """A mirror without CIFAR-100 and a download that fails (torchvision's URL pointed at a
    closed port on this machine, as offline)."""
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / "SHA256SUMS").write_text("")
    monkeypatch.setenv("FIPBENCH_DATA_MIRROR", str(tmp_path / "mirror"))
    monkeypatch.setattr(torchvision.datasets.CIFAR100, "url", "http://127.0.0.1:9/cifar-100-python.tar.gz")
    with pytest.raises(DataError, match="cifar-100-python/ .*cifar100-<anything>.zip"):
        load_raw("cifar100", tmp_path / "raw")


@pytest.mark.parametrize("nf, parameters", [(20, 1_109_240), (64, 11_220_132)])
def test_resnet18_widths(nf, parameters):
    model = models.build("resnet18", nf=nf)
    assert sum(p.numel() for p in model.parameters()) == parameters
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 100)


@pytest.mark.parametrize("method", ["agem", "ewc", "lwf"])
def test_avalanche_plugins_learn_a_stream_of_three_tasks(method):
    """tasks[0] is taken as learned; tasks 1 and 2 are trained in turn (2 steps each),
    recorded every step, with a record at the end of each task, each naming its task."""
    from baselines.avalanche_cl import METHODS, learn_stream

    tasks = two_class_tasks(3, 64)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 6))
    settings = {"agem": {"memory_batch": 16}, "ewc": {"lambda": 1.0}, "lwf": {"alpha": 1.0, "temperature": 2.0}}[method]
    sgd = {"epochs": 1, "batch_size": 32, "lr": 0.1, "momentum": 0.0}
    records, steps = learn_stream(model, METHODS[method].plugin(settings, 8, [{"train": t} for t in tasks]), tasks, sgd, torch.device("cpu"),
                                  lambda net, task: {"learning": task}, 1)
    assert steps == 4 and [r["step"] for r in records] == [0, 1, 2, 3, 4]
    assert [r["task"] for r in records] == [r["learning"] for r in records] == [1, 1, 1, 2, 2]
    assert records[0]["weight_distance"] == 0 and all(r["weight_distance"] > 0 for r in records[1:])


def test_lwf_keeps_the_first_tasks_outputs_closer_than_plain_training():
    """From one network, task 1 learned with LwF's distillation (alpha 10) and without it
    (alpha 0): on task 1's images, the outputs over task 0's classes move less with it."""
    from baselines.avalanche_cl import METHODS, learn_stream

    tasks = two_class_tasks(2, 64)
    torch.manual_seed(0)
    start = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 4))
    inputs = tasks[1][0].float().div(255).unsqueeze(1)
    before = start(inputs)[:, :2].log_softmax(1).detach()
    moved = {}
    for alpha in (0.0, 10.0):
        model = copy.deepcopy(start)
        learn_stream(model, METHODS["lwf"].plugin({"alpha": alpha, "temperature": 2.0}, 0, [{}, {}]), tasks,
                     {"epochs": 3, "batch_size": 16, "lr": 0.002, "momentum": 0.0}, torch.device("cpu"),
                     lambda net, task: {}, 100)
        moved[alpha] = (model(inputs)[:, :2].log_softmax(1) - before).abs().mean().item()
    assert moved[10.0] < 0.5 * moved[0.0]


def test_path_integral_reads_the_training_without_changing_it():
    """Plain SGD moves each weight by -lr * g, so the integral of g along the path is
    -(sum of the squared steps) / lr; the weights end where they end without it."""
    from fipbench.train import PathIntegral, run_steps, sgd_update, supervised_loss, BatchStream

    g = torch.Generator().manual_seed(0)
    x, y = torch.randint(0, 256, (64, 28, 28), generator=g, dtype=torch.uint8), torch.arange(64) % 4
    ends, lr = [], 0.05
    for integrating in (False, True):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 4))
        path, update = PathIntegral(model), sgd_update(torch.optim.SGD(model.parameters(), lr=lr))
        weights = [[p.detach().clone() for p in model.parameters()]]

        def step(loss):
            (path.integrating(update) if integrating else update)(loss)
            weights.append([p.detach().clone() for p in model.parameters()])
        run_steps(model, 5, supervised_loss(BatchStream(x, y, 16, torch.Generator().manual_seed(1))), step)
        ends.append(weights[-1])
    assert all(torch.equal(a, b) for a, b in zip(*ends))
    for index, name in enumerate(path.integral):
        squared_steps = sum((after[index] - before[index]).flatten() ** 2 for before, after in zip(weights, weights[1:]))
        assert torch.allclose(path.integral[name], -squared_steps / lr, rtol=1e-4, atol=1e-9)
        assert torch.equal(path.start[name], weights[0][index].flatten())


def test_synaptic_intelligence_weighs_task_1_by_its_recorded_path(tmp_path):
    """SI's importances after task 1 (learned before the stream, 0 epochs in avalanche) are
    Zenke et al.'s formula, unclipped, on the path the base training recorded, anchored at
    the weights task 1 ended on; with lambda 1 task 1's outputs move less than with lambda 0
    while task 2 is learned (they would not if the anchor followed the weights)."""
    from baselines.avalanche_cl import METHODS, learn_stream
    from fipbench.train import BatchStream, PathIntegral, path_integral_beside, run_steps, sgd_update, supervised_loss

    tasks = two_class_tasks(2, 128)
    torch.manual_seed(0)
    start = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 4))
    path = PathIntegral(start)
    run_steps(start, 20, supervised_loss(BatchStream(*tasks[0], 32, torch.Generator().manual_seed(1))),
              path.integrating(sgd_update(torch.optim.SGD(start.parameters(), lr=0.05))))
    path.save_beside(tmp_path / "model.pt")
    recorded = path_integral_beside(tmp_path / "model.pt")
    inputs = tasks[0][0].float().div(255).unsqueeze(1)
    before = start(inputs)[:, :2].log_softmax(1).detach()
    moved = {}
    for lam in (0.0, 1.0):
        model, plugin = copy.deepcopy(start), METHODS["si"].plugin({"lambda": lam, "damping": 1e-3}, 0,
                                                                  [{"path_integral": recorded}, {}])
        learn_stream(model, plugin, tasks, {"epochs": 3, "batch_size": 16, "lr": 0.01, "momentum": 0.0},
                     torch.device("cpu"), lambda net, task: {}, 100)
        moved[lam] = (model(inputs)[:, :2].log_softmax(1) - before).abs().mean().item()
    name = "1.weight"
    end = dict(start.named_parameters())[name].detach().flatten()
    expected = -path.integral[name] / ((end - path.start[name]) ** 2 + 1e-3)  # not clipped, unlike avalanche's
    fresh = METHODS["si"].plugin({"lambda": 1.0, "damping": 1e-3}, 0, [{"path_integral": recorded}])  # task 1 only
    learn_stream(copy.deepcopy(start), fresh, tasks[:1], {"epochs": 1, "batch_size": 16, "lr": 0.01, "momentum": 0.0},
                 torch.device("cpu"), lambda net, task: {}, 100)
    assert torch.allclose(fresh.ewc_data[1][name].data, expected) and (expected > 1e-3).sum() > 100
    assert torch.equal(fresh.ewc_data[0][name].data, end)
    assert moved[1.0] < 0.5 * moved[0.0]


def test_replay_keeps_the_same_images_per_task_as_fip():
    """Replay's buffer holds memory_per_task images of every task it has left (fixed quotas),
    like FIP's memory, instead of dividing one buffer over the tasks seen."""
    from baselines.avalanche_cl import METHODS, learn_stream

    tasks = two_class_tasks(3, 64)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 6))
    plugin = METHODS["replay"].plugin({}, 8, [{}, {}, {}])
    learn_stream(model, plugin, tasks, {"epochs": 1, "batch_size": 32, "lr": 0.1, "momentum": 0.0}, torch.device("cpu"),
                 lambda net, task: {}, 10)
    kept = [group.buffer for group in plugin.storage_policy.buffer_groups.values()]
    assert [len(images) for images in kept] == [8, 8, 8]
    assert [sorted({int(images[i][1]) for i in range(8)}) for images in kept] == [[0, 1], [2, 3], [4, 5]]


@pytest.mark.parametrize("method", ["fip", "ogd", "naive", "agem"])
def test_learn_tasks_walks_a_sequence_of_three_tasks(method):
    """Tasks 1 and 2 learned in turn from a network that knows task 0 (2 steps each): the
    curve counts steps over the sequence and says which task each record belongs to, the
    class-incremental argmax covers the tasks seen so far (avalanche's methods too); FIP
    and OGD record the output drift on their memory, which grows by 8 images per task."""
    from fipbench.continual import learn_tasks, task_accuracies

    g = torch.Generator().manual_seed(0)
    tasks = []
    for t in range(3):
        x = torch.randint(0, 256, (64, 28, 28), generator=g, dtype=torch.uint8)
        y = torch.arange(64) % 2 + 2 * t
        tasks.append({"name": f"t{t}", "classes": [2 * t, 2 * t + 1], "train": (x, y), "test": (x[:16], y[:16])})
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 6))
    settings = {"distance": "bhattacharyya", "beta": 1.0, "step": "optimizer", "step_length": 0.01, "memory_batch": 4}
    sgd = {"epochs": 1, "batch_size": 32, "lr": 0.1, "momentum": 0.0}
    seen_sizes = []

    def record(net, seen):
        seen_sizes.append(len(seen))
        return task_accuracies(net, seen, "test")
    settings = settings if method != "agem" else {"memory_batch": 4}
    timings = {}
    curve, steps = learn_tasks(model, method, settings, tasks, sgd, 8, "bhattacharyya", record, 1,
                               torch.Generator().manual_seed(1), torch.device("cpu"), timings=timings)
    records = [(e["task"], e["step"]) for e in curve]
    if method == "agem":  # avalanche's recorder takes no second record at a task's start
        assert steps == 4 and records == [(1, 0), (1, 1), (1, 2), (2, 3), (2, 4)] and seen_sizes == [2, 2, 2, 3, 3]
    else:
        assert steps == 4 and records == [(1, 0), (1, 1), (1, 2), (2, 2), (2, 3), (2, 4)]
        assert seen_sizes == [2, 2, 2, 3, 3, 3]
    assert len(timings["seconds_per_task"]) == 2
    assert ("memory_distance" in curve[-1]) == (method in ("fip", "ogd"))
    if method in ("fip", "ogd"):
        assert [e["memory_images"] for e in curve] == [8, 8, 8, 16, 16, 16]
    assert "t2_task_incremental" in curve[-1] and "t2_task_incremental" not in curve[0]


def test_ewc_skips_the_last_tasks_importances_and_learns_as_avalanches_plugin():
    """Three tasks: the importances of tasks 0 and 1 are computed, the last task's (which no
    later task uses) are not, and the network learned is the one avalanche's own EWCPlugin learns."""
    from avalanche.training.plugins import EWCPlugin

    from baselines.avalanche_cl import learn_stream
    from baselines.ewc import LastTaskFreeEWC

    tasks = two_class_tasks(3, 64)

    def learned(plugin):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 6))
        learn_stream(model, plugin, tasks, {"epochs": 1, "batch_size": 32, "lr": 0.1, "momentum": 0.9},
                     torch.device("cpu"), lambda net, task: {}, 10)
        return model.state_dict()
    skipping, stock = LastTaskFreeEWC(ewc_lambda=100.0, mode="separate"), EWCPlugin(ewc_lambda=100.0, mode="separate")
    ours, theirs = learned(skipping), learned(stock)
    assert sorted(skipping.importances) == [0, 1] and sorted(stock.importances) == [0, 1, 2]
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)


def test_gradient_clipping_keeps_a_stiff_ewc_penalty_finite():
    """EWC with a huge lambda at a learning rate its penalty's curvature cannot take diverges
    (the recorder stops on the non-finite loss); the same run with the gradient's norm
    clipped (clip_grad_norm, applied to every method's optimizer alike) stays finite."""
    from baselines.avalanche_cl import METHODS, learn_stream

    tasks = two_class_tasks(2, 256)

    def run(sgd):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 4))
        return learn_stream(model, METHODS["ewc"].plugin({"lambda": 1e9}, 8, [{}, {}]), tasks, sgd, torch.device("cpu"),
                            lambda net, task: {}, 1)[0]
    sgd = {"epochs": 2, "batch_size": 32, "lr": 0.1, "momentum": 0.9}
    with pytest.raises(FloatingPointError, match="non-finite loss"):
        run(sgd)
    records = run({**sgd, "clip_grad_norm": 1.0})
    assert all(math.isfinite(r["loss"]) for r in records[1:]) and len(records) == 17


def test_clipped_sgd_scales_the_whole_gradient_to_the_bound():
    from fipbench.train import recipe_optimizer

    weights = [torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(4))]
    optimizer = recipe_optimizer(weights, {"lr": 1.0, "momentum": 0.0, "clip_grad_norm": 1.0})
    weights[0].grad, weights[1].grad = torch.tensor([3.0, 0, 0]), torch.tensor([0, 4.0, 0, 0])  # norm 5
    optimizer.step()
    assert torch.allclose(torch.cat([w.detach() for w in weights]), torch.tensor([-0.6, 0, 0, 0, -0.8, 0, 0]))
    weights[0].grad, weights[1].grad = torch.tensor([0.3, 0, 0]), torch.zeros(4)  # under the bound: as it is
    optimizer.step()
    assert weights[0].detach()[0].item() == pytest.approx(-0.9)
