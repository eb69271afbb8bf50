"""Robustness study parts on constructed data: PGD stays in its epsilon-ball, ensembles
average softmax, ADP's loss, FGE's schedule, the FIP sampler and its reach walk, CKA and
coherence."""

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from baselines import adp, deepnet, fge
from fipbench import models
from fipbench.analysis import centred_gram, cka, coherence, input_gradients, representation_diversity
from fipbench.ensemble import Ensemble, perturbation_size, pgd
from fipbench.fip import EnsembleWalk, OutputDistance, sample_members
from fipbench.config import load
from fipbench.data.vision import to_input
from fipbench.studies import robustness
from fipbench.train import BatchStream, accuracy, run_steps, sgd_update, supervised_loss


def blobs(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 colour images [n, 8, 8, 3] of 3 classes told apart by which channel is bright."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 3, (n,), generator=generator)
    images = torch.randint(0, 100, (n, 8, 8, 3), generator=generator)
    images[torch.arange(n), :, :, labels] += 120
    return images.to(torch.uint8), labels


def small_cnn() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))


def trained(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = small_cnn()
    stream = BatchStream(*blobs(512, 0), 64, torch.Generator().manual_seed(seed))
    run_steps(model, 150, supervised_loss(stream), sgd_update(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)))
    return model.eval()


@pytest.mark.parametrize("norm,epsilon", [("linf", 8 / 255), ("l2", 0.5)])
def test_pgd_stays_in_its_ball_and_in_the_unit_range(norm, epsilon):
    model = trained(0)
    images, labels = blobs(200, 1)
    inputs = images.permute(0, 3, 1, 2).float() / 255
    attack = {"norm": norm, "step_fraction": 0.25, "steps": 10, "restarts": 2}
    adversarial = pgd(model, inputs, labels, attack, epsilon, seed=0, batch_size=64)
    assert adversarial.shape == inputs.shape
    assert perturbation_size(adversarial, inputs, norm).max() <= epsilon + 1e-6
    assert adversarial.min() >= 0 and adversarial.max() <= 1
    with torch.no_grad():  # the attack did something: the loss went up
        assert F.cross_entropy(model(adversarial), labels) > F.cross_entropy(model(inputs), labels)


def test_ensemble_averages_the_members_softmax():
    members = [trained(seed) for seed in (0, 1, 2)]
    x = blobs(16, 2)[0].permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        mean = torch.stack([F.softmax(m(x), 1) for m in members]).mean(0)
        assert torch.allclose(Ensemble(members)(x).exp(), mean, atol=1e-6)


def test_adp_loss_matches_a_hand_computation_and_rewards_diversity():
    labels = torch.tensor([0])
    alike = torch.tensor([[[2.0, 1.0, 0.0]], [[2.0, 1.0, 0.0]]])  # 2 members, 1 image, 3 classes
    diverse = torch.tensor([[[2.0, 1.0, 0.0]], [[2.0, 0.0, 1.0]]])
    loss, parts = adp.adp_loss(diverse, labels, alpha=2.0, beta=0.5)
    p = F.softmax(diverse[:, 0], 1)
    entropy = -(p.mean(0) * p.mean(0).log()).sum()
    u, v = p[0, 1:] / p[0, 1:].norm(), p[1, 1:] / p[1, 1:].norm()
    gram = torch.tensor([[u @ u, u @ v], [v @ u, v @ v]]) + adp.DET_OFFSET * torch.eye(2)
    expected = 2 * F.cross_entropy(diverse[0], labels) - 2.0 * entropy - 0.5 * torch.logdet(gram)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert parts["log_det"] > adp.adp_loss(alike, labels, 2.0, 0.5)[1]["log_det"] + 5  # alike: det ~ det_offset


def test_fge_learning_rate_is_lowest_mid_cycle_and_highest_at_its_ends():
    rates = [fge.cyclic_lr(step, 10, 0.05, 0.0005) for step in range(1, 21)]
    assert rates[4] == pytest.approx(0.0005) and rates[14] == pytest.approx(0.0005)  # steps 5 and 15
    assert rates[9] == pytest.approx(0.05) and rates[19] == pytest.approx(0.05)
    assert rates[:5] == sorted(rates[:5], reverse=True) and rates[5:10] == sorted(rates[5:10])


def test_deepnet_trials_are_disjoint_subsets_of_the_pool():
    trials = [deepnet.members_of_trial(list(range(15)), 5, t) for t in range(3)]
    assert all(len(set(t)) == 5 for t in trials) and len(set().union(*trials)) == 15
    with pytest.raises(ValueError, match="pool of at least 10"):
        deepnet.members_of_trial(list(range(6)), 5, 1)


