"""The BERT study's pieces on the packaged BERT-tiny and on constructed data: fixed and
random masking, the masked-LM output distance through the engine, what is prunable,
the orders' comparison, the families' ranks and the graph layout."""

import copy
import math

import numpy as np
import pytest
import torch

from fipbench.data.text import fixed_masking, random_masking
from fipbench.fip import OutputDistance, SparseProjectionObjective
from fipbench.models.bert import PACKAGED, MaskedLMView, TextModel, load_masked_lm, load_tokenizer, locate
from fipbench.pruning import measured_sparsity, project, prunable
from fipbench.report.bert import graph_layout
from fipbench.studies.bert import compare_orders, family_ranks, fill_mask, order_preference

MASK = 103


@pytest.fixture(scope="module")
def tiny():
    """(tokenizer, TextModel) of the packaged BERT-tiny with a seeded 4-way head."""
    tokenizer, mlm = load_tokenizer(PACKAGED), load_masked_lm(PACKAGED)
    torch.manual_seed(0)
    return tokenizer, TextModel(mlm, 4, tokenizer.mask_token_id).eval()


def chunks(n: int, length: int) -> torch.Tensor:
    """[CLS] body [SEP] rows of random word-piece ids [n, length]."""
    generator = torch.Generator().manual_seed(1)
    body = torch.randint(1000, 29000, (n, length - 2), generator=generator)
    return torch.cat([torch.full((n, 1), 101), body, torch.full((n, 1), 102)], dim=1)


def test_fixed_masking_masks_the_same_count_of_inner_tokens_in_every_row():
    ids = chunks(5, 22)
    masked, targets = fixed_masking(ids, 0.15, MASK, torch.Generator().manual_seed(0))
    assert targets.shape == (5, 3)  # round(0.15 * 20)
    assert ((masked == MASK).sum(1) == 3).all()
    assert (masked[:, 0] == 101).all() and (masked[:, -1] == 102).all()
    assert torch.equal(ids[masked == MASK].reshape(5, 3), targets)
    again, _ = fixed_masking(ids, 0.15, MASK, torch.Generator().manual_seed(0))
    assert torch.equal(masked, again)


def test_random_masking_never_masks_cls_sep_or_padding():
    ids = chunks(64, 12)
    ids[:, 8:] = 0
    ids[:, 7] = 102  # rows of 6 tokens between [CLS] and [SEP], then padding
    masked, targets = random_masking(ids, 0.5, MASK, torch.Generator().manual_seed(0))
    chosen = masked == MASK
    assert not chosen[:, 0].any() and not chosen[:, 7:].any()
    assert torch.equal(ids[chosen], targets) and 0 < len(targets) < 64 * 6


def test_packaged_model_is_found_without_importing_its_package():
    import sys
    folder = locate(PACKAGED)
    assert folder.endswith("cognition/model") and "cognition" not in sys.modules
    assert locate("bert-base-uncased") == "bert-base-uncased"


def test_masked_lm_distance_is_zero_at_the_reference_and_grows_away_from_it(tiny):
    tokenizer, model = tiny
    probes, _ = fixed_masking(chunks(4, 22), 0.15, tokenizer.mask_token_id, torch.Generator().manual_seed(0))
    view = MaskedLMView(model)
    distance = OutputDistance(view, probes)
    assert distance.reference.shape == (4, 3, tokenizer.vocab_size)  # only the masked positions' distributions
    top = OutputDistance(view, probes, top_k=5)  # the reference's top 5 words of each distribution and the rest
    assert top.reference.shape == (4, 3, 6) and top.words.shape == (4, 3, 5)
    assert top.nbytes == 4 * 3 * (6 * 4 + 5 * 8) < distance.nbytes
    with torch.no_grad():
        assert distance(view).item() == pytest.approx(0.0, abs=1e-6)
        assert top(view).item() == pytest.approx(0.0, abs=1e-6)
        moved = TextModel(copy.deepcopy(model.mlm), 4, tokenizer.mask_token_id)
        moved.load_state_dict(model.state_dict())
        for weight in prunable(moved).values():
            weight.add_(0.05 * torch.randn_like(weight))
        full, coarse = distance(MaskedLMView(moved)).item(), top(MaskedLMView(moved)).item()
        assert full > 1e-3 and 0 < coarse <= full  # coarse-graining can only lower the distance


