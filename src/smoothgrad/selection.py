"""Which images a figure shows: a fixed rule over `predictions.json`, driven by config only, so
a figure's rows never depend on a hand-picked id and change predictably with the model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .data.imagenet import label_to_index

Prediction = Mapping[str, Any]


def _confidence_order(entry: Prediction) -> tuple[bool, float, int]:
    """Sort key: correctly classified first, then most confident, then lowest id (a total order,
    so ties never depend on input order)."""
    return (not entry["correct"], -float(entry["prediction_prob"]), int(entry["id"]))


def select_images(predictions: Sequence[Prediction], classes: Sequence[str], per_class: int,
                  count: int) -> list[Prediction]:
    """Up to `per_class` images of each wanted class in order, most confident first; then the
    rest of `count` filled with the most confident other images. At most len(predictions)."""
    ranked = sorted(predictions, key=_confidence_order)
    chosen: list[Prediction] = []
    for name in classes:
        index = label_to_index(name)
        matches = [e for e in ranked if e["label_index"] == index and e not in chosen]
        chosen.extend(matches[:per_class])
    chosen = chosen[:count]
    chosen.extend([e for e in ranked if e not in chosen][: count - len(chosen)])
    return chosen


def select_for(predictions: Sequence[Prediction], rule: Mapping[str, Any]) -> list[Prediction]:
    """`select_images` with a figure's config node ({classes, per_class, count})."""
    return select_images(predictions, list(rule["classes"]), int(rule["per_class"]),
                         int(rule["count"]))


def target_index(entry: Prediction, target: str) -> int:
    """The class a map explains: "label" or "prediction" (the model's top-1)."""
    if target not in ("label", "prediction"):
        raise ValueError(f"figures.target={target!r}: choose label or prediction")
    return int(entry["label_index"] if target == "label" else entry["prediction_index"])


def target_name(entry: Prediction, target: str) -> str:
    return str(entry["class_name"] if target == "label" else entry["prediction_name"])
