"""Stage `eval_faithfulness` (L2, Petsiuk et al. 2018): deletion and insertion AUC of the map
store's maps of the first `evaluation.faithfulness.images` correctly predicted images, each map
kind against a random map; one job per image on the workers of `executor`."""

from pathlib import Path

from omegaconf import OmegaConf

from smoothgrad.compute.evaluation import Deletion, evaluation_images
from smoothgrad.compute.inputs import image_files
from smoothgrad.compute.jobs import run_jobs, stack
from smoothgrad.compute.later_work import FaithfulnessEvaluation
from smoothgrad.data.image_folder import dataset_images
from smoothgrad.pipeline.builders import model_on_device
from smoothgrad.pipeline.runner import stage_main
from smoothgrad.store.arrays import save_npz
from smoothgrad.store.map_store import read_index


def kinds(index: dict) -> list[str]:
    """Every map kind of the store: <method>/<variant>."""
    return [f"{m}/{v}" for m in index["methods"] for v in index["variants"]]


def build_worker(cfg: dict, store: Path) -> FaithfulnessEvaluation:
    cfg = OmegaConf.create(cfg)
    bundle, device = model_on_device(cfg)
    return FaithfulnessEvaluation(bundle, device, store, kinds(read_index(store)),
                                  Deletion(**cfg.evaluation.deletion), seed=cfg.seed)


def run(cfg, paths) -> str:
    store = paths.get("map_store")
    index = read_index(store)
    images = evaluation_images(index["images"], cfg.evaluation.faithfulness.images)
    files = image_files(images, dataset_images(cfg.dataset, paths))
    jobs = [(e["id"], files[e["id"]], int(e["label_index"])) for e in images]
    _, rows = run_jobs(cfg, build_worker, jobs, args=(store,), desc="L2 deletion/insertion")
    out = paths.get("faithfulness_eval")
    save_npz(out, ids=[e["id"] for e in images], kinds=[*kinds(index), "random"], **stack(rows))
    return f"{len(images)} images x {len(kinds(index))} map kinds + random -> {out}"


if __name__ == "__main__":
    stage_main("eval_faithfulness", run)
