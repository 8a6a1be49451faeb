"""Datasets, samplers and loaders.

Workers read with :func:`maskgen.images.read_image`, augment with torchvision's PIL transforms
and hand over ``uint8`` CHW tensors; conversion to float and normalisation happen on the device
(:class:`maskgen_trainer.loop.Normalizer`), so a batch crosses to the GPU at a quarter of the
float size and the CPU workers do the least. Each process (one, or several under torchrun) takes
its share of every epoch through :class:`torch.utils.data.DistributedSampler`.
"""
from __future__ import annotations

import csv
import functools
import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset
from torchvision import transforms as T

from maskgen.dataset.manifest import read_settings
from maskgen.images import ImageReadError, read_image

from .errors import TrainerError
from .photos import class_folders, image_folder_samples

_TORCH_THREADS = torch.get_num_threads()  # torch's default (one per core, or OMP_NUM_THREADS)


class ImageList(Dataset):
    """``(path, target)`` samples read with maskgen's reader, transformed, returned as uint8 CHW tensors.

    ``outputs`` names what the model scores when it is trained on subclasses (``--subclasses``:
    ``incorrect_mask/chin``...), ``class_of`` the class of each; the samples' targets are then
    subclass indices, and :attr:`targets` still the class of each sample (samplers, weights, metrics)."""

    def __init__(self, samples: list[tuple[str, int]], classes: list[str], transform=None,
                 outputs: list[str] | None = None, class_of: list[int] | None = None):
        self.samples = samples
        self.classes = classes
        self.outputs = list(outputs) if outputs is not None else list(classes)
        self.class_of = None if class_of is None else list(class_of)
        self.output_targets = [t for _, t in samples]
        self.targets = self.output_targets if class_of is None else [self.class_of[t] for t in self.output_targets]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def load(self, index: int) -> Image.Image:
        try:
            return Image.fromarray(read_image(self.samples[index][0]))
        except ImageReadError as exc:
            raise TrainerError(str(exc)) from None

    def __getitem__(self, index: int):
        image = self.load(index)
        if self.transform is not None:
            image = self.transform(image)
        return pil_to_uint8(image), self.samples[index][1]


