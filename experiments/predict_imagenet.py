"""Stage `predict_imagenet`: the model's top-5 on the 200 images, and its accuracy (a metric)."""

from hydra.utils import instantiate

from smoothgrad.compute.predict import predict_images
from smoothgrad.device import resolve_device
from smoothgrad.pipeline.runner import stage_main


def run(cfg, paths) -> str:
    device = resolve_device(cfg.device)
    return predict_images(instantiate(cfg.model).to(device), paths.get("imagenet_images"),
                          paths.get("imagenet_metadata"), cfg.imagenet.n_images,
                          batch_size=cfg.imagenet.batch_size, device=device,
                          precision=cfg.precision, out=paths.get("predictions"),
                          metrics=paths.get("imagenet_accuracy"))


if __name__ == "__main__":
    stage_main("predict_imagenet", run)
