"""Text of the BERT study, read from the mirror's text/ folder after SHA256SUMS verification
and tokenized once per scale into one tensor file (prepare_text).

Sequences are token ids [N, T] (int64) with [CLS] first, [SEP] last and the pad id 0 after
it. Masked-language samples carry a fixed masking: exactly m = round(rate * (T - 2)) of the
T - 2 inner positions of every row replaced by [MASK], chosen with a seeded generator, and
the replaced ids as targets [N, m], so every model is scored on the same masked tokens."""

import gzip
import json
from pathlib import Path

import torch

from fipbench.data.mirror import DataError, mirror_root, verified_files

TEXT_FILES = {"imdb": "text/imdb.jsonl.gz", "yelp": "text/yelp.jsonl.gz",
              "wikitext_test": "text/wikitext2-raw-test.txt.gz", "wikitext_valid": "text/wikitext2-tokens-valid.txt.gz"}


def mirror_text(key: str) -> tuple[Path, dict]:
    """(path, {relative path: sha256}) of the verified mirror file TEXT_FILES[key]."""
    root = mirror_root()
    if root is None:
        raise DataError("the BERT study reads IMDB, Yelp and WikiText-2 from the data mirror: set "
                        "FIPBENCH_DATA_MIRROR to a folder laid out like shared/data (text/*.gz and SHA256SUMS), "
                        "or make one from the public sources: python -m fipbench fetch-data --out DIR")
    return root / TEXT_FILES[key], verified_files(root, TEXT_FILES[key])


def read_records(path: Path) -> list[dict]:
    """The JSON objects of a gzipped JSONL file, in order."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def read_lines(path: Path) -> list[str]:
    """The non-blank lines of a gzipped text file, stripped."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [line.strip() for line in handle if line.strip()]


def encode(tokenizer, texts: list[str], length: int) -> torch.Tensor:
    """Token ids [N, length] of texts, truncated to length (with [CLS] and [SEP]), padded with 0."""
    ids = tokenizer(texts, truncation=True, max_length=length, padding="max_length")["input_ids"]
    return torch.tensor(ids, dtype=torch.int64)


