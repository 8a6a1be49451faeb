"""Is data loading the bottleneck? Training images/s next to the bare model's.

Measures, at the same input size, batch size and device settings:

1. bare:     forward + backward + optimizer step on a batch already on the device (the ceiling);
2. loader:   the training DataLoader alone (decode + augment in worker processes);
3. training: the trainer's own loop (``maskgen_trainer.loop.train_one_epoch``) fed by that DataLoader.

and prints training / bare (the goal: at least 85%). Without DATASET it writes a toy dataset of
face crops (``tests/toydata.py``) at ``--source-size`` px, like ``maskgen augment --crop face``.

    python benchmarks/bench_train.py                       # toy data, CPU or CUDA
    python benchmarks/bench_train.py data/masked --image-size 224 --batch-size 64 --workers 8
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"  # the toy dataset helper lives there


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", nargs="?", help="generated dataset (DATASET/train/<label>/...); default: toy data")
    ap.add_argument("--image-size", type=int, default=None, help="default: 224 on CUDA, 128 on CPU")
    ap.add_argument("--batch-size", type=int, default=None, help="default: 128 on CUDA, 16 on CPU")
    ap.add_argument("--steps", type=int, default=None, help="timed batches (default: 50 on CUDA, 6 on CPU)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed batches first (default: 10 CUDA, 2 CPU)")
    ap.add_argument("--workers", type=int, default=None, help="default: the trainer's default")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None)
    ap.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: the trainer's)")
    ap.add_argument("--augment", default="default", choices=["default", "light", "none"])
    ap.add_argument("--source-size", type=int, default=256, help="side of the toy dataset's stored crops")
    ap.add_argument("--toy-images", type=int, default=96, help="toy dataset images per class")
    ap.add_argument("--rounds", type=int, default=3, help="alternating measurement rounds; the best counts")
    ap.add_argument("--json", help="also write the figures to this JSON file")
    args = ap.parse_args(argv)

    import torch
    from torch import nn

    from maskgen_trainer.data import build_datasets, cpu_threads, default_workers, make_loader
    from maskgen_trainer.distributed import choose_device
    from maskgen_trainer.loop import Normalizer, autocast_for, train_one_epoch
    from maskgen_trainer.model import IMAGENET_MEAN, IMAGENET_STD, build_model

    device = choose_device(args.device)
    cuda = device.type == "cuda"
    size = args.image_size or (224 if cuda else 128)
    bs = args.batch_size or (128 if cuda else 16)
    steps = args.steps or (50 if cuda else 6)
    warmup = args.warmup if args.warmup is not None else (10 if cuda else 2)
    workers = default_workers(device.type) if args.workers is None else args.workers
    if args.threads:
        torch.set_num_threads(args.threads)
    elif not cuda:
        torch.set_num_threads(cpu_threads(workers))  # the trainer's own default
    amp = cuda if args.amp is None else args.amp
    channels_last = cuda if args.channels_last is None else args.channels_last
    if cuda:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    tmp = None
    dataset = args.dataset
    if dataset is None:
        sys.path.insert(0, str(TESTS))
        try:
            from toydata import make_toy_dataset
        finally:
            sys.path.remove(str(TESTS))
        tmp = tempfile.TemporaryDirectory(prefix="bench_train_")
        dataset = make_toy_dataset(tmp.name, per_class={"train": args.toy_images, "val": 2},
                                   size=args.source_size, seed=0)
    train_set, _ = build_datasets(dataset, size, args.augment)
    n_classes = len(train_set.classes)

    def fresh_model():
        torch.manual_seed(0)
        model = build_model(n_classes, 0.2)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        model.to(device).train()
        return model, torch.optim.AdamW(model.parameters(), lr=1e-4)

    normalize = Normalizer(IMAGENET_MEAN, IMAGENET_STD, device, channels_last)
    autocast, amp_dtype = autocast_for(device, amp)
    scaler = torch.amp.GradScaler("cuda") if amp and amp_dtype == torch.float16 else None
    criterion = nn.CrossEntropyLoss()

    def sync():
        if cuda:
            torch.cuda.synchronize(device)

    # 1. bare model: the same step on one batch already on the device
    model, optimizer = fresh_model()
    images = torch.randint(0, 256, (bs, 3, size, size), dtype=torch.uint8, device=device)
    targets = torch.randint(0, n_classes, (bs,), device=device)
    batch = [(images, targets)]

    def time_bare() -> float:
        sync()
        t = time.perf_counter()
        train_one_epoch(model, criterion, optimizer, batch * steps, normalize, None, scaler, autocast)
        sync()
        return steps * bs / (time.perf_counter() - t)

    # 2. the real loader alone, 3. the trainer's loop fed by it (same model: same warm state)
    sampler = torch.utils.data.RandomSampler(train_set, replacement=True, num_samples=10**8,
                                             generator=torch.Generator().manual_seed(0))
    loader = make_loader(train_set, bs, sampler, workers, pin_memory=cuda, drop_last=True)
    it = iter(loader)

    prefetched = workers * 4  # make_loader's prefetch_factor: batches ready before timing starts

    def time_loader() -> float:
        for _ in range(prefetched):  # drain the queue filled while the model ran
            next(it)
        n = max(steps, 2 * prefetched, 8)
        t = time.perf_counter()
        for _ in range(n):
            next(it)
        return n * bs / (time.perf_counter() - t)

    def time_training() -> tuple[float, float]:
        sync()
        stats = train_one_epoch(model, criterion, optimizer, itertools.islice(it, steps), normalize, None,
                                scaler, autocast)
        return stats["images"] / stats["time"], stats["data_wait"] / stats["time"]

    train_one_epoch(model, criterion, optimizer, batch * warmup, normalize, None, scaler, autocast)
    train_one_epoch(model, criterion, optimizer, itertools.islice(it, warmup), normalize, None, scaler, autocast)
    # alternate the measurements so that a busy machine slows both alike; report the best round
    bares, loaders, trainings, waits = [], [], [], []
    for _ in range(args.rounds):
        bares.append(time_bare())
        loaders.append(time_loader())
        rate, wait = time_training()
        trainings.append(rate)
        waits.append(wait)
    del it
    bare, loader_only, training = max(bares), max(loaders), max(trainings)
    data_wait = waits[trainings.index(training)]

    result = {
        "device": torch.cuda.get_device_name(device) if cuda else f"cpu ({platform.processor() or platform.machine()})",
        "torch_threads": torch.get_num_threads(), "cpus": os.cpu_count(), "workers": workers,
        "image_size": size, "batch_size": bs, "steps": steps, "amp": bool(amp), "amp_dtype": str(amp_dtype),
        "channels_last": bool(channels_last), "augment": args.augment, "dataset": str(dataset),
        "bare_images_per_s": bare, "loader_images_per_s": loader_only, "training_images_per_s": training,
        "training_vs_bare": training / bare, "data_wait_fraction": data_wait, "rounds": args.rounds,
        "bare_rounds": bares, "training_rounds": trainings, "loader_rounds": loaders,
    }
    print(f"device {result['device']}, {size}px, batch {bs}, {workers} loader workers, "
          f"{result['torch_threads']} threads, AMP {'on' if amp else 'off'}, channels-last {'on' if channels_last else 'off'}")
    print(f"bare forward+backward+step : {bare:9.1f} images/s")
    print(f"data loader alone          : {loader_only:9.1f} images/s")
    print(f"training loop with loader  : {training:9.1f} images/s  ({100 * training / bare:.0f}% of bare; "
          f"{100 * result['data_wait_fraction']:.0f}% of the time waiting for data)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)
    if tmp is not None:
        tmp.cleanup()
    return result


if __name__ == "__main__":
    main()
    sys.exit(0)
