"""Stage `gallery`: the paper's website (`reports/gallery/index.html` + thumbnails) for the maps
the `maps` stage stored; opens from the file system, offline."""

from __future__ import annotations

from omegaconf import DictConfig

from smoothgrad.config import stage_main
from smoothgrad.gallery import build_gallery


def run(cfg: DictConfig) -> None:
    g = cfg.gallery
    page = build_gallery(g.maps_dir, g.out_dir, cfg.imagenet.reference_maps_dir,
                         thumbnail_size=int(g.thumbnail_size), quality=int(g.quality),
                         confident_threshold=float(g.confident_threshold))
    thumbnails = list((page.parent / "maps").rglob("*.webp"))
    size = page.stat().st_size + sum(f.stat().st_size for f in thumbnails)
    print(f"gallery: {page} + {len(thumbnails)} thumbnails, {size / 1e6:.1f} MB")


if __name__ == "__main__":
    stage_main(run)
