"""Stage `maps`: every method's map (plain and SmoothGrad) of every predicted image, stored once
for the figures and the gallery."""

from pathlib import Path

import torch

from smoothgrad.compute.inputs import image_files, read_predictions
from smoothgrad.compute.maps import compute_map_store, resume_dir
from smoothgrad.data.image_folder import dataset_images
from smoothgrad.pipeline.builders import model_on_device, store_methods
from smoothgrad.pipeline.config import to_dict
from smoothgrad.pipeline.deps import code_files
from smoothgrad.pipeline.runner import stage_main


def run(cfg, paths) -> str:
    bundle, device = model_on_device(cfg)
    methods = store_methods(cfg, bundle)
    predictions = read_predictions(paths.get("predictions"))
    images = image_files(predictions, dataset_images(cfg.dataset, paths))
    store = paths.get("map_store")
    ig = cfg.methods.get("integrated_gradients")
    sg = cfg.smoothgrad
    settings = {"noise_level": sg.noise_level, "n_samples": sg.n_samples,
                "aggregate": sg.aggregate, "smoothgrad_ig_steps": sg.ig_steps,
                "ig_steps": ig.steps if ig else None, "ig_baseline": ig.baseline if ig else None,
                "seed": cfg.seed, "precision": cfg.precision}
    key = {"config": to_dict(cfg), "device": device.type, "torch": torch.__version__,
           "predictions": predictions}
    resume = resume_dir(store, key,
                        [*code_files(Path(__file__)), *(images[e["id"]] for e in predictions)])
    n_maps = compute_map_store(methods, bundle, predictions, images, store, device,
                               settings=settings, resume=resume)
    return f"{n_maps} maps of {len(predictions)} images ({bundle.name}) -> {store}"


if __name__ == "__main__":
    stage_main("maps", run)
