"""Every model builds by name from config, with its own preprocessing and output shape."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate
from PIL import Image

from smoothgrad.models import WeightsUnavailableError, build_model
from smoothgrad.models.imagenet_classes import IMAGENET_CLASSES
from smoothgrad.pipeline.config import compose_config


@pytest.fixture(scope="module")
def image() -> Image.Image:
    gen = torch.Generator().manual_seed(0)
    return Image.fromarray((torch.rand(299, 299, 3, generator=gen) * 255).byte().numpy())


def test_efficientnet_lite0_from_config(image: Image.Image) -> None:
    bundle = instantiate(compose_config().model)
    assert bundle.name == "efficientnet_lite0" and bundle.class_names == IMAGENET_CLASSES
    assert (bundle.mean, bundle.std) == ((0.5,) * 3, (0.5,) * 3)
    x = bundle.preprocess(image)
    assert x.shape == (3, 224, 224) and x.min() >= -1 and x.max() <= 1
    assert bundle.net(x[None]).shape == (1, 1000)
    assert not any(p.requires_grad for p in bundle.net.parameters())
    assert not bundle.net.training


def test_inception_v3_random_weights(image: Image.Image) -> None:
    bundle = instantiate(compose_config(["model=inception_v3", "model.pretrained=false"]).model)
    x = bundle.preprocess(image)
    assert x.shape == (3, 299, 299)
    assert bundle.std == (0.229, 0.224, 0.225)
    assert torch.allclose(bundle.denormalize(x), bundle.pixels(image), atol=1e-6)
    assert bundle.net(x[None]).shape == (1, 1000)


def test_inception_v3_missing_weights_file_says_how_to_supply_one(tmp_path) -> None:
    with pytest.raises(WeightsUnavailableError, match="model.weights_path"):
        build_model("inception_v3", weights_path=str(tmp_path / "missing.pth"))


def test_inception_v3_offline_without_file_is_a_clear_error(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # no cached weights
    def refuse(*args, **kwargs):
        raise OSError("no network")
    monkeypatch.setattr("torch.hub.load_state_dict_from_url", refuse)
    with pytest.raises(WeightsUnavailableError, match="download .* model.weights_path"):
        build_model("inception_v3")


def test_inception_v3_loads_a_local_weights_file(tmp_path) -> None:
    """A file in torchvision's format (with the aux branch) loads; logits match torchvision's."""
    from torchvision.models import inception_v3

    reference = inception_v3(weights=None, aux_logits=True, init_weights=True).eval()
    path = tmp_path / "inception.pth"
    torch.save(reference.state_dict(), path)
    bundle = build_model("inception_v3", weights_path=str(path))
    x = torch.randn(1, 3, 299, 299)
    reference.transform_input = True  # what torchvision sets for its pretrained weights
    assert torch.allclose(bundle.net(x), reference(x), atol=1e-5)


def test_mnist_cnn(image: Image.Image) -> None:
    bundle = build_model("mnist_cnn")
    x = bundle.preprocess(image)
    assert x.shape == (1, 28, 28) and x.min() >= 0 and x.max() <= 1
    assert bundle.net(x[None]).shape == (1, 10)
    assert bundle.class_names == [str(d) for d in range(10)]


def test_unknown_model_name() -> None:
    with pytest.raises(ValueError, match="unknown model 'vgg'.*efficientnet_lite0"):
        build_model("vgg")
