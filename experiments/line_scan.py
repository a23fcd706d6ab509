"""Stage `line_scan` (Fig 2 data): one pixel's gradient along a tiny random line x + t*eps."""

from smoothgrad.compute.sweeps import FigureImages, line_scan
from smoothgrad.data.image_folder import dataset_images
from smoothgrad.pipeline.builders import gradient_for, model_on_device
from smoothgrad.pipeline.runner import stage_main
from smoothgrad.store.selection import SelectionRule


def run(cfg, paths) -> str:
    bundle, device = model_on_device(cfg)
    rule = cfg.figures.fig2
    images = FigureImages.pick(bundle, paths.get("predictions"),
                               dataset_images(cfg.dataset, paths),
                               SelectionRule.of(rule), cfg.figures.target)
    pixel = line_scan(gradient_for(cfg, bundle), bundle, images,
                      pixel_rule=rule.pixel, n_t=rule.n_t, epsilon_std=rule.epsilon_std,
                      seed=cfg.seed, batch_size=cfg.smoothgrad.batch_size,
                      out=paths.get("line_scan"), device=device)
    return (f"image {images.entries[0]['id']}, pixel {pixel}, {rule.n_t} values of t -> "
            f"{paths.get('line_scan')}")


if __name__ == "__main__":
    stage_main("line_scan", run)
