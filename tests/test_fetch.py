"""Building a mirror from the data sets' public sources (fipbench/data/fetch.py): the
builders reproduce the reference mirror byte for byte from its sources' layout, and a
whole fetch runs against a local HTTP server on 127.0.0.1 serving small archives in the
real formats; the mirror it lays out is read by the suite's loaders."""

import dataclasses
import functools
import gzip
import hashlib
import http.server
import io
import json
import pickle
import tarfile
import threading

import numpy as np
import pytest
import torch

from fipbench.data.fetch import BUILDERS, MIRROR_FILES, REFERENCE_SHA256, fetch_mirror
from fipbench.data.mirror import DataError, expected_checksums


def records(mirror, name):
    return [json.loads(line) for line in gzip.decompress((mirror / name).read_bytes()).decode("utf-8").split("\n")[:-1]]


def tar_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def imdb_archive(reviews: list[dict]) -> bytes:
    """aclImdb_v1.tar.gz's layout: aclImdb/<split>/<pos|neg>/<id>_<rating>.txt."""
    return tar_bytes({f"aclImdb/{r['split']}/{'pos' if r['label'] else 'neg'}/{r['id']}_{r['rating']}.txt":
                      r["text"].encode("utf-8") for r in reviews} | {"aclImdb/train/unsup/0_0.txt": b"unlabelled"})


def yelp_sources(rows: list[dict]) -> list[bytes]:
    """The five source files (sentiment.{dev,test}.{0,1}, TextFooler's yelp) of the records."""
    def lines(source, split, label=None, prefix=False):
        chosen = sorted((r for r in rows if r["source"] == source and r["split"] == split
                         and (label is None or r["label"] == label)), key=lambda r: r["line"])
        return "".join((f"{r['label']} " if prefix else "") + r["text"] + "\n" for r in chosen).encode("utf-8")
    return [*(lines("style-transfer-sentences", split, label) for split in ("dev", "test") for label in (0, 1)),
            lines("polarity-reviews", "test", prefix=True)]


@pytest.mark.parametrize("path", ["text/imdb.jsonl.gz", "text/yelp.jsonl.gz", "text/wikitext2-raw-test.txt.gz",
                                  "text/wikitext2-tokens-valid.txt.gz"])
def test_builders_reproduce_the_reference_mirror_from_its_sources(mirror, path):
    """Each text file rebuilt from its sources' layout (recovered from the reference mirror,
    whose SOURCES.md says they rebuild byte for byte) has the reference's sha256."""
    if path == "text/imdb.jsonl.gz":
        built = BUILDERS["imdb"](imdb_archive(records(mirror, path)))
    elif path == "text/yelp.jsonl.gz":
        built = BUILDERS["yelp"](*yelp_sources(records(mirror, path)))
    else:
        built = BUILDERS["gzip"](gzip.decompress((mirror / path).read_bytes()))
    assert hashlib.sha256(built).hexdigest() == REFERENCE_SHA256[path] == expected_checksums(mirror)[path]


