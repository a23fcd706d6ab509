"""Stage `predict_imagenet`: the model's top-5 on the configured images (`dataset`: the 200
images or your own folder), and its accuracy (a metric)."""

from hydra.utils import instantiate

from smoothgrad.compute.predict import predict_and_score, predict_images
from smoothgrad.data.image_folder import dataset_images, folder_records
from smoothgrad.device import resolve_device
from smoothgrad.pipeline.runner import stage_main


def run(cfg, paths) -> str:
    device = resolve_device(cfg.device)
    bundle = instantiate(cfg.model).to(device)
    run_opts = {"batch_size": cfg.imagenet.batch_size, "device": device,
                "precision": cfg.precision, "out": paths.get("predictions"),
                "metrics": paths.get("imagenet_accuracy")}
    if cfg.dataset.name == "pair200":
        return predict_images(bundle, paths.get("imagenet_images"),
                              paths.get("imagenet_metadata"), cfg.imagenet.n_images, **run_opts)
    records = folder_records(dataset_images(cfg.dataset, paths), cfg.imagenet.n_images)
    return predict_and_score(bundle, records, **run_opts)


if __name__ == "__main__":
    stage_main("predict_imagenet", run)