def test_every_scale_has_a_pool_for_disjoint_trials():
    """No network in two trials of one method: DeepNet's trials take members x trials pool
    networks, and FIP's and FGE's trials start from pool networks 0..trials-1."""
    from fipbench.config import load
    for scale in ("smoke", "laptop", "paper"):
        settings = load({"scale": scale})["robustness"]
        trials = settings["trials"]
        assert settings["pool"] >= settings["members"] * trials["deepnet"], scale
        assert settings["pool"] >= max(trials["fip"], trials["fge"]), scale
        assert scale == "smoke" or min(trials.values()) >= 3, scale  # every method's sd over 3 trials at least


def test_fip_sampler_moves_the_weights_and_keeps_the_outputs():
    start = trained(0)
    images, labels = blobs(400, 3)
    probes = images.permute(0, 3, 1, 2).float() / 255
    walk = EnsembleWalk(relative_perturbation=0.05, descent_steps=30, lr=0.05, momentum=0.9, probe_batch=64, keep_every=2)
    states, cycles = sample_members(start, OutputDistance(start, probes), walk, 3, torch.Generator().manual_seed(0))
    assert len(states) == 3 and len(cycles) == 6
    assert cycles[-1]["weight_distance"] > cycles[0]["weight_distance"] > 0  # the walk goes on
    reference = start(probes).argmax(1)
    for state in states:
        member = small_cnn()
        member.load_state_dict(state)
        with torch.no_grad():
            agreement = (member.eval()(probes).argmax(1) == reference).float().mean().item()
        assert agreement > 0.95
    assert accuracy(start(probes), labels) > 90


