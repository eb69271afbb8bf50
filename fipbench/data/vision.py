"""Image datasets through torchvision's classes (CIFAR-10 from the mirror's JPEG archive,
CIFAR-100 from the mirror when it holds it), from the mirror or by download, prepared once
per scale into one tensor file: uint8 images [N, H, W] or [N, H, W, C] and int64 labels [N]."""

import io
import shutil
import zipfile
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image

from fipbench.data.mirror import MIRROR_ENV, DataError, copy_verified, expected_checksums, mirror_root, verified_files

DATASETS = {  # name -> (torchvision class, its file or folder in the mirror)
    "mnist": (torchvision.datasets.MNIST, "MNIST"),
    "fashion_mnist": (torchvision.datasets.FashionMNIST, "FashionMNIST"),
    "cifar10": (torchvision.datasets.CIFAR10, "cifar10-jpeg.zip"),
    "cifar100": (torchvision.datasets.CIFAR100, "cifar-100-python"),  # or a cifar100-*.zip archive
}

# CIFAR-10's label order (its batches.meta, which torchvision's CIFAR10.classes reads)
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def load_raw(name: str, raw_root: Path) -> tuple[dict, dict]:
    """Load the full train and test splits of dataset `name`.

    With FIPBENCH_DATA_MIRROR set, the mirror's files are verified against its SHA256SUMS
    first: MNIST and Fashion-MNIST are copied into raw_root (the mirror stays read-only)
    and read by torchvision; CIFAR-10 is read from the original python archive when the
    mirror lists it (a mirror made by `fipbench fetch-data`), else decoded from the
    mirror's JPEG archive; CIFAR-100
    is read from the mirror when it holds it (mirror_cifar100). Otherwise torchvision
    downloads into raw_root. Returns ({split: (images uint8 [N, 28, 28] or [N, 32, 32, 3],
    labels int64 [N])}, source)."""
    cls, location = DATASETS[name]
    mirror = mirror_root()
    found = mirror_cifar100(mirror) if name == "cifar100" and mirror is not None else None
    if found is not None:
        return found
    if mirror is not None and name == "cifar10" and cls.filename in expected_checksums(mirror):
        checksums = verified_files(mirror, cls.filename)  # the original archive (fipbench fetch-data lays it out)
        source = {"kind": "mirror", "files": checksums}
        copy_verified(mirror / cls.filename, raw_root / cls.filename, checksums[cls.filename])
        shutil.rmtree(raw_root / cls.base_folder, ignore_errors=True)  # unpacked anew, never trusted
        torchvision.datasets.utils.extract_archive(str(raw_root / cls.filename), str(raw_root))
        cls = MirroredCIFAR10
    elif mirror is not None and name != "cifar100":
        checksums = verified_files(mirror, location)
        source = {"kind": "mirror", "files": checksums}
        if name == "cifar10":
            source["note"] = "JPEG copy of CIFAR-10: lossy, pixels differ slightly from the original"
            return cifar10_from_jpeg_zip(mirror / location), source
        unpack_verified(cls, mirror, location, checksums, raw_root)
    else:
        source = {"kind": "download", "files": {}}
    try:
        splits = {split: cls(str(raw_root), train=(split == "train"), download=mirror is None)
                  for split in ("train", "test")}
    except Exception as error:  # torchvision raises RuntimeError/URLError variants offline
        provide = (f"{location}/ (torchvision's CIFAR-100 files) or a cifar100-<anything>.zip archive of "
                   "<train|test>/<class name>/<image> (like cifar10-jpeg.zip), listed in its SHA256SUMS"
                   if name == "cifar100" else f"{location} as in its SOURCES.md, plus SHA256SUMS")
        raise DataError(
            f"cannot obtain {name}: {error}. Set {MIRROR_ENV} to a folder laid out like "
            f"shared/data ({provide}; `python -m fipbench fetch-data --out DIR` makes one from the public "
            "sources), or allow torchvision to download it") from error
    return {split: (torch.as_tensor(ds.data).clone(), torch.as_tensor(ds.targets).clone())
            for split, ds in splits.items()}, source