def token_chunks(tokenizer, lines: list[str], length: int) -> torch.Tensor:
    """The lines' tokens concatenated and cut into consecutive rows [N, length] of
    length - 2 tokens between [CLS] and [SEP] (the remainder is dropped)."""
    tokens = [t for ids in tokenizer(lines, add_special_tokens=False)["input_ids"] for t in ids]
    inner = length - 2
    body = torch.tensor(tokens[:len(tokens) // inner * inner], dtype=torch.int64).reshape(-1, inner)
    cls = torch.full((len(body), 1), tokenizer.cls_token_id)
    sep = torch.full((len(body), 1), tokenizer.sep_token_id)
    return torch.cat([cls, body, sep], dim=1)


def fixed_masking(ids: torch.Tensor, rate: float, mask_id: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(masked ids [N, T], targets [N, m]): m = max(1, round(rate * (T - 2))) inner positions
    per row set to mask_id (rows without padding), targets the original ids in position order."""
    inner = ids.shape[1] - 2
    m = max(1, round(rate * inner))
    positions = torch.stack([torch.randperm(inner, generator=generator)[:m].sort().values + 1 for _ in range(len(ids))])
    targets = ids.gather(1, positions)
    return ids.scatter(1, positions, mask_id), targets


def random_masking(ids: torch.Tensor, rate: float, mask_id: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(masked ids [N, T], targets [K]) for MLM training: each inner non-pad position is
    masked with probability rate (at least one per batch); targets in row-major order."""
    candidates = ids != 0
    candidates[:, 0] = False
    candidates[torch.arange(len(ids)), candidates.sum(1)] = False  # the [SEP] after the last token
    chosen = candidates & (torch.rand(ids.shape, generator=generator) < rate)
    if not chosen.any():
        chosen[0, 1] = True
    return ids.masked_fill(chosen, mask_id), ids[chosen]


def balanced(labels: list[int], n: int, generator: torch.Generator) -> torch.Tensor:
    """Indices of n // 2 items of label 0 and n // 2 of label 1 drawn at random, shuffled."""
    labels = torch.tensor(labels)
    chosen = []
    for label in (0, 1):
        pool = (labels == label).nonzero().flatten()
        if len(pool) < n // 2:
            raise DataError(f"asked for {n // 2} texts of label {label}, only {len(pool)} exist")
        chosen.append(pool[torch.randperm(len(pool), generator=generator)[:n // 2]])
    index = torch.cat(chosen)
    return index[torch.randperm(len(index), generator=generator)]


def labelled(records: list[dict], n: int, length: int, tokenizer, generator: torch.Generator) -> tuple:
    """(ids [n, length], labels [n]) of a balanced random sample of records (text, label)."""
    index = balanced([r["label"] for r in records], n, generator).tolist()
    texts = [records[i]["text"].replace("<br />", " ") for i in index]
    return encode(tokenizer, texts, length), torch.tensor([records[i]["label"] for i in index])


def masked_sample(chunks: torch.Tensor, n: int, rate: float, mask_id: int, generator: torch.Generator) -> dict:
    """{"ids": masked [n, T], "targets": [n, m]} of n rows of chunks drawn with the generator, in order."""
    rows = torch.randperm(len(chunks), generator=generator)[:n].sort().values
    ids, targets = fixed_masking(chunks[rows], rate, mask_id, generator)
    return {"ids": ids, "targets": targets}


def prepare_text(text: dict, model_name: str, out: Path) -> None:
    """Tokenize the study's text with the model's tokenizer and save one tensor file.

    text: the config's bert.text (lengths, sample sizes, mask_rate, sample_seed). Written:
    yelp / imdb {"train" | "test": (ids, labels 0/1)} (Yelp: style-transfer sentences, dev
    split for training, test split for testing; IMDB: its train and test splits, <br />
    tags removed); "mlm_train" (WikiText-2 valid chunks for the base model's re-adaptation)
    and "probes" (a held-out tail of those chunks, fixed masking: Co's probe set);
    "wikitext" and "imdb_query" (fixed-masked samples of WikiText-2 raw test and of IMDB
    test reviews: the masked-token evaluation and the perplexity queries); "sources"."""
    from fipbench.models.bert import load_tokenizer
    tokenizer = load_tokenizer(model_name)
    generator = torch.Generator().manual_seed(text["sample_seed"])
    mask_id, length, rate = tokenizer.mask_token_id, text["mlm_length"], text["mask_rate"]
    sources, data = {}, {"mask_id": mask_id}
    paths = {}
    for key in TEXT_FILES:
        paths[key], listed = mirror_text(key)
        sources.update(listed)
    yelp = [r for r in read_records(paths["yelp"]) if r["source"] == "style-transfer-sentences"]
    imdb = read_records(paths["imdb"])
    for name, records, train_split, n_train, seq in (("yelp", yelp, "dev", text["yelp_train"], text["yelp_length"]),
                                                     ("imdb", imdb, "train", text["imdb_train"], text["imdb_length"])):
        data[name] = {
            "train": labelled([r for r in records if r["split"] == train_split], n_train, seq, tokenizer, generator),
            "test": labelled([r for r in records if r["split"] == "test"], text[f"{name}_test"], seq, tokenizer,
                             generator)}
    # WikiText-2 valid for re-adaptation; its "<unk>" placeholders become the tokenizer's unknown token
    valid = token_chunks(tokenizer, [line.replace("<unk>", tokenizer.unk_token)
                                     for line in read_lines(paths["wikitext_valid"])], length)
    held = text["probes"]
    data["mlm_train"] = valid[:len(valid) - held]
    data["probes"] = fixed_masking(valid[len(valid) - held:], rate, mask_id, generator)[0]
    data["wikitext"] = masked_sample(token_chunks(tokenizer, read_lines(paths["wikitext_test"]), length),
                                     text["query_sequences"], rate, mask_id, generator)
    queried = [r["text"].replace("<br />", " ") for r in imdb if r["split"] == "test"]
    reviews = torch.randperm(len(queried), generator=generator)[:text["query_reviews"]].tolist()
    data["imdb_query"] = masked_sample(token_chunks(tokenizer, [queried[i] for i in reviews], length),
                                       text["query_sequences"], rate, mask_id, generator)
    data["sources"] = sources
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(data, out)
    print(f"text prepared: yelp {len(data['yelp']['train'][1])}/{len(data['yelp']['test'][1])}, "
          f"imdb {len(data['imdb']['train'][1])}/{len(data['imdb']['test'][1])}, mlm_train {len(data['mlm_train'])} "
          f"x {length}, probes {len(data['probes'])}, wikitext {len(data['wikitext']['ids'])}, "
          f"imdb_query {len(data['imdb_query']['ids'])} sequences", flush=True)
