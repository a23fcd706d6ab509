"""Confidence intervals over images and verdicts by rule (config `evaluation.bootstrap` and
`evaluation.rules`): a claim is a set of parts, each a statistic with its bootstrap CI, and its
verdict follows from where the CIs lie, never from a sentence."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

VERDICTS = ("holds", "mixed", "does not hold", "inconclusive")


@dataclass(frozen=True)
class Bootstrap:
    """`scipy.stats.bootstrap` over images with fixed settings and seed."""

    confidence: float
    n_resamples: int
    method: str
    seed: int

    def estimate(self, statistic: Callable[..., float], *samples: np.ndarray) -> Estimate:
        """`statistic(*samples)` and its CI; samples are paired (resampled together by image).
        Equal values give the zero-width CI they have; where no CI exists (one image, or a
        statistic undefined on some resamples, e.g. a correlation of a constant) its bounds
        are NaN, which no rule counts as holding."""
        samples = tuple(np.asarray(s, dtype=np.float64) for s in samples)
        n = len(samples[0])
        with warnings.catch_warnings():  # degenerate resamples: handled below
            warnings.simplefilter("ignore", (stats.ConstantInputWarning,
                                             stats.DegenerateDataWarning, RuntimeWarning))
            value = float(statistic(*samples))
            if n < 2:
                return Estimate(value, math.nan, math.nan, n)
            if all(np.ptp(s) == 0 for s in samples):
                return Estimate(value, value, value, n)
            result = stats.bootstrap(samples, statistic, paired=True, vectorized=False,
                                     confidence_level=self.confidence,
                                     n_resamples=self.n_resamples, method=self.method,
                                     random_state=np.random.default_rng(self.seed))
        low, high = (float(b) for b in result.confidence_interval)
        if not (math.isfinite(low) and math.isfinite(high)):
            low = high = math.nan
        return Estimate(value, low, high, n)

    def mean(self, values: np.ndarray) -> Estimate:
        return self.estimate(np.mean, values)

    def spearman(self, a: np.ndarray, b: np.ndarray) -> Estimate:
        return self.estimate(lambda x, y: stats.spearmanr(x, y).statistic, a, b)


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float
    n: int  # images (or mosaics, digits) it rests on

    def fields(self, prefix: str = "") -> dict[str, float | int | None]:
        """For JSON: NaN (no value or no CI) becomes null."""
        def finite(v: float) -> float | None:
            return v if math.isfinite(v) else None
        return {f"{prefix}value": finite(self.value), f"{prefix}ci_low": finite(self.low),
                f"{prefix}ci_high": finite(self.high), f"{prefix}n": self.n}


@dataclass(frozen=True)
class Rule:
    """A part holds when its CI lies wholly below / above `threshold` or within [lo, hi]; it is
    contradicted when the CI lies wholly on the other side (outside the range)."""

    direction: str
    threshold: float | Sequence[float]
    text: str
    expect: bool = True  # False: the finding is that the effect does not show

    @classmethod
    def of(cls, node: Mapping[str, Any]) -> Rule:
        threshold = node["threshold"]
        return cls(node["direction"],
                   tuple(threshold) if isinstance(threshold, Sequence) else threshold,
                   node["text"], node.get("expect", True))

    def status(self, estimate: Estimate) -> str:
        """holds / contradicted / inconclusive; with expect=False the finding is the absence of
        the effect: it holds unless the effect shows (then it is contradicted)."""
        shown = self._effect(estimate)
        if self.expect:
            return shown
        return "contradicted" if shown == "holds" else "holds"

    def _effect(self, estimate: Estimate) -> str:
        low, high = estimate.low, estimate.high
        if self.direction == "within":
            lo, hi = self.threshold
            holds, contradicted = lo <= low and high <= hi, high < lo or low > hi
        elif self.direction == "below":
            holds, contradicted = high < self.threshold, low > self.threshold
        else:
            holds, contradicted = low > self.threshold, high < self.threshold
        return "holds" if holds else "contradicted" if contradicted else "inconclusive"

    def describe(self, confidence: float) -> str:
        where = (f"within [{self.threshold[0]:g}, {self.threshold[1]:g}]"
                 if self.direction == "within" else f"{self.direction} {self.threshold:g}")
        if not self.expect:
            return f"holds unless the {confidence:.0%} CI lies wholly {where}"
        return f"holds if the {confidence:.0%} CI lies wholly {where}"


def verdict(statuses: Sequence[str]) -> str:
    """A claim's verdict from its parts' statuses: holds if every part holds, mixed if some
    do, does not hold if none does and one is contradicted, inconclusive otherwise."""
    held = sum(s == "holds" for s in statuses)
    if statuses and held == len(statuses):
        return "holds"
    if held:
        return "mixed"
    return "does not hold" if "contradicted" in statuses else "inconclusive"


VERDICT_RULE = ("a claim holds if every part holds, is mixed if some parts hold, does not hold "
                "if none holds and one is contradicted (CI wholly on the other side), "
                "inconclusive otherwise")
