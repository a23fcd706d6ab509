"""Stage `predict_imagenet`: the model's top-5 on the 200 images, and its accuracy (a metric)."""

from __future__ import annotations

from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig

from smoothgrad.config import stage_main
from smoothgrad.data.imagenet import load_records
from smoothgrad.device import configure_cpu_numerics, resolve_device
from smoothgrad.io import write_json
from smoothgrad.predict import accuracy, predict_records


def run(cfg: DictConfig) -> None:
    configure_cpu_numerics()
    device = resolve_device(cfg.device)
    bundle = instantiate(cfg.model).to(device)
    records = load_records(cfg.imagenet.images_dir, cfg.imagenet.metadata, cfg.imagenet.n_images)
    entries = predict_records(bundle, records, batch_size=cfg.imagenet.batch_size, device=device)
    metrics = {"model": bundle.name, **accuracy(entries)}
    predictions = Path(cfg.paths.artifacts) / "imagenet" / "predictions.json"
    write_json(predictions, entries)
    write_json(Path(cfg.paths.reports) / "metrics" / "imagenet_accuracy.json", metrics)
    print(f"predict_imagenet: {bundle.name} top-1 {metrics['top1']:.3f} top-5 {metrics['top5']:.3f}"
          f" on {metrics['n_images']} images -> {predictions}")


if __name__ == "__main__":
    stage_main(run)
