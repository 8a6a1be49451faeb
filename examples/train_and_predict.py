"""Generate a masked-face dataset, train ResNet-50 on it, evaluate on real photos, predict.

The whole loop of docs/training.md through the Python API (each step has a CLI twin)::

    python examples/train_and_predict.py                 # the recipe (about 25-30 min on 2 CPU cores)
    python examples/train_and_predict.py --quick         # a 1-2 minute smoke run of the same steps
    python examples/train_and_predict.py --src my_faces/ --real my_labelled_photos/ --classes mask=with_mask,...

Inputs default to the project's shared photos (``<repo>/../shared/data``, or
``$MASKGEN_SHARED_DATA``): ``unmasked_faces/`` to generate from, and ``real_mask/``,
``no_mask/``, ``incorrect_mask/`` (real photos) to evaluate on. Outputs go to ``--work``.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REAL_CLASSES = "real_mask=with_mask,no_mask=without_mask,incorrect_mask=incorrect_mask"
# the recipe of docs/training.md (tests/test_realworld.py checks that the three agree with the benchmark)
DATASET = {"crop": "face", "crop_size": 128, "variants": 6, "negatives": 1.0,
           "wear": "correct=0.6,nose=0.2,chin=0.2", "augment": "realistic", "split": "0.8,0.2,0", "seed": 1}
TRAINING = {"image_size": 112, "epochs": 12, "patience": 4, "metric": "val_loss", "batch_size": 32, "augment": "light",
            "seed": 0}
QUICK = {"variants": 2, "split": "0.7,0.3,0", "image_size": 64, "epochs": 2, "batch_size": 16}  # --quick


def shared_data_dir() -> Path:
    """The project's shared photos beside the checkout: ``$MASKGEN_SHARED_DATA`` or ``<repo>/../shared/data``."""
    return Path(os.environ.get("MASKGEN_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")


def main() -> None:
    shared = shared_data_dir()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, default=shared / "unmasked_faces", help="unmasked face photos")
    ap.add_argument("--real", type=Path, default=shared, help="labelled real photos, DATA/<label>/<photo>")
    ap.add_argument("--classes", default=REAL_CLASSES, help="--real folder -> class mapping")
    ap.add_argument("--work", type=Path, default=Path("runs") / "example", help="output folder")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--image-size", type=int, default=None)
    ap.add_argument("--quick", action="store_true", help="few photos, small images, 2 epochs")
    args = ap.parse_args()
    if not args.src.is_dir():
        sys.exit(f"{args.src} not found: pass --src (a folder of unmasked face photos)")

    import maskgen
    from maskgen_trainer.config import TrainConfig
    from maskgen_trainer.metrics import format_report
    from maskgen_trainer.photos import parse_class_map
    from maskgen_trainer.predict import evaluate_photos, predict_images
    from maskgen_trainer.train import train

    work = args.work
    dataset, run = work / "dataset", work / "run"

    quick = QUICK if args.quick else {}
    # 1. the dataset: face crops, masks worn correctly or not, an unmasked copy of each
    #    (CLI: the `maskgen augment` command of docs/training.md, options as in DATASET)
    config = maskgen.DatasetConfig(**{k: quick.get(k, v) for k, v in DATASET.items()})
    summary = maskgen.build_dataset(args.src, dataset, config, workers=None, progress=False, messages=False,
                                    limit=16 if args.quick else None, overwrite=True)
    print(summary.format())

    # 2. training (CLI: the `maskgen train` command of docs/training.md, options as in TRAINING)
    settings = {k: quick.get(k, v) for k, v in TRAINING.items()}
    settings.update({k: v for k, v in (("epochs", args.epochs), ("image_size", args.image_size)) if v})
    train_config = TrainConfig(dataset=str(dataset), out=str(run), log_every=0, **settings)
    result = train(train_config, overwrite=True)
    print(f"trained {result['epochs_run']} epochs; best epoch {result['best_epoch']}; validation accuracy "
          f"{result['val']['accuracy']:.3f}, AUC {result['val']['auc']:.3f}")

    # 3. evaluation on real photos: faces first, the largest face's crop classified
    #    (CLI: maskgen evaluate RUN REAL --classes real_mask=with_mask,...)
    if args.real.is_dir():
        mapping = parse_class_map(args.classes)
        mapping = {k: v for k, v in mapping.items() if (args.real / k).is_dir()}
        metrics = evaluate_photos(run, args.real, class_map=mapping)
        print(format_report(metrics))
        print("paths:", metrics["paths"], "outputs in", metrics["out"])

        # 4. prediction: every face of a few photos, boxes and labels drawn
        #    (CLI: maskgen predict RUN PHOTOS... --out OUT)
        photos = [p for folder in mapping for p in sorted((args.real / folder).iterdir())[:3]]
        predicted = predict_images(run, photos, out=work / "predict", log=lambda *_: None)
        for image in predicted["images"]:
            faces = ", ".join(f"{f['label']} {f['prob']:.2f} ({f['path']})" for f in image["faces"]) or image["path"]
            print(f"{Path(image['file']).name}: {faces}")
        print("annotated photos in", Path(predicted["out"]) / "annotated")


if __name__ == "__main__":  # build_dataset's workers start with forkserver: keep this guard
    main()
