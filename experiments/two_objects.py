"""Stage `two_objects` (Fig 6 data): each method's map of each two-object photo for both of its
classes."""

from smoothgrad.compute.methods import build_method
from smoothgrad.compute.sweeps import two_object_maps
from smoothgrad.pipeline.builders import method_factories, model_on_device, smoothgrad_settings
from smoothgrad.pipeline.runner import stage_main


def run(cfg, paths) -> str:
    bundle, device = model_on_device(cfg)
    methods = {name: build_method(factory, bundle, cfg.precision)
               for name, factory in method_factories(cfg.methods).items()}
    photos = [(paths.get("two_object_photos") / p.file, list(p.classes))
              for p in cfg.figures.fig6.photos]
    two_object_maps(methods, bundle, photos, smoothgrad_settings(cfg), paths.get("two_objects"),
                    device)
    return (f"{len(photos)} photos x {len(methods)} methods (+ SmoothGrad) x 2 classes -> "
            f"{paths.get('two_objects')}")


if __name__ == "__main__":
    stage_main("two_objects", run)