def test_only_the_encoders_weight_matrices_are_prunable_and_projection_is_exact(tiny):
    _, model = tiny
    weights = prunable(model)
    assert len(weights) == 12 and sum(w.numel() for w in weights.values()) == 393_216  # 2 layers x (4 x 128^2 + 2 x 128 x 512)
    assert all(".encoder.layer." in name for name in weights) and prunable(MaskedLMView(model)).keys() == weights.keys()
    pruned = TextModel(copy.deepcopy(model.mlm), 4, MASK)
    pruned.load_state_dict(model.state_dict())
    assert SparseProjectionObjective(50)(pruned).item() > 0
    project(pruned, 50)
    assert measured_sparsity(pruned)["sparsity"] == 50.0
    assert SparseProjectionObjective(50)(pruned).item() == 0.0


def test_fill_mask_gives_three_words_with_probabilities(tiny):
    tokenizer, model = tiny
    table = fill_mask(model, tokenizer, ["the capital of france is [MASK] ."])
    top = table[0]["top"]
    assert len(top) == 3 and all(isinstance(word, str) for word, _ in top)
    assert top[0][1] >= top[1][1] >= top[2][1] > 0


def test_orders_compare_end_points_against_the_distance_moved():
    yelp, a, b = torch.zeros(3), torch.tensor([3.0, 4.0, 0.0]), torch.tensor([3.0, 4.0, 1.0])
    ends = {"yelp/4": ("yelp", None), "cl_co/2": ("cl_co", 20), "co_cl20/7": ("co_cl", 20)}
    node = {"imdb_task_incremental": 80.0, "yelp_class_incremental": 90.0, "sparsity": 20.0}
    weights = {"yelp/4": (yelp, node), "cl_co/2": (a, node), "co_cl20/7": (b, {**node, "imdb_task_incremental": 77.0})}
    row = compare_orders(ends, weights)["20"]
    assert row["distance"] == pytest.approx(1.0) and row["moved_cl_co"] == pytest.approx(5.0)
    assert row["separation"] == pytest.approx(1.0 / np.sqrt(26.0)) and row["imdb_difference"] == pytest.approx(3.0)


def test_family_ranks_order_families_by_their_best_node():
    nodes = [{"family": "CL", "p": 30.0}, {"family": "CL", "p": 5.0}, {"family": "base", "p": 10.0},
             {"family": "sparse", "p": 7.0}]
    assert family_ranks(nodes, "p") == {"CL": 1, "sparse": 2, "base": 3}


def test_graph_layout_of_a_path_keeps_its_edge_lengths():
    ids = ["a", "b", "c", "d"]
    edges = [{"from": "a", "to": "b", "length": 1.0}, {"from": "b", "to": "c", "length": 2.0},
             {"from": "c", "to": "d", "length": 0.5}]
    xy = graph_layout(ids, edges)
    gaps = np.linalg.norm(np.diff(xy, axis=0), axis=1)
    assert gaps == pytest.approx([1.0, 2.0, 0.5], abs=1e-6)


def test_order_preference_compares_only_the_two_order_families():
    nodes = [{"family": "base", "p": 1.0}, {"family": "CL-then-Co", "p": 20.0}, {"family": "CL-then-Co", "p": 10.0},
             {"family": "Co-then-CL", "p": 40.0}]
    preference = order_preference(nodes, "p")  # base's 1.0 would win a rank over all families
    assert preference["CL-then-Co"] == pytest.approx(math.log(4.0)) and preference["Co-then-CL"] == pytest.approx(
        -math.log(4.0))
