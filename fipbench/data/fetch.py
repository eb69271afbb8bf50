"""Build a data mirror laid out like shared/data from the data sets' public sources
(`fipbench fetch-data --out DIR`): for a machine with a network and no mirror, and for a
lab preparing an offline mirror for its cluster.

Every file is checked before it is kept: MNIST and Fashion-MNIST are the publishers'
byte-identical archives, checked against the sha256 of the reference mirror's copies;
CIFAR-10 is the original python archive, checked against the md5 torchvision lists for it
(the loader prefers it to the mirror's lossy JPEG copy); the text files are built from
their sources (record order, JSON and gzip settings as SOURCES.md states) and checked
against the sha256 of the reference mirror's files. A file is written through a temporary
name, so an interrupted fetch leaves no half file; SHA256SUMS and SOURCES.md come last."""

import gzip
import hashlib
import io
import json
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import torchvision

from fipbench.data.mirror import DataError
from fipbench.records import write_bytes_atomic

GITHUB = "https://raw.githubusercontent.com"
STYLE_TRANSFER = f"{GITHUB}/shentianxiao/language-style-transfer/f078a9d342705ea62b04dd3ac5926d3467c2ac63/data/yelp"
POLARITY = f"{GITHUB}/jind11/TextFooler/6a56cb10f1055e00a8fbc6882f289e91cfe60f4e/data/yelp"
WIKITEXT_RAW = f"{GITHUB}/Tylogi/TyloQuant/7989d038b13ca737da11a95fb90e77ae059f33c0/data/wikitext-2-raw/wiki.test.raw"
WIKITEXT_TOKENS = (f"{GITHUB}/pytorch/examples/77f55b912142e11fcfdf5b530231fb9c52f181e8/"
                   "word_language_model/data/wikitext-2/valid.txt")
IMDB = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"


@dataclass(frozen=True)
class MirrorFile:
    """One file of the mirror: its path there, the URLs it is made from, how (a key of
    BUILDERS), and the checksum that decides whether it is kept: sha256 of the built file,
    or, where that is not known, md5 of the one download (its publisher's)."""
    path: str
    sources: tuple[str, ...]
    build: str
    sha256: str | None = None
    md5: str | None = None
    how: str = ""


