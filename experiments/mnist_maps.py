"""Stage mnist_maps: Fig 8's maps. For the first test image of each digit (0-9), the vanilla
gradient and SmoothGrad of the true digit's logit, from the clean- and the noise-trained nets.

Writes `<mnist.checkpoint_dir>/maps.npz`: `index`, `label`, `image` (10, 28, 28) in [0, 1] and,
for model in {clean, noisy}, `<model>/prediction` and `<model>/{gradient,smoothgrad}` (10, 28, 28).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig

from smoothgrad.attribution import Gradient, SmoothGrad
from smoothgrad.config import stage_main
from smoothgrad.data.mnist import first_of_each_digit, load_mnist
from smoothgrad.device import resolve_device
from smoothgrad.io import save_npz
from smoothgrad.mnist_training import to_pixels
from smoothgrad.models.mnist_cnn import build_mnist_cnn


def run(cfg: DictConfig) -> None:
    device = resolve_device(cfg.device)
    images, labels = load_mnist(cfg.mnist.data_dir, "test")
    index = first_of_each_digit(labels)
    x, target = to_pixels(images[index]).to(device), labels[index].to(device)
    arrays = {"index": np.array(index), "label": labels[index].numpy(),
              "image": x[:, 0].cpu().numpy()}
    sg = cfg.smoothgrad
    for name in ("clean", "noisy"):
        net = build_mnist_cnn(str(Path(cfg.mnist.checkpoint_dir) / f"{name}.pt")).to(device).net
        gradient = Gradient(net, precision=cfg.precision)
        # aggregate="mean" whatever cfg says: Fig 8 shows signed maps, which "squared" loses.
        smoothgrad = SmoothGrad(gradient, noise_level=sg.noise_level, n_samples=sg.n_samples,
                                aggregate="mean", batch_size=sg.batch_size, seed=cfg.seed)
        with torch.no_grad():
            arrays[f"{name}/prediction"] = net(x).argmax(1).cpu().numpy()
        arrays[f"{name}/gradient"] = gradient.attribute(x, target)[:, 0].cpu().numpy()
        arrays[f"{name}/smoothgrad"] = smoothgrad.attribute(x, target)[:, 0].cpu().numpy()
    save_npz(Path(cfg.mnist.checkpoint_dir) / "maps.npz", **arrays)
    print(f"mnist_maps: digits at test indices {index}; SmoothGrad sigma={sg.noise_level}, "
          f"n={sg.n_samples}")


if __name__ == "__main__":
    stage_main(run)
