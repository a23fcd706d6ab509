"""Stage `maps`: every method's map of every configured image, stored once for the figures."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from smoothgrad.config import stage_main
from smoothgrad.maps import compute_map_store, load_predictions, setup_model


def run(cfg: DictConfig) -> None:
    bundle, device = setup_model(cfg)
    predictions = load_predictions(cfg)
    store = Path(cfg.paths.artifacts) / "maps"
    n_maps = compute_map_store(cfg, bundle, predictions, store, device)
    print(f"maps: {n_maps} maps of {len(predictions)} images ({bundle.name}) -> {store}")


if __name__ == "__main__":
    stage_main(run)
