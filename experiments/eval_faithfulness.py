"""Stage `eval_faithfulness` (L2, Petsiuk et al. 2018): deletion and insertion AUC of the map
store's maps of the first `evaluation.faithfulness.images` correctly predicted images, each map
kind against a random map."""

from smoothgrad.compute.evaluation import Deletion, evaluation_images
from smoothgrad.compute.inputs import image_files
from smoothgrad.compute.later_work import faithfulness_evaluation
from smoothgrad.data.image_folder import dataset_images
from smoothgrad.pipeline.builders import model_on_device
from smoothgrad.pipeline.runner import stage_main
from smoothgrad.store.map_store import read_index


def run(cfg, paths) -> str:
    bundle, device = model_on_device(cfg)
    store = paths.get("map_store")
    index = read_index(store)
    images = evaluation_images(index["images"], cfg.evaluation.faithfulness.images)
    kinds = [f"{m}/{v}" for m in index["methods"] for v in index["variants"]]
    out = paths.get("faithfulness_eval")
    faithfulness_evaluation(bundle, store, kinds, images,
                            image_files(images, dataset_images(cfg.dataset, paths)),
                            Deletion(**cfg.evaluation.deletion), seed=cfg.seed, out=out,
                            device=device)
    return f"{len(images)} images x {len(kinds)} map kinds + random -> {out}"


if __name__ == "__main__":
    stage_main("eval_faithfulness", run)
