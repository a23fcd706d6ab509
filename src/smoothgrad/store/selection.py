"""Which images a figure shows: a fixed rule over `predictions.json`, driven by config only, so
a figure's rows never depend on a hand-picked id and change predictably with the model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..data.imagenet import label_to_index
from ..errors import ConfigError

Prediction = Mapping[str, Any]


def _confidence_order(entry: Prediction) -> tuple[bool, float, int]:
    """Sort key: correctly classified first, then most confident, then lowest id (a total order,
    so ties never depend on input order)."""
    return (not entry["correct"], -float(entry["prediction_prob"]), int(entry["id"]))


@dataclass(frozen=True)
class SelectionRule:
    """A figure's image-choice rule (`figures.figN` in config: classes, per_class, count)."""

    classes: tuple[str, ...]
    per_class: int
    count: int

    @classmethod
    def of(cls, node: Mapping[str, Any]) -> SelectionRule:
        """The rule part of a figure's config node (which may hold other settings)."""
        return cls(tuple(node["classes"]), int(node["per_class"]), int(node["count"]))

    def describe(self) -> str:
        return (f"images: up to {self.per_class} per wanted class {list(self.classes)}, "
                f"{self.count} in all, the rest the most confident correctly classified images")


def select_images(predictions: Sequence[Prediction], rule: SelectionRule) -> list[Prediction]:
    """Up to `per_class` images of each wanted class in order, most confident first; then the
    rest of `count` filled with the most confident other images. At most len(predictions)."""
    ranked = sorted(predictions, key=_confidence_order)
    chosen: list[Prediction] = []
    for name in rule.classes:
        index = label_to_index(name)
        matches = [e for e in ranked if e["label_index"] == index and e not in chosen]
        chosen.extend(matches[:rule.per_class])
    chosen = chosen[:rule.count]
    chosen.extend([e for e in ranked if e not in chosen][: rule.count - len(chosen)])
    return chosen


def target_index(entry: Prediction, target: str) -> int:
    """The class a map explains: "label" or "prediction" (the model's top-1)."""
    if target not in ("label", "prediction"):
        raise ConfigError(f"figures.target={target!r}: choose label or prediction")
    return int(entry["label_index"] if target == "label" else entry["prediction_index"])


def target_name(entry: Prediction, target: str) -> str:
    return str(entry["class_name"] if target == "label" else entry["prediction_name"])