def pil_to_uint8(image: Image.Image) -> torch.Tensor:
    """PIL RGB -> uint8 tensor (3, H, W) without a float round trip."""
    array = np.asarray(image, dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()


class RandomLowResolution(torch.nn.Module):
    """With probability ``p``, shrink to a random side in [min_side, size] and enlarge back.

    Real face crops are often small (CCTV, group photos: 30-60 px faces); this teaches the
    model what such faces look like after upscaling.
    """

    def __init__(self, p: float = 0.3, min_side: int = 24):
        super().__init__()
        self.p = p
        self.min_side = min_side

    def forward(self, image: Image.Image) -> Image.Image:
        if torch.rand(()) >= self.p:
            return image
        w, h = image.size
        low = min(self.min_side, w)
        side = int(torch.randint(low, max(low + 1, w), ()))
        small = image.resize((side, max(1, round(h * side / w))), Image.BILINEAR)
        return small.resize((w, h), Image.BILINEAR)


TRAIN_CROP_SCALE = (0.8, 1.0)  # share of a training crop's area that RandomResizedCrop keeps
TRAIN_CROP_RATIO = (0.9, 1.1)  # and the aspect ratios of its windows


@functools.lru_cache(maxsize=None)
def train_zoom(augment: str) -> float:
    """How large, on average, the window of a training crop that training shows is: the mean of
    ``sqrt(width * height)`` of RandomResizedCrop's windows, as shares of the crop's side.

    The window is resized to the full input, so training shows faces ``1 / zoom`` times as large as
    the crop holds them. Validation (:func:`eval_transform`) and prediction (the margin a checkpoint
    stores) cut faces with a window of that size, so they show faces at the size training taught
    (the train-test discrepancy of Touvron et al., "Fixing the train-test resolution discrepancy",
    2019). Measured by drawing 20,000 of torchvision's own windows from a fixed seed (windows that do
    not fit are redrawn there, which favours smaller ones: 0.937, where ``E[sqrt(s)]`` of the
    area share alone would give 0.948); the global random state is left as it was."""
    if augment == "none":
        return 1.0
    image = torch.zeros(1, 1000, 1000)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        windows = [T.RandomResizedCrop.get_params(image, TRAIN_CROP_SCALE, TRAIN_CROP_RATIO) for _ in range(20000)]
    sides = [np.sqrt(h * w) for _, _, h, w in windows]
    return float(np.mean(sides)) / 1000.0


class CentralWindow(torch.nn.Module):
    """The centred window of ``share`` of the image's width and height (PIL in, PIL out)."""

    def __init__(self, share: float):
        super().__init__()
        self.share = float(share)

    def forward(self, image: Image.Image) -> Image.Image:
        if self.share >= 1.0:
            return image
        w, h = image.size
        cw, ch = max(1, round(w * self.share)), max(1, round(h * self.share))
        x0, y0 = (w - cw) // 2, (h - ch) // 2
        return image.crop((x0, y0, x0 + cw, y0 + ch))


def train_transform(size: int, augment: str = "default"):
    """Augmentation for training crops. The crops already vary in framing (the dataset samples
    margins around the face), so geometric changes stay mild."""
    if augment == "none":
        return T.Resize((size, size), antialias=True)
    steps = [
        T.RandomResizedCrop(size, scale=TRAIN_CROP_SCALE, ratio=TRAIN_CROP_RATIO, antialias=True),
        T.RandomHorizontalFlip(),
    ]
    if augment == "default":
        steps += [
            T.RandomApply([T.ColorJitter(0.3, 0.3, 0.3, 0.03)], p=0.8),
            T.RandomGrayscale(p=0.05),
            RandomLowResolution(p=0.3, min_side=max(16, size // 6)),
        ]
    else:  # light
        steps += [T.RandomApply([T.ColorJitter(0.15, 0.15, 0.15)], p=0.5)]
    return T.Compose(steps)


def eval_transform(size: int, augment: str = "default"):
    """Validation crops as prediction cuts faces: the centred window of :func:`train_zoom` of the crop
    (the face as large as training showed it), resized to a square."""
    return T.Compose([CentralWindow(train_zoom(augment)), T.Resize((size, size), antialias=True)])


def find_dataset_classes(root: Path) -> list[str]:
    """Classes of a generated dataset: the label folders of its train and val splits."""
    root = Path(root)
    if not root.is_dir():
        raise TrainerError(f"dataset {root} is not a folder")
    train = root / "train"
    if not train.is_dir():
        inside = ", ".join(sorted(d.name for d in root.iterdir() if d.is_dir())[:6]) or "nothing"
        raise TrainerError(
            f"{root} has no train/ folder (found: {inside}); expected the layout written by "
            f"`maskgen augment SRC OUT`: OUT/train/<label>/..., OUT/val/<label>/...")
    classes = sorted(set(class_folders(train)) | set(class_folders(root / "val")))
    if len(classes) < 2:
        raise TrainerError(f"{train} must hold images of at least 2 labels, found {classes or 'none'}")
    return classes


def build_datasets(root: Path, image_size: int, augment: str = "default", subclasses: str | None = None):
    """Train and val :class:`ImageList` of a generated dataset (``root/{train,val}/<label>/...``); with
    ``subclasses``, each class split by that column of the dataset's ``metadata.csv``."""
    root = Path(root)
    classes = find_dataset_classes(root)
    train_samples = image_folder_samples(root / "train", classes)
    if not (root / "val").is_dir():
        raise TrainerError(f"{root} has no val/ folder: generate the dataset with a validation split")
    val_samples = image_folder_samples(root / "val", classes)
    outputs = class_of = None
    if subclasses:
        train_samples, val_samples, outputs, class_of = split_into_subclasses(
            root, subclasses, classes, train_samples, val_samples)
    train = ImageList(train_samples, classes, train_transform(image_size, augment), outputs, class_of)
    counts = class_counts(train.targets, len(classes))
    if (counts == 0).any():
        raise TrainerError(f"no training images for {', '.join(c for c, n in zip(classes, counts) if n == 0)}")
    val = ImageList(val_samples, classes, eval_transform(image_size, augment), outputs, class_of)
    if len(val) == 0:
        raise TrainerError(f"{root / 'val'} holds no images")
    return train, val


def split_into_subclasses(root: Path, column: str, classes: list[str], train_samples, val_samples):
    """Samples relabelled with subclasses ``<class>/<value of column>`` read from ``root/metadata.csv``
    (a file without a value: ``<class>/-``); returns them, the subclass names (sorted by class, then
    value) and the class of each. Every subclass must have training images."""
    path = root / "metadata.csv"
    if not path.is_file():
        raise TrainerError(f"--subclasses {column}: {path} not found (written by `maskgen augment`)")
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        if column not in (reader.fieldnames or []):
            raise TrainerError(f"--subclasses {column}: {path} has no such column "
                               f"(it has {', '.join(reader.fieldnames or [])})")
        values = {os.path.normpath(root / row["file_name"]): (row[column] or "").strip() or "-" for row in reader}

    def name(path: str, target: int) -> str:
        return f"{classes[target]}/{values.get(os.path.normpath(path), '-')}"

    train_names = [name(p, t) for p, t in train_samples]
    val_names = [name(p, t) for p, t in val_samples]
    outputs = sorted(set(train_names), key=lambda n: (classes.index(n.split("/", 1)[0]), n))
    unseen = sorted(set(val_names) - set(outputs))
    if unseen:
        raise TrainerError(f"--subclasses {column}: no training images for {', '.join(unseen)} (validation has some)")
    index = {n: i for i, n in enumerate(outputs)}
    class_of = [classes.index(n.split("/", 1)[0]) for n in outputs]
    return ([(p, index[n]) for (p, _), n in zip(train_samples, train_names)],
            [(p, index[n]) for (p, _), n in zip(val_samples, val_names)], outputs, class_of)


def dataset_crop_drop(root) -> float:
    """How far down maskgen centred the dataset's face crops (``crop_drop`` in its ``settings.json``; 0
    for datasets without one, or cut otherwise)."""
    try:
        config = (read_settings(root) or {}).get("config", {})
    except (OSError, ValueError, AttributeError):
        return 0.0
    return float(config.get("crop_drop") or 0.0) if config.get("crop") == "face" else 0.0


def class_counts(targets, num_classes: int) -> np.ndarray:
    return np.bincount(np.asarray(targets, dtype=np.int64), minlength=num_classes)


def class_weights(targets, num_classes: int, class_of: list[int] | None = None) -> torch.Tensor:
    """Inverse-frequency weights, mean 1 over the classes present; with ``class_of`` (subclasses), one
    per subclass, its class's: every image weighs what it would without subclasses."""
    counts = class_counts(targets, num_classes).astype(np.float64)
    weights = np.where(counts > 0, counts.sum() / (np.maximum(counts, 1) * (counts > 0).sum()), 0.0)
    if class_of is not None:
        weights = weights[np.asarray(class_of, dtype=np.int64)]
    return torch.tensor(weights, dtype=torch.float32)


class BalancedSampler(DistributedSampler):
    """Balanced classes: each epoch draws as many indices as the dataset has, with replacement and
    with probability inverse to the size of their class. The draw is seeded like
    :class:`~torch.utils.data.DistributedSampler`'s shuffle (seed + epoch, the same on every
    process) and sharded like it (each process takes every ``world_size``-th index)."""

    def __init__(self, targets, num_classes: int, rank: int = 0, world_size: int = 1, seed: int = 0):
        super().__init__(targets, num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
        counts = class_counts(targets, num_classes)
        self.weights = torch.as_tensor(1.0 / counts[np.asarray(targets)], dtype=torch.double)

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        drawn = torch.multinomial(self.weights, self.total_size, replacement=True, generator=g).tolist()
        return iter(drawn[self.rank:self.total_size:self.num_replicas])


def train_sampler(balance: str, targets, num_classes: int, rank: int = 0, world_size: int = 1,
                  seed: int = 0) -> DistributedSampler:
    """This process's share of each training epoch (call ``set_epoch`` before each): a seeded
    shuffle (:class:`~torch.utils.data.DistributedSampler`, padded so every process gets as many),
    or with ``balance="sampler"`` a :class:`BalancedSampler`."""
    if balance == "sampler":
        return BalancedSampler(targets, num_classes, rank, world_size, seed)
    return DistributedSampler(targets, num_replicas=world_size, rank=rank, shuffle=True, seed=seed)


def default_workers(device_type: str) -> int:
    """Loader processes: on CUDA enough to feed the GPU; on CPU none. There the loader is 30-60 times
    faster than ResNet-50 (``benchmarks/bench_train.py``), so reading in the training process costs a few
    per cent of a step, while a worker process would keep a whole core from computing: on 2 cores,
    0 workers and 2 compute threads trained 1.8 times as fast as 1 worker and 1 thread."""
    if device_type != "cuda":
        return 0
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(2, min(16, cpus - 1))


def cpu_threads(workers: int) -> int:
    """Compute threads when training on the CPU: torch's default (one per core) less the cores
    the loader workers need. OpenMP threads that share cores with other busy processes wait on
    each other, and a step then takes several times longer."""
    return max(1, _TORCH_THREADS - workers)


def _worker_init(worker_id: int) -> None:
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def make_loader(dataset, batch_size: int, sampler=None, workers: int = 0, pin_memory: bool = False,
                drop_last: bool = False, seed: int = 0) -> DataLoader:
    kwargs = {}
    if workers > 0:
        kwargs.update(persistent_workers=True, prefetch_factor=4, worker_init_fn=_worker_init)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=workers,
                      pin_memory=pin_memory, drop_last=drop_last,
                      generator=torch.Generator().manual_seed(seed), **kwargs)


@dataclass
class Loaders:
    """The datasets and loaders of a training run, this process's share of each."""

    train_set: ImageList
    val_set: ImageList
    sampler: DistributedSampler
    train: DataLoader
    val: DataLoader
    val_indices: list[int]


def build_loaders(config, rank: int, world_size: int, workers: int, pin_memory: bool, start_epoch: int = 1) -> Loaders:
    """Training and validation loaders of ``config.dataset`` for process ``rank`` of ``world_size``."""
    train_set, val_set = build_datasets(config.dataset, config.image_size, config.augment, config.subclasses)
    sampler = train_sampler(config.balance, train_set.targets, len(train_set.classes), rank, world_size, config.seed)
    # a last batch of one would break batch norm in training mode
    drop_last = len(sampler) % config.batch_size == 1 or len(sampler) >= 4 * config.batch_size
    train = make_loader(train_set, config.batch_size, sampler, workers, pin_memory=pin_memory, drop_last=drop_last,
                        seed=config.seed * 1000 + rank + start_epoch)
    if len(train) == 0:
        raise TrainerError("the training set is smaller than one batch; lower --batch-size")
    val_indices = list(range(rank, len(val_set), world_size))
    val = make_loader(Subset(val_set, val_indices), config.batch_size * 2, None, workers, pin_memory=pin_memory,
                      seed=config.seed)
    return Loaders(train_set, val_set, sampler, train, val, val_indices)