def idx_gz(array: np.ndarray) -> bytes:
    """An MNIST IDX file (uint8 data, big-endian header), gzip-compressed."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def fake_sources(rng) -> dict[str, bytes]:
    """Small files in the real formats, by the path of their URL."""
    files = {}
    for location in ("mnist/", "fashion/"):
        for split, n in (("train", 12), ("t10k", 6)):
            files[f"{location}{split}-images-idx3-ubyte.gz"] = idx_gz(rng.integers(0, 256, (n, 28, 28)))
            files[f"{location}{split}-labels-idx1-ubyte.gz"] = idx_gz(rng.integers(0, 10, (n,)))
    batch = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch[name] = {"data": rng.integers(0, 256, (4, 3072)).astype(np.uint8), "labels": list(rng.integers(0, 10, 4))}
    meta = {"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]}
    files["cifar-10-python.tar.gz"] = tar_bytes({f"cifar-10-batches-py/{name}": pickle.dumps(content)
                                                 for name, content in {**batch, "batches.meta": meta}.items()})
    reviews = [{"split": split, "label": label, "rating": 8 if label else 2, "id": i, "text": f"review {split} {label} {i}"}
               for split in ("train", "test") for label in (0, 1) for i in range(3)]
    files["aclImdb_v1.tar.gz"] = imdb_archive(reviews)
    for split in ("dev", "test"):
        for label in (0, 1):
            files[f"sentiment.{split}.{label}"] = f"a {split} sentence {label}\nanother one\n".encode()
    files["yelp"] = b"0 bad food .\n1 great place !\n"
    files["wiki.test.raw"] = b" = Valkyria = \r\n the game began .\r\n"
    files["valid.txt"] = b" = Homarus = \n \n the lobster is big .\n"
    return files


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """A local HTTP server on 127.0.0.1 over tmp_path/served; yields its base URL."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(QuietHandler, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def local_entries(base: str, files: dict[str, bytes]) -> list:
    """MIRROR_FILES with every source pointed at the local server (the last part of its URL
    path, plus its folder for the torchvision archives) and the checksums of the fakes."""
    entries = []
    for entry in MIRROR_FILES:
        names = [("mnist/" if "/mnist/" in url else "fashion/" if "fashion" in url else "") + url.rsplit("/", 1)[1]
                 for url in entry.sources]
        built = BUILDERS[entry.build](*([files[names[0]]] if entry.build == "copy" else [files[n] for n in names]))
        entries.append(dataclasses.replace(
            entry, sources=tuple(f"{base}/{name}" for name in names),
            sha256=hashlib.sha256(built).hexdigest() if entry.sha256 else None,
            md5=hashlib.md5(built).hexdigest() if entry.md5 else None))
    return entries


def test_fetch_lays_out_a_mirror_the_loaders_read(server, tmp_path, monkeypatch):
    served, base = server
    files = fake_sources(np.random.default_rng(0))
    for name, data in files.items():
        (served / name).parent.mkdir(parents=True, exist_ok=True)
        (served / name).write_bytes(data)
    out = tmp_path / "mirror"
    checksums = fetch_mirror(out, local_entries(base, files))
    assert expected_checksums(out) == checksums and len(checksums) == len(MIRROR_FILES)
    assert "aclImdb_v1.tar.gz" in (out / "SOURCES.md").read_text()

    from fipbench.data.text import mirror_text, read_lines, read_records
    from fipbench.data.vision import load_raw
    monkeypatch.setenv("FIPBENCH_DATA_MIRROR", str(out))
    mnist, source = load_raw("mnist", tmp_path / "raw")
    assert source["kind"] == "mirror" and mnist["train"][0].shape == (12, 28, 28)
    cifar, source = load_raw("cifar10", tmp_path / "raw")
    assert cifar["train"][0].shape == (20, 32, 32, 3) and "note" not in source  # the lossless archive
    expected = pickle.loads(tarfile.open(fileobj=io.BytesIO(files["cifar-10-python.tar.gz"])).extractfile(
        "cifar-10-batches-py/test_batch").read())
    assert torch.equal(cifar["test"][0], torch.from_numpy(expected["data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)))
    imdb = read_records(mirror_text("imdb")[0])
    assert len(imdb) == 12 and imdb[0] == {"split": "test", "label": 0, "rating": 2, "id": 0, "text": "review test 0 0"}
    yelp = read_records(mirror_text("yelp")[0])
    assert yelp[0] == {"source": "polarity-reviews", "split": "test", "label": 0, "line": 0, "text": "bad food ."}
    assert read_lines(mirror_text("wikitext_test")[0]) == ["= Valkyria =", "the game began ."]

    again = fetch_mirror(out, local_entries(base, files))  # files that pass are kept, not fetched again
    assert again == checksums


def test_a_source_that_does_not_match_writes_nothing_for_it(server, tmp_path):
    served, base = server
    files = fake_sources(np.random.default_rng(0))
    entries = local_entries(base, files)
    files["valid.txt"] = b"changed upstream\n"
    for name, data in files.items():
        (served / name).parent.mkdir(parents=True, exist_ok=True)
        (served / name).write_bytes(data)
    with pytest.raises(DataError, match="text/wikitext2-tokens-valid.txt.gz made from .* does not have the sha256"):
        fetch_mirror(tmp_path / "mirror", entries)
    assert not (tmp_path / "mirror" / "text" / "wikitext2-tokens-valid.txt.gz").exists()
    assert not (tmp_path / "mirror" / "SHA256SUMS").exists()
