"""Top-k predictions of an ImageNet model on the website's images, and their accuracy."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from ..data.imagenet import ImageRecord, load_image, load_records
from ..device import precision_context
from ..models import ModelBundle
from ..store.arrays import write_json


@torch.no_grad()
def predict_records(bundle: ModelBundle, records: Sequence[ImageRecord], *, batch_size: int,
                    device: torch.device, precision: str = "fp32",
                    top_k: int = 5) -> list[dict[str, Any]]:
    """One entry per image: label, top-1 (name, probability, correct) and the top-k list.
    `precision` as for the maps (IEEE fp32 on every device for `fp32`)."""
    entries: list[dict[str, Any]] = []
    with tqdm(total=len(records), desc="predict", unit="img") as bar:
        for start in range(0, len(records), batch_size):
            batch = records[start:start + batch_size]
            x = torch.stack([bundle.preprocess(load_image(r.path)) for r in batch]).to(device)
            with precision_context(device.type, precision):
                logits = bundle.net(x)
            probs = logits.float().softmax(dim=1).cpu()
            top_p, top_i = probs.topk(top_k, dim=1)
            for record, p, i in zip(batch, top_p.tolist(), top_i.tolist(), strict=True):
                entries.append({
                    "id": record.id,
                    "file": record.path.name,
                    "label": record.label,
                    "class_name": record.class_name,
                    "label_index": record.label_index,
                    "prediction_index": i[0],
                    "prediction_name": bundle.class_names[i[0]],
                    "prediction_prob": round(p[0], 6),
                    "correct": i[0] == record.label_index,
                    "top5": [[bundle.class_names[k], round(q, 6)]
                             for k, q in zip(i, p, strict=True)],
                })
            bar.update(len(batch))
    return entries


def accuracy(entries: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Top-1 and top-5 accuracy of `predict_records` output against the labels."""
    n = len(entries)
    top1 = sum(e["correct"] for e in entries) / n
    top5 = sum(any(name == e["class_name"] for name, _ in e["top5"]) for e in entries) / n
    return {"top1": round(top1, 4), "top5": round(top5, 4), "n_images": n}


def predict_images(bundle: ModelBundle, images_dir: Path, metadata: Path, n_images: int | None,
                   *, batch_size: int, device: torch.device, precision: str, out: Path,
                   metrics: Path) -> str:
    """The `predict_imagenet` stage: top-5 of the first `n_images` images (all if None) to
    `out`, accuracy to `metrics`. Returns the summary line."""
    records = load_records(images_dir, metadata, n_images)
    entries = predict_records(bundle, records, batch_size=batch_size, device=device,
                              precision=precision)
    scores = {"model": bundle.name, **accuracy(entries)}
    write_json(out, entries)
    write_json(metrics, scores)
    return (f"{bundle.name} top-1 {scores['top1']:.3f} top-5 {scores['top5']:.3f} on "
            f"{scores['n_images']} images ({precision})")