def unpack_verified(cls, mirror: Path, location: str, checksums: dict, raw_root: Path) -> None:
    """Lay out the verified mirror files of a torchvision MNIST-like dataset `cls` under
    raw_root the way cls reads them: each archive it needs copied (copy_verified: a damaged
    copy is replaced) and unpacked anew, so that an unpacked file is never trusted from an
    earlier run. DataError when SHA256SUMS does not list an archive cls needs (torchvision
    would otherwise download it unchecked)."""
    needed = [f"{location}/raw/{Path(url).name}" for url, _ in cls.resources]
    unlisted = [name for name in needed if name not in checksums]
    if unlisted:
        raise DataError(f"{mirror}/SHA256SUMS does not list {', '.join(unlisted)}, which {cls.__name__} reads")
    for relative in needed:
        archive = raw_root / relative
        copy_verified(mirror / relative, archive, checksums[relative])
        unpacked = archive.with_suffix("")
        unpacked.unlink(missing_ok=True)
        torchvision.datasets.utils.extract_archive(str(archive), str(archive.parent))


class MirroredCIFAR10(torchvision.datasets.CIFAR10):
    """torchvision's CIFAR-10 reader on batches unpacked from an archive fipbench has
    verified against the mirror's SHA256SUMS (so torchvision's own md5 list is not consulted)."""
    train_list = [[f"data_batch_{i}", None] for i in range(1, 6)]
    test_list = [["test_batch", None]]
    meta = {"filename": "batches.meta", "key": "label_names", "md5": None}


class MirroredCIFAR100(torchvision.datasets.CIFAR100):
    """torchvision's CIFAR-100 reader on a folder whose files fipbench has verified against
    the mirror's SHA256SUMS (so torchvision's own md5 list is not consulted)."""
    train_list = [["train", None]]
    test_list = [["test", None]]
    meta = {"filename": "meta", "key": "fine_label_names", "md5": None}


def mirror_cifar100(mirror: Path) -> tuple[dict, dict] | None:
    """(splits, source) of CIFAR-100 from the mirror: its `cifar-100-python/` folder
    (torchvision's format), else its first `cifar100-*.zip` image-folder archive (classes
    numbered in alphabetical order of their folder names, which is CIFAR-100's own fine-label
    order); None when the mirror holds neither. Verified against SHA256SUMS first."""
    listed = expected_checksums(mirror)
    if any(name.startswith("cifar-100-python/") for name in listed):
        files = verified_files(mirror, "cifar-100-python")
        splits = {split: MirroredCIFAR100(str(mirror), train=(split == "train")) for split in ("train", "test")}
        return ({split: (torch.as_tensor(ds.data).clone(), torch.as_tensor(ds.targets).clone())
                 for split, ds in splits.items()}, {"kind": "mirror", "files": files})
    archives = sorted(name for name in listed if name.startswith("cifar100-") and name.endswith(".zip"))
    if archives:
        files = verified_files(mirror, archives[0])
        return images_from_zip(mirror / archives[0], None), {"kind": "mirror", "files": files}
    return None


def cifar10_from_jpeg_zip(path: Path) -> dict:
    """{split: (images uint8 [N, 32, 32, 3], labels int64 [N])} from the mirror's CIFAR-10
    archive, classes numbered in torchvision's CIFAR10 order."""
    return images_from_zip(path, CIFAR10_CLASSES)


