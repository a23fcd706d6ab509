"""The paper's website as a static, offline page built from the stored maps (see `build`)."""

from .build import build_gallery, map_file

__all__ = ["build_gallery", "map_file"]
