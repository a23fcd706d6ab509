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
                entry = {
                    "id": record.id,
                    "file": record.file or record.path.name,
                    "label": record.label,
                    "class_name": record.class_name,
                    "label_index": record.label_index,
                    "prediction_index": i[0],
                    "prediction_name": bundle.class_names[i[0]],
                    "prediction_prob": round(p[0], 6),
                    "correct": i[0] == record.label_index,
                    "top5": [[bundle.class_names[k], round(q, 6)]
                             for k, q in zip(i, p, strict=True)],
                }
                if record.label_index < 0:  # unlabelled: the prediction is explained
                    entry.update(label=entry["prediction_name"], labelled=False,
                                 class_name=entry["prediction_name"], label_index=i[0],
                                 correct=True)
                entries.append(entry)
            bar.update(len(batch))
    return entries


def accuracy(entries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Top-1 and top-5 accuracy of `predict_records` output against the labels (of the
    labelled images only: null when none is labelled; then `n_labelled` says so)."""
    n = len(entries)
    labelled = [e for e in entries if e.get("labelled", True)]
    if not labelled:
        return {"top1": None, "top5": None, "n_images": n, "n_labelled": 0}
    top1 = sum(e["correct"] for e in labelled) / len(labelled)
    top5 = sum(any(name == e["class_name"] for name, _ in e["top5"])
               for e in labelled) / len(labelled)
    scores: dict[str, Any] = {"top1": round(top1, 4), "top5": round(top5, 4), "n_images": n}
    if len(labelled) < n:
        scores["n_labelled"] = len(labelled)
    return scores


def predict_images(bundle: ModelBundle, images_dir: Path, metadata: Path, n_images: int | None,
                   *, batch_size: int, device: torch.device, precision: str, out: Path,
                   metrics: Path) -> str:
    """The `predict_imagenet` stage on the 200 images: top-5 of the first `n_images` images
    (all if None) to `out`, accuracy to `metrics`. Returns the summary line."""
    return predict_and_score(bundle, load_records(images_dir, metadata, n_images),
                             batch_size=batch_size, device=device, precision=precision, out=out,
                             metrics=metrics)


def predict_and_score(bundle: ModelBundle, records: Sequence[ImageRecord], *, batch_size: int,
                      device: torch.device, precision: str, out: Path, metrics: Path) -> str:
    """Top-5 of `records` to `out`, accuracy to `metrics`; returns the summary line."""
    entries = predict_records(bundle, records, batch_size=batch_size, device=device,
                              precision=precision)
    scores = {"model": bundle.name, **accuracy(entries)}
    write_json(out, entries)
    write_json(metrics, scores)
    if scores["top1"] is None:
        return f"{bundle.name} on {scores['n_images']} unlabelled images ({precision})"
    return (f"{bundle.name} top-1 {scores['top1']:.3f} top-5 {scores['top5']:.3f} on "
            f"{scores['n_images']} images ({precision})")