def _gzip(data: bytes) -> bytes:
    """data as one gzip stream the way the reference mirror wrote its text (Python's
    GzipFile, level 9, header mtime 0, no file name): the same bytes on every machine."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=buffer, mtime=0) as out:
        out.write(data)
    return buffer.getvalue()


def _jsonl(records: list[dict]) -> bytes:
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records).encode()


def imdb_records(archive: bytes) -> list[dict]:
    """The labelled reviews of aclImdb_v1.tar.gz: {split, label (0 neg, 1 pos), rating, id,
    text}, sorted by (split, label, id); the unlabelled train/unsup part is left out."""
    records = []
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar:
            parts = member.name.split("/")
            if not member.isfile() or len(parts) != 4 or parts[2] not in ("pos", "neg"):
                continue
            review, rating = Path(parts[3]).stem.split("_")
            records.append({"split": parts[1], "label": int(parts[2] == "pos"), "rating": int(rating),
                            "id": int(review), "text": tar.extractfile(member).read().decode("utf-8")})
    return sorted(records, key=lambda r: (r["split"], r["label"], r["id"]))


def yelp_records(dev0: bytes, dev1: bytes, test0: bytes, test1: bytes, polarity: bytes) -> list[dict]:
    """The style-transfer sentences (one per line, label from the file's suffix) and the
    1,000 polarity reviews (`<label> <text>` per line) as {source, split, label, line,
    text}, sorted by (source, split, label, line)."""
    records = []
    for split, label, data in (("dev", 0, dev0), ("dev", 1, dev1), ("test", 0, test0), ("test", 1, test1)):
        records += [{"source": "style-transfer-sentences", "split": split, "label": label, "line": i, "text": text}
                    for i, text in enumerate(data.decode("utf-8").split("\n")[:-1])]
    for i, row in enumerate(polarity.decode("utf-8").split("\n")[:-1]):
        label, text = row.split(" ", 1)
        records.append({"source": "polarity-reviews", "split": "test", "label": int(label), "line": i, "text": text})
    return sorted(records, key=lambda r: (r["source"], r["split"], r["label"], r["line"]))


BUILDERS = {  # name -> function of the downloads' bytes (in source order) -> the mirror file's bytes
    "copy": lambda data: data,
    "gzip": _gzip,
    "imdb": lambda archive: _gzip(_jsonl(imdb_records(archive))),
    "yelp": lambda *files: _gzip(_jsonl(yelp_records(*files))),
}


# sha256 of the reference mirror's files (shared/data/SHA256SUMS) that a fetch must reproduce
REFERENCE_SHA256 = {
    "MNIST/raw/train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "MNIST/raw/train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "MNIST/raw/t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "MNIST/raw/t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    "FashionMNIST/raw/train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "FashionMNIST/raw/train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "FashionMNIST/raw/t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "FashionMNIST/raw/t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    "text/imdb.jsonl.gz": "5c83d8b1f68387ec791ffd505b0cb41ec822f0c6241578e6ca5fb794f1f0d05d",
    "text/yelp.jsonl.gz": "255acde5f5bb1120b1d7b600cc7a06176e03bc0c6c7d2a8d7abb96446e44150a",
    "text/wikitext2-raw-test.txt.gz": "ccf4ed67f5e3cd9888c7bb42cbcffd1144792817dca3234574df7fb13b3d1c04",
    "text/wikitext2-tokens-valid.txt.gz": "3cdd8cb5bb349a05840c7c3bef9578d90d64df77e27e0c25c033ba9342757ee3",
}


def _torchvision_files(cls, location: str) -> list[MirrorFile]:
    return [MirrorFile(f"{location}/raw/{name}", tuple(mirror + name for mirror in cls.mirrors), "copy",
                       sha256=REFERENCE_SHA256[f"{location}/raw/{name}"],
                       how=f"{cls.__name__}'s archive as published (torchvision's mirrors, tried in order)")
            for name, _ in cls.resources]


def _text_file(path: str, sources: tuple[str, ...], build: str, how: str) -> MirrorFile:
    return MirrorFile(path, sources, build, sha256=REFERENCE_SHA256[path], how=how)


CIFAR10 = torchvision.datasets.CIFAR10
MIRROR_FILES = [
    *_torchvision_files(torchvision.datasets.MNIST, "MNIST"),
    *_torchvision_files(torchvision.datasets.FashionMNIST, "FashionMNIST"),
    MirrorFile(CIFAR10.filename, (CIFAR10.url,), "copy", md5=CIFAR10.tgz_md5,
               how="the original python archive (lossless), checked against torchvision's md5"),
    _text_file("text/imdb.jsonl.gz", (IMDB,), "imdb",
               "the labelled reviews of aclImdb_v1.tar.gz as JSON lines (fipbench.data.fetch.imdb_records), gzip"),
    _text_file("text/yelp.jsonl.gz", tuple(f"{STYLE_TRANSFER}/sentiment.{split}.{label}" for split in ("dev", "test")
                                           for label in (0, 1)) + (POLARITY,), "yelp",
               "the style-transfer dev and test sentences and TextFooler's 1,000 polarity reviews as JSON lines "
               "(fipbench.data.fetch.yelp_records), gzip"),
    _text_file("text/wikitext2-raw-test.txt.gz", (WIKITEXT_RAW,), "gzip", "the file as published, gzip"),
    _text_file("text/wikitext2-tokens-valid.txt.gz", (WIKITEXT_TOKENS,), "gzip", "the file as published, gzip"),
]


def download(url: str, timeout: float = 60.0) -> bytes:
    """The bytes at url (DataError naming it when it cannot be had)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.read()
    except OSError as error:
        raise DataError(f"cannot download {url}: {error}") from error


def fetch_file(entry: MirrorFile, out: Path) -> str:
    """Make out/entry.path from its sources and check it (module docstring); returns its
    sha256. A file already there that passes the check is kept. A torchvision archive is
    taken from the first of its mirrors that answers."""
    target = out / entry.path
    if target.is_file() and _passes(entry, target.read_bytes()):
        return hashlib.sha256(target.read_bytes()).hexdigest()
    if entry.build == "copy" and len(entry.sources) > 1:  # mirrors of one file
        errors = []
        for url in entry.sources:
            try:
                data = download(url)
                break
            except DataError as error:
                errors.append(str(error))
        else:
            raise DataError("; ".join(errors))
    else:
        data = BUILDERS[entry.build](*(download(url) for url in entry.sources))
    if not _passes(entry, data):
        wanted = f"sha256 {entry.sha256}" if entry.sha256 else f"md5 {entry.md5}"
        raise DataError(f"{entry.path} made from {', '.join(entry.sources)} does not have the {wanted} it must "
                        f"have (sha256 {hashlib.sha256(data).hexdigest()}); nothing was written for it")
    write_bytes_atomic(target, data)
    return hashlib.sha256(data).hexdigest()


def _passes(entry: MirrorFile, data: bytes) -> bool:
    if entry.sha256:
        return hashlib.sha256(data).hexdigest() == entry.sha256
    return hashlib.md5(data).hexdigest() == entry.md5


def fetch_mirror(out: Path, files: list[MirrorFile] = MIRROR_FILES) -> dict[str, str]:
    """Lay out a mirror in out: every file of `files` fetched and checked (fetch_file),
    then SHA256SUMS over them and SOURCES.md saying where each came from and how it was
    made. Returns {path: sha256}."""
    out = Path(out)
    checksums = {}
    for entry in files:
        print(f"fetching {entry.path}", flush=True)
        checksums[entry.path] = fetch_file(entry, out)
    write_bytes_atomic(out / "SHA256SUMS", "".join(f"{digest}  {path}\n" for path, digest in sorted(checksums.items())).encode())
    lines = ["# Data mirror made by `fipbench fetch-data`", "",
             "Every file is listed in SHA256SUMS. Each was made from the sources named here and kept only "
             "after its checksum matched (fipbench/data/fetch.py).", "",
             "| file | sources | how | checked against |", "|---|---|---|---|"]
    for entry in files:
        check = f"sha256 {entry.sha256}" if entry.sha256 else f"md5 {entry.md5}"
        lines.append(f"| {entry.path} | {'<br>'.join(entry.sources)} | {entry.how} | {check} |")
    write_bytes_atomic(out / "SOURCES.md", ("\n".join(lines) + "\n").encode())
    return checksums
