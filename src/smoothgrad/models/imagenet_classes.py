"""The 1000 ImageNet-1k class names in index order (torchvision's offline copy)."""

from torchvision.models._meta import _IMAGENET_CATEGORIES

IMAGENET_CLASSES: list[str] = list(_IMAGENET_CATEGORIES)
