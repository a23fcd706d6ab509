"""The paper's visualization rules on small hand-made maps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from smoothgrad.viz import abs_grayscale, class_difference, signed_diverging, times_input


def ramp() -> np.ndarray:
    """(3, 10, 10) map whose channel-summed |value| is 0, 1, ..., 99 with alternating signs."""
    values = np.arange(100, dtype=np.float32).reshape(10, 10)
    signs = np.where(np.arange(100).reshape(10, 10) % 2, -1.0, 1.0)
    return np.stack([values * signs, np.zeros_like(values), np.zeros_like(values)])


def test_abs_grayscale_sums_abs_over_channels_and_caps_outliers() -> None:
    m = ramp()
    gray = abs_grayscale(m, percentile=99)
    assert gray.shape == (10, 10) and gray.dtype == np.float32
    cap = np.percentile(np.arange(100), 99)
    np.testing.assert_allclose(gray.ravel(), np.clip(np.arange(100) / cap, 0, 1), rtol=1e-6)
    assert gray.min() == 0 and gray.max() == 1
    # a single huge outlier does not wash out the rest
    m[0, 9, 9] = 1e9
    assert abs_grayscale(m)[5, 5] == pytest.approx(55 / np.percentile(np.r_[np.arange(99), 1e9],
                                                                      99))
    mixed = np.stack([np.ones((2, 2)), -np.ones((2, 2))])
    np.testing.assert_array_equal(abs_grayscale(mixed), np.ones((2, 2)))  # |.| before sum


def test_signed_diverging_keeps_sign_and_caps_symmetrically() -> None:
    signed = signed_diverging(ramp(), percentile=100)
    expected = ramp()[0] / 99
    np.testing.assert_allclose(signed, expected, rtol=1e-6)
    assert signed.min() >= -1 and signed.max() <= 1
    capped = signed_diverging(ramp(), percentile=50)
    assert capped.max() == 1 and capped.min() == -1
    assert np.sign(capped[3, 3]) == np.sign(ramp()[0, 3, 3])


def test_accepts_torch_and_zero_maps() -> None:
    t = torch.from_numpy(ramp())
    np.testing.assert_array_equal(abs_grayscale(t), abs_grayscale(ramp()))
    assert not abs_grayscale(np.zeros((3, 4, 4))).any()
    assert not signed_diverging(torch.zeros(1, 4, 4)).any()
    with pytest.raises(ValueError, match="expected a"):
        abs_grayscale(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match="percentile must be in"):
        abs_grayscale(ramp(), percentile=0)


def test_times_input_zeroes_black_pixels() -> None:
    m = np.full((3, 2, 2), 2.0, dtype=np.float32)
    pixels = torch.tensor([[[0.0, 0.5], [1.0, 0.25]]]).expand(3, 2, 2)
    product = times_input(m, pixels)
    assert isinstance(product, np.ndarray) and product.dtype == np.float32
    np.testing.assert_array_equal(product[0], [[0.0, 1.0], [2.0, 0.5]])
    with pytest.raises(ValueError, match="same shape"):
        times_input(m, np.zeros((1, 2, 2)))


def test_class_difference_of_scaled_maps() -> None:
    a = np.zeros((3, 2, 2), dtype=np.float32)
    b = np.zeros((3, 2, 2), dtype=np.float32)
    a[0, 0, 0], b[1, 1, 1] = 5.0, -300.0  # different scales: each is scaled to [0, 1] first
    diff = class_difference(a, b, percentile=100)
    np.testing.assert_array_equal(diff, [[1.0, 0.0], [0.0, -1.0]])