def test_members_are_spread_evenly_over_the_whole_path():
    assert robustness.evenly_along([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 5) == [1, 3, 5, 7, 9]
    assert robustness.evenly_along([0.1, 0.2, 5.0, 5.1], 2) == [1, 3]  # nearest to half of the length, then the end
    assert robustness.evenly_along([1, 2, 3], 3) == [0, 1, 2]
    with pytest.raises(ValueError, match="3 members asked of a path of 2 points"):
        robustness.evenly_along([1, 2], 3)


@pytest.fixture(scope="module")
def blob_vgg(tmp_path_factory):
    """(task of 32 x 32 blobs, folder holding seed0/model.pt: a 1/16-width VGG16 trained on them)."""
    images, labels = blobs(600, 5)
    big = F.interpolate(images.permute(0, 3, 1, 2).float(), size=32).permute(0, 2, 3, 1).to(torch.uint8)
    task = {"train": (big[:400], labels[:400]), "val": (big[400:500], labels[400:500]),
            "test": (big[500:], labels[500:])}
    torch.manual_seed(0)
    network = models.build("vgg16", width=0.0625)
    stream = BatchStream(*task["train"], 64, torch.Generator().manual_seed(0))
    run_steps(network, 60, supervised_loss(stream), sgd_update(torch.optim.SGD(network.parameters(), lr=0.05,
                                                                             momentum=0.9)))
    networks = tmp_path_factory.mktemp("networks")
    (networks / "seed0").mkdir()
    torch.save(network.state_dict(), networks / "seed0" / "model.pt")
    return task, networks


def reach_start(blob_vgg, work=None) -> robustness.EnsembleStart:
    """Trial 0 of a 3-member FIP ensemble from blob_vgg's network, with large perturbations."""
    task, networks = blob_vgg
    settings = load({"scale": "smoke"})["robustness"]
    settings["fip"].update(probe_images=200, relative_perturbation=0.3, descent_steps=2,
                           reach={"accuracy_drop": 5.0, "max_cycles": 40, "record_every": 1})
    settings.update(bn_images=200, attack={**settings["attack"], "test_images": 100},
                    analysis={**settings["analysis"], "diversity_images": 50})
    transfer = {robustness.epsilon_key(settings["attack"]["headline_epsilon"]): to_input(task["test"][0])}
    return robustness.EnsembleStart(settings, task, networks, torch.device("cpu"), torch.Generator().manual_seed(0),
                                    0, 3, [0], transfer, work)


def test_reach_walk_goes_until_the_accuracy_drops_and_spreads_the_members_over_it(blob_vgg):
    """It stops at the first scored point whose validation accuracy is accuracy_drop below
    the start's (and not before `members` points), and the members span the whole reach,
    ending at its end."""
    states, extra, steps = robustness.METHODS["fip"](reach_start(blob_vgg))
    reach = extra["reach"]
    points = reach["points"]
    assert points[0]["val_accuracy"] > 80 and reach["stopped"] == "accuracy_drop"
    assert abs(points[0]["early_diversity"]) < 1e-9  # the start against itself, statistics re-estimated alike
    dropped = [p["cycle"] for p in points[1:] if p["val_accuracy"] <= points[0]["val_accuracy"] - 5.0]
    assert points[-1]["cycle"] == max(dropped[0], 3)  # the first drop, or the third point for 3 members
    assert len(states) == 3 and reach["member_cycles"][-1] == points[-1]["cycle"]
    assert reach["member_cycles"] == sorted(set(reach["member_cycles"]))
    lengths = [p["path_length"] for p in points]
    assert lengths == sorted(lengths) and lengths[0] == 0 and points[-1]["weight_distance"] <= lengths[-1]
    assert all(0 <= p["ensemble_transfer_accuracy"] <= 100 for p in points[1:]) and points[-1]["early_diversity"] > 0
    assert steps == points[-1]["cycle"] * 2


def test_a_reach_walk_cut_off_goes_on_from_its_last_point_on_the_same_path(blob_vgg, tmp_path, monkeypatch):
    whole, whole_extra, _ = robustness.METHODS["fip"](reach_start(blob_vgg))
    score, calls = robustness.ReachPoint.score, []

    def cut_off_at_the_fourth_point(self, *args):
        calls.append(args)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return score(self, *args)

    monkeypatch.setattr(robustness.ReachPoint, "score", cut_off_at_the_fourth_point)
    with pytest.raises(KeyboardInterrupt):
        robustness.METHODS["fip"](reach_start(blob_vgg, tmp_path))
    assert (tmp_path / "reach.pt").exists() and len(list(tmp_path.glob("reach_point*.pt"))) == 2
    cut = reach_start(blob_vgg, tmp_path)
    images = next(iter(cut.transfer.values()))
    elsewhere = robustness.ReachProgress(tmp_path, cut.settings, models.build("vgg16", width=0.0625), images)
    assert elsewhere.load(torch.device("cpu")) is None  # progress from another start network is not resumed
    monkeypatch.setattr(robustness.ReachPoint, "score", score)
    states, extra, _ = robustness.METHODS["fip"](reach_start(blob_vgg, tmp_path))
    assert extra == whole_extra
    assert all(torch.equal(a[k], b[k]) for a, b in zip(states, whole) for k in a)
    assert not list(tmp_path.glob("reach*"))  # the walk's progress is removed when it is done


def test_a_reach_walk_in_parts_gives_the_walk_of_one_go(blob_vgg, tmp_path):
    """Parts of 2 cycles, each from a fresh start as in a new job, then the last part: the
    same members and reach as one uninterrupted walk."""
    whole, whole_extra, whole_steps = robustness.METHODS["fip"](reach_start(blob_vgg))
    for until in (2, 4):
        progress = robustness.walk_reach(reach_start(blob_vgg, tmp_path), until=until)[0]
        assert len(progress["cycles"]) == until and len(progress["points"]) == until + 1
    states, extra, steps = robustness.METHODS["fip"](reach_start(blob_vgg, tmp_path))
    assert extra == whole_extra and steps == whole_steps and len(extra["cycles"]) > 4
    assert all(torch.equal(a[k], b[k]) for a, b in zip(states, whole) for k in a)


def test_calibrated_strength_interpolates_where_the_accuracy_crosses_the_target():
    assert robustness.crossing([1, 2, 4, 8], [80, 60, 30, 10], 37) == pytest.approx(2 + 23 / 30 * 2)
    assert robustness.crossing([1, 2], [60, 37], 37) == 2
    assert robustness.crossing([1, 2, 4], [30, 20, 10], 37) is None  # below the target at every strength
    assert robustness.crossing([1, 2, 4], [90, 80, 70], 37) is None  # never falls to it


def test_cka_is_one_up_to_rotation_and_scale_and_low_for_unrelated_features():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(200, 20, generator=generator)
    rotation, _ = torch.linalg.qr(torch.randn(20, 20, generator=generator))
    assert cka(centred_gram(x), centred_gram(3 * x @ rotation)) == pytest.approx(1.0, abs=1e-9)
    assert cka(centred_gram(x), centred_gram(torch.randn(200, 20, generator=generator))) < 0.2


def test_diversity_is_zero_for_copies_and_coherence_one_with_itself():
    model = models.build("vgg16", width=0.0625)
    images, labels = blobs(40, 4)
    big = F.interpolate(images.permute(0, 3, 1, 2).float(), size=32).permute(0, 2, 3, 1).to(torch.uint8)
    diversity = representation_diversity([model, model], big)
    assert len(diversity) == 14 and max(abs(d) for d in diversity) < 1e-9  # 13 conv ReLUs + the classifier's
    assert coherence(model, model, big, labels) == pytest.approx([1.0] * 40, abs=1e-5)
    assert torch.allclose(input_gradients(model, big, labels, batch_size=7), input_gradients(model, big, labels), atol=1e-6)
    other = models.build("vgg16", width=0.0625)
    assert min(representation_diversity([model, other], big)) > 0


def test_vgg16_weight_counts():
    assert sum(p.numel() for p in models.build("vgg16").parameters()) == 14_986_698
    assert sum(p.numel() for p in models.build("vgg16", width=0.25).parameters()) == 939_642
    assert models.build("vgg16", width=0.25)(torch.rand(2, 3, 32, 32)).shape == (2, 10)
