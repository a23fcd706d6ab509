"""The config's schema, checked once up front (issue 13): a typo, a wrong type or an
out-of-range value must fail before any stage runs or deletes an output, with one line naming
the key, the bad value and what is allowed, instead of a traceback deep inside a stage.

One pydantic model per config node, strict (no 'abc' -> int) and closed (`extra="forbid"`, so a
`+key=` nobody reads is an error). `_target_` nodes are checked against their target instead:
it must import, and the other keys must be its parameters.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import re
import typing
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from omegaconf import DictConfig, OmegaConf
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PydanticSchemaGenerationError,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails

from smoothgrad.errors import ConfigError

CONF_DIR = Path(__file__).resolve().parents[3] / "conf"
HYDRA_KEYS = frozenset({"_target_", "_partial_", "_recursive_", "_convert_", "_args_"})


def _within(low: float, high: float, *, open_low: bool = False) -> AfterValidator:
    """A two-sided range whose error states the whole range (a pydantic bound names one side)."""
    def check(value: float) -> float:
        if value > high or (value <= low if open_low else value < low):
            raise ValueError(f"is out of range; it must be in {'(' if open_low else '['}"
                             f"{low}, {high}]")
        return value
    return AfterValidator(check)


def _device(value: str) -> str:
    """`cuda:N` is open-ended, so no Literal can list it."""
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", value):
        raise ValueError("is not allowed; choose one of auto, cpu, cuda, cuda:N")
    return value


def _pixel(value: Any) -> Any:
    """A name or a [row, col] pair: a Literal | list union would report two unrelated errors."""
    if value in ("center", "max_gradient") or (
            isinstance(value, list) and len(value) == 2
            and all(type(v) is int and v >= 0 for v in value)):
        return value
    raise ValueError("is not allowed; choose one of center, max_gradient, [row, col] (ints >= 0)")


def _two(value: list[str]) -> list[str]:
    """Fig 6 shows the difference of exactly two class maps per photo."""
    if len(value) != 2:
        raise ValueError("is not allowed; it must name exactly 2 classes")
    return value


NonNegInt = Annotated[int, Field(ge=0)]
PosInt = Annotated[int, Field(ge=1)]
NonNegFloat = Annotated[float, Field(ge=0)]
IGSteps = Annotated[int, Field(ge=2)]  # IntegratedGradients' trapezoid rule needs >= 2


class Node(BaseModel):
    """A closed, strict config node (YAML's int `0` still passes as a float)."""
    model_config = ConfigDict(extra="forbid", strict=True)


class Target(Node):
    """A Hydra `_target_` node whose other keys are the target's arguments: they differ per
    target, so `_target_problems` checks them against its signature rather than this class."""
    model_config = ConfigDict(extra="allow", strict=True)
    group: ClassVar[str] = "model"  # conf/<group>/ lists the choices
    target: str = Field(alias="_target_")
    partial: bool = Field(False, alias="_partial_")


class Method(Node):
    """An attribution method without settings (gradient, guided_backprop); a partial that
    `compute.methods.build_method` completes with the model."""
    group: ClassVar[str] = "method"
    target: str = Field(alias="_target_")
    partial: Literal[True] = Field(alias="_partial_")


class IntegratedGradientsMethod(Method):
    steps: IGSteps
    baseline: Literal["black", "zero"]


class Methods(Node):
    """Any non-empty subset of the three methods: an absent one is not run (`~methods.NAME`);
    null is an error, so a stage never meets a None method."""
    gradient: Method = Field(None)
    integrated_gradients: IntegratedGradientsMethod = Field(None)
    guided_backprop: Method = Field(None)

    @model_validator(mode="after")
    def _at_least_one(self) -> Methods:
        if not self.model_fields_set:
            raise ValueError("is empty; keep at least one of " + ", ".join(_keys(Methods)))
        return self


class Paths(Node):
    data: str
    artifacts: str
    reports: str


class Dataset(Node):
    """Which images the pipeline explains (conf/dataset/): the paper's 200 or a user's folder."""
    name: Literal["pair200", "image_folder"]
    root: str | None
    deps: str | None  # dvc.yaml's `${dataset.deps}`: the manifest, or the folder itself

    @model_validator(mode="after")
    def _root_fits_name(self) -> Dataset:
        if self.name == "image_folder" and not self.root:
            raise ValueError("needs a folder: pass dataset.root=/path/to/images")
        if self.name == "pair200" and self.root is not None:
            raise ValueError("takes no root (its images are paths.data/pair-saliency/images); "
                             "for your own folder pass dataset=image_folder dataset.root=...")
        return self


class Executor(Node):
    """Where per-image work runs (conf/executor/, `compute.executor`); the Ray keys only with
    executor=ray."""
    name: Literal["local", "ray"]
    torch_threads: PosInt
    address: str | None = None
    workers: PosInt | None = None
    num_cpus: Annotated[float, Field(gt=0)] | None = None
    num_gpus: NonNegFloat | None = None
    max_retries: NonNegInt | None = None

    @model_validator(mode="after")
    def _ray_keys_with_ray(self) -> Executor:
        ray_keys = sorted(self.model_fields_set - {"name", "torch_threads"})
        if self.name == "local" and ray_keys:
            raise ValueError(f"takes no {', '.join(ray_keys)} (Ray settings): pass executor=ray")
        if self.name == "ray" and self.workers is None:
            raise ValueError("needs executor.workers (the number of Ray actors)")
        return self


class Imagenet(Node):
    n_images: PosInt | None
    batch_size: PosInt


class SmoothGrad(Node):
    noise_level: NonNegFloat
    n_samples: PosInt
    aggregate: Literal["mean", "squared", "var"]
    batch_size: PosInt
    noise_levels: Annotated[list[NonNegFloat], Field(min_length=1)]
    sample_counts: Annotated[list[PosInt], Field(min_length=1)]
    sweep_noise_level: NonNegFloat
    ig_steps: IGSteps


class MnistTrain(Node):
    epochs: PosInt
    batch_size: PosInt
    lr: Annotated[float, Field(gt=0)]
    train_noise_level: NonNegFloat
    subset: PosInt | None


class Mnist(Node):
    train: MnistTrain


class Gallery(Node):
    thumbnail_size: Annotated[int, Field(ge=16)]
    quality: Annotated[int, _within(1, 100)]
    confident_threshold: Annotated[float, _within(0, 1)]




class Rule(Node):
    """A figure's image selection rule (see conf/config.yaml's `figures`)."""
    classes: list[str]
    per_class: PosInt
    count: PosInt


class Fig2(Rule):
    pixel: Annotated[Any, AfterValidator(_pixel)]
    n_t: Annotated[int, Field(ge=2)]
    epsilon_std: NonNegFloat


class Photo(Node):
    file: str
    classes: Annotated[list[str], AfterValidator(_two)]


class Fig6(Node):
    photos: Annotated[list[Photo], Field(min_length=1)]


class Figures(Node):
    target: Literal["label", "prediction"]
    percentile: Annotated[float, _within(0, 100, open_low=True)]
    fig1: Rule
    fig2: Fig2
    fig3: Rule
    fig4: Rule
    fig5: Rule
    fig6: Fig6
    fig7: Rule


class Bootstrap(Node):
    """Confidence intervals over images (`scipy.stats.bootstrap`)."""
    confidence: Annotated[float, _within(0, 1, open_low=True)]
    n_resamples: Annotated[int, Field(ge=100)]
    method: Literal["percentile", "basic", "BCa"]


class ClaimRule(Node):
    """A claim's verdict rule (`outputs.claims`): each part's statistic holds when its CI lies
    wholly on the claimed side of `threshold` (below/above), or within [lo, hi] (within)."""
    direction: Literal["below", "above", "within"]
    threshold: float | Annotated[list[float], Field(min_length=2, max_length=2)]
    text: str  # the claim in the paper's words
    expect: bool = True  # False: the published finding is that the effect does NOT show


class SigmaEval(Node):
    images: PosInt
    noise_levels: Annotated[list[NonNegFloat], Field(min_length=2)]
    n_samples: PosInt
    claimed: Annotated[list[NonNegFloat], Field(min_length=2, max_length=2)]  # [lo, hi]
    degraded: NonNegFloat


class Deletion(Node):
    steps: Annotated[int, Field(ge=2)]
    baseline: Literal["blur", "mean"]
    blur_sigma: Annotated[float, Field(gt=0)]


class ConvergenceEval(Node):
    images: PosInt
    sample_counts: Annotated[list[PosInt], Field(min_length=3)]
    after: PosInt  # "diminishing returns past n = after"


class GridEval(Node):
    mosaics: PosInt
    min_prob: Annotated[float, _within(0, 1)]
    correct_only: bool
    methods: Annotated[list[str], Field(min_length=1)]


class SanityEval(Node):
    images: PosInt
    methods: Annotated[list[str], Field(min_length=1)]
    n_samples: PosInt


class FaithfulnessEval(Node):
    images: PosInt


class RobustnessEval(Node):
    images: PosInt
    methods: Annotated[list[str], Field(min_length=1)]
    radius: Annotated[float, Field(gt=0)]
    perturbations: PosInt
    noise_std: Annotated[float, Field(gt=0)]
    infidelity_samples: PosInt


class RoarEval(Node):
    train_images: PosInt
    test_images: PosInt
    fractions: Annotated[list[Annotated[float, _within(0, 1, open_low=True)]],
                         Field(min_length=1)]
    epochs: PosInt
    n_samples: PosInt


class Evaluation(Node):
    """The paper's claims measured (`outputs.claims`): sizes, measures and verdict rules."""
    bootstrap: Bootstrap
    cutoff: Annotated[float, _within(0, 0.5, open_low=True)]  # speckle's frequency cut-off
    border: Annotated[float, _within(0, 0.5, open_low=True)]  # C5's background band
    deletion: Deletion
    sigma: SigmaEval
    convergence: ConvergenceEval
    grids: GridEval
    mnist_images: PosInt
    sanity: SanityEval
    faithfulness: FaithfulnessEval
    robustness: RobustnessEval
    roar: RoarEval
    rules: dict[str, ClaimRule]


class Config(Node):
    """The whole composed config (params.yaml)."""
    seed: NonNegInt
    device: Annotated[str, AfterValidator(_device)]
    precision: Literal["auto", "fp32", "bf16"]
    profile_name: str
    paths: Paths
    dataset: Dataset
    executor: Executor
    model: Target
    methods: Methods
    imagenet: Imagenet
    smoothgrad: SmoothGrad
    mnist: Mnist
    gallery: Gallery
    figures: Figures
    evaluation: Evaluation


def validate_config(cfg: Mapping[str, Any] | DictConfig) -> None:
    """Raise ConfigError, one line naming every bad key, its value and what is allowed, unless
    the resolved config (`OmegaConf.to_container(cfg, resolve=True)`) matches the schema."""
    if isinstance(cfg, DictConfig):
        cfg = typing.cast(dict, OmegaConf.to_container(cfg, resolve=True))
    problems: dict[str, str] = {}  # key path -> message: one per key
    try:
        Config.model_validate(cfg)
    except ValidationError as error:
        for details in error.errors():
            problems.setdefault(*_describe(details["loc"], details))
    for path, message in _target_problems(cfg, ()):
        problems.setdefault(path, message)
    if problems:
        raise ConfigError("config: " + " | ".join(problems.values()))


def _dotted(loc: Sequence[int | str]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


def _describe(loc: Sequence[int | str], details: ErrorDetails) -> tuple[str, str]:
    """(key path, one-line message) for a pydantic error at `loc`."""
    path, kind, ctx = _dotted(loc), details["type"], details.get("ctx", {})
    shown = f"{path or 'config'}={details['input']!r}"
    if kind == "extra_forbidden":
        parent = _model_at(loc[:-1])
        return path, _unknown(loc, _keys(parent) if parent else [])
    if kind == "missing":
        return path, f"missing key {path}"
    if kind == "literal_error":
        allowed = ", ".join(re.findall(r"'([^']*)'", ctx["expected"]))
        return path, f"{shown} is not allowed; choose one of {allowed}"
    bounds = {"greater_than_equal": ("ge", ">="), "greater_than": ("gt", ">"),
              "less_than_equal": ("le", "<="), "less_than": ("lt", "<")}
    if kind in bounds:
        name, sign = bounds[kind]
        limit = ctx[name]
        return path, f"{shown} is out of range; it must be {sign} {limit:g}"
    if kind == "too_short":
        return path, f"{shown} is too short; it must have at least {ctx['min_length']} item(s)"
    if kind == "value_error":
        return path, f"{shown} {ctx['error']}"
    noun = {"int": "an integer", "float": "a number", "string": "a string", "bool": "true/false",
            "list": "a list", "model": "a mapping", "dict": "a mapping"}.get(kind.split("_")[0])
    return path, f"{shown} is not {noun}" if noun else f"{shown}: {details['msg']}"


def _unknown(loc: Sequence[int | str], allowed: Sequence[str], label: str = "allowed") -> str:
    """`unknown key a.bx (did you mean a.b?); allowed: a, b`: typos get their fix."""
    parent, key = _dotted(loc[:-1]), str(loc[-1])
    prefix = f"{parent}." if parent else ""
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f" (did you mean {prefix}{close[0]}?)" if close else ""
    return f"unknown key {prefix}{key}{hint}; {label}: {', '.join(allowed) or 'none'}"


def _keys(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def _model_at(loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The schema class of the node at `loc` (list indices and Optional skipped), or None."""
    model: type[BaseModel] | None = Config
    for part in loc:
        if model is None or isinstance(part, int):
            continue
        fields = {field.alias or name: field for name, field in model.model_fields.items()}
        model = _submodel(fields[part].annotation) if part in fields else None
    return model


def _submodel(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next(filter(None, map(_submodel, typing.get_args(annotation))), None)


def _target_problems(node: Any, loc: tuple[int | str, ...]) -> Iterator[tuple[str, str]]:
    """Every `_target_` must import; where the schema leaves a node's keys open (Target), they
    must be parameters of the target, of its annotated types, so `instantiate` cannot fail."""
    items = node.items() if isinstance(node, Mapping) else enumerate(node) \
        if isinstance(node, list) else ()
    for key, value in items:
        yield from _target_problems(value, (*loc, key))
    schema = _model_at(loc)
    if not isinstance(node, Mapping) or not isinstance(node.get("_target_"), str) or not schema:
        return
    target, where = node["_target_"], _dotted((*loc, "_target_"))
    group = getattr(schema, "group", "model")
    try:
        func = _locate(target)
    except (ImportError, AttributeError) as error:
        options = ", ".join(sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml")))
        yield where, (f"{where}={target!r} cannot be imported ({error}); choose a {group} from "
                      f"conf/{group}/: {options}")
        return
    if schema.model_config.get("extra") == "allow":
        yield from _argument_problems(func, node, loc)


def _locate(dotted: str) -> Any:
    """The object a Hydra `_target_` names: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        module = ".".join(parts[:i])
        try:
            obj = importlib.import_module(module)
        except ModuleNotFoundError as error:  # a missing dependency inside the module re-raises
            if not f"{module}.".startswith(f"{error.name}."):
                raise
            continue
        except ValueError:  # empty module name ("" or ".x")
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        if not callable(obj):
            raise ImportError(f"{dotted} is not callable")
        return obj
    raise ImportError(f"no module named {parts[0]!r}")


def _argument_problems(func: Any, node: Mapping[str, Any],
                       loc: tuple[int | str, ...]) -> Iterator[tuple[str, str]]:
    """Keys of a `_target_` node against the target's signature: names, types, required."""
    params = inspect.signature(func).parameters
    named = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    try:
        hints = typing.get_type_hints(func.__init__ if isinstance(func, type) else func)
    except (NameError, TypeError):
        hints = {}
    for key, value in node.items():
        path = _dotted((*loc, key))
        if key in HYDRA_KEYS:
            continue
        if key not in named and not takes_any:
            yield path, _unknown((*loc, key), named, f"{node['_target_']} takes")
        elif key in hints:
            try:
                TypeAdapter(hints[key]).validate_python(value, strict=True)
            except ValidationError as error:
                yield _describe((*loc, key), error.errors()[0])
            except PydanticSchemaGenerationError:
                pass
    if not node.get("_partial_"):
        for name in named:
            if params[name].default is inspect.Parameter.empty and name not in node:
                yield _dotted((*loc, name)), f"missing key {_dotted((*loc, name))} (required by "\
                                             f"{node['_target_']})"
