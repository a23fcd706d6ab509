"""Stage `gallery`: the paper's website (`reports/gallery/index.html` + thumbnails) for the maps
the `maps` stage stored, with the evaluation's per-image map scores; opens from the file system,
offline."""

from smoothgrad.outputs.gallery import build_gallery
from smoothgrad.pipeline.runner import stage_main


def run(cfg, paths) -> str:
    # the authors' maps exist for the 200 images only (a folder's image 1 is another image)
    references = paths.get("reference_maps") if cfg.dataset.name == "pair200" else None
    page = build_gallery(paths.get("map_store"), paths.get("gallery_page").parent,
                         references, scores=paths.get("map_scores"),
                         thumbnail_size=cfg.gallery.thumbnail_size,
                         quality=cfg.gallery.quality,
                         confident_threshold=cfg.gallery.confident_threshold)
    thumbnails = list(paths.get("gallery_maps").rglob("*.webp"))
    size = page.stat().st_size + sum(f.stat().st_size for f in thumbnails)
    return f"{page} + {len(thumbnails)} thumbnails, {size / 1e6:.1f} MB"


if __name__ == "__main__":
    stage_main("gallery", run)
