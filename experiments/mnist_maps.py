"""Stage `mnist_maps` (Fig 8 data): gradient and SmoothGrad of one test digit per class from the
clean- and the noise-trained nets."""

from smoothgrad.compute.methods import SmoothGradSettings
from smoothgrad.compute.mnist import MODELS, digit_maps
from smoothgrad.device import resolve_device
from smoothgrad.pipeline.builders import method_factories
from smoothgrad.pipeline.runner import stage_main


def run(cfg, paths) -> str:
    # aggregate="mean" whatever the config says: Fig 8 shows signed maps, which "squared" loses.
    smoothgrad = SmoothGradSettings(cfg.smoothgrad.noise_level, cfg.smoothgrad.n_samples, "mean",
                                    cfg.smoothgrad.batch_size, cfg.seed)
    checkpoints = {m: paths.get(f"mnist_{m}") for m in MODELS}
    index = digit_maps(method_factories(cfg.methods)["gradient"], checkpoints,
                       paths.get("mnist_data"), smoothgrad, paths.get("mnist_maps"),
                       device=resolve_device(cfg.device), precision=cfg.precision)
    return (f"digits at test indices {index}; SmoothGrad sigma={smoothgrad.noise_level}, "
            f"n={smoothgrad.n_samples}")


if __name__ == "__main__":
    stage_main("mnist_maps", run)
