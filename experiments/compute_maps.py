"""Stage `maps`: every method's map (plain and SmoothGrad) of every predicted image, stored once
for the figures and the gallery. The images are spread over the workers of `executor`
(`compute.executor`: this process, or Ray actors that each build the model once from the same
config); the bytes do not depend on which (`executor.torch_threads`, a param, pins torch's
threads in every worker)."""

from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from smoothgrad.compute.executor import open_workers
from smoothgrad.compute.inputs import image_files, read_predictions
from smoothgrad.compute.maps import ImageMaps, resume_dir, write_map_store
from smoothgrad.data.image_folder import dataset_images
from smoothgrad.pipeline.builders import model_on_device, store_methods
from smoothgrad.pipeline.config import to_dict
from smoothgrad.pipeline.deps import code_files
from smoothgrad.pipeline.runner import stage_main


def build_worker(cfg: dict[str, Any]) -> ImageMaps:
    """One worker (in this process or inside a Ray actor): the model and methods built from
    the stage's config as a plain dict."""
    cfg = OmegaConf.create(cfg)
    bundle, device = model_on_device(cfg)
    return ImageMaps(store_methods(cfg, bundle), bundle, device)


def run(cfg, paths) -> str:
    predictions = read_predictions(paths.get("predictions"))
    images = image_files(predictions, dataset_images(cfg.dataset, paths))
    store = paths.get("map_store")
    ig = cfg.methods.get("integrated_gradients")
    sg = cfg.smoothgrad
    settings = {"noise_level": sg.noise_level, "n_samples": sg.n_samples,
                "aggregate": sg.aggregate, "smoothgrad_ig_steps": sg.ig_steps,
                "ig_steps": ig.steps if ig else None, "ig_baseline": ig.baseline if ig else None,
                "seed": cfg.seed, "precision": cfg.precision}
    with open_workers(cfg.executor, build_worker, (to_dict(cfg),), len(predictions)) as workers:
        about = workers.call("describe")
        # the executor's other settings change where maps are computed, not their bytes: a run
        # resumes whatever the executor
        config = {k: v for k, v in to_dict(cfg).items() if k != "executor"}
        key = {"config": config, "torch_threads": cfg.executor.torch_threads,
               "device": about["device"], "torch": torch.__version__, "predictions": predictions}
        resume = resume_dir(store, key, [*code_files(Path(__file__)),
                                         *(images[e["id"]] for e in predictions)])
        n_maps = write_map_store(workers, predictions, images, store, settings=settings,
                                 resume=resume)
    return f"{n_maps} maps of {len(predictions)} images ({about['model']}) -> {store}"


if __name__ == "__main__":
    stage_main("maps", run)