def images_from_zip(path: Path, class_names: list[str] | None) -> dict:
    """{split: (images uint8 [N, H, W, 3], labels int64 [N])} from an archive holding
    `<train|test>/<class name>/<image>`; classes numbered in the order of class_names, or
    alphabetically when None."""
    with zipfile.ZipFile(path) as archive:
        members = sorted(n for n in archive.namelist() if n.lower().endswith((".jpg", ".jpeg", ".png")))
        names = class_names or sorted({member.split("/")[1] for member in members})
        classes = {c: i for i, c in enumerate(names)}
        images, labels = {"train": [], "test": []}, {"train": [], "test": []}
        for member in members:
            split, label, _ = member.split("/")
            with Image.open(io.BytesIO(archive.read(member))) as image:
                images[split].append(np.asarray(image.convert("RGB")))
            labels[split].append(classes[label])
    return {split: (torch.from_numpy(np.stack(images[split])), torch.tensor(labels[split]))
            for split in ("train", "test")}


def prepare(name: str, out: Path, raw_root: Path, n_train: int | None, n_val: int,
            n_test: int | None, subset_seed: int) -> None:
    """Write out (a .pt file) with train/val/test tensors of dataset `name`.

    val is the first n_val images of a seeded permutation of the training split and is
    never trained on; train is the next n_train (all the rest when None); test is the
    first n_test of a seeded permutation of the test split (all when None)."""
    data, source = load_raw(name, raw_root)
    generator = torch.Generator().manual_seed(subset_seed)
    train_x, train_y = data["train"]
    order = torch.randperm(len(train_y), generator=generator)
    val_idx = order[:n_val]
    train_idx = order[n_val:] if n_train is None else order[n_val:n_val + n_train]
    test_x, test_y = data["test"]
    test_idx = torch.randperm(len(test_y), generator=generator)[: n_test or len(test_y)]
    prepared = {
        "train": (train_x[train_idx], train_y[train_idx]),
        "val": (train_x[val_idx], train_y[val_idx]),
        "test": (test_x[test_idx], test_y[test_idx]),
        "source": source,
        "name": name,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    torch.save(prepared, tmp)
    tmp.replace(out)


def load_prepared(path: Path) -> dict:
    """Read a file written by prepare(): {"train"|"val"|"test": (x uint8, y int64), "source", "name"}."""
    return torch.load(path, weights_only=False)


def load_splits(path: Path, device: torch.device) -> tuple[dict, dict]:
    """({"train"|"val"|"test": (x uint8, y int64) on device}, data source for provenance)
    of a file written by prepare()."""
    prepared = load_prepared(path)
    return {split: tuple(t.to(device) for t in prepared[split]) for split in ("train", "val", "test")}, \
        prepared["source"]


def random_crop_flip(images: torch.Tensor, generator: torch.Generator, padding: int = 4) -> torch.Tensor:
    """The standard CIFAR augmentation on uint8 images [B, H, W] or [B, H, W, C], on their
    device: each image padded with `padding` zero pixels per side, cropped back to H x W at
    a random offset and flipped left-right with probability 1/2 (draws from generator, a
    CPU generator). Returns uint8 images of the input's shape."""
    b, h, w = images.shape[:3]
    offsets = torch.randint(0, 2 * padding + 1, (2, b), generator=generator).to(images.device)
    flips = (torch.rand(b, generator=generator) < 0.5).to(images.device)
    padded = torch.nn.functional.pad(images.unsqueeze(-1) if images.dim() == 3 else images,
                                     (0, 0, padding, padding, padding, padding))
    rows = offsets[0, :, None] + torch.arange(h, device=images.device)  # [B, H]
    cols = offsets[1, :, None] + torch.arange(w, device=images.device)  # [B, W]
    cols = torch.where(flips[:, None], cols.flip(1), cols)
    cropped = padded[torch.arange(b, device=images.device)[:, None, None], rows[:, :, None], cols[:, None, :]]
    return cropped.squeeze(-1) if images.dim() == 3 else cropped


def to_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 images [N, H, W] or [N, H, W, C] -> float inputs [N, C, H, W] in [0, 1]."""
    channels_first = images.unsqueeze(1) if images.dim() == 3 else images.permute(0, 3, 1, 2)
    return channels_first.float().div_(255.0)
