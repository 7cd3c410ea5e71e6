"""The paper's metric protocol (EdgeConnect's) against scikit-image; bootstrap intervals; FID/KID thresholds."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from skimage.color import rgb2gray
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity

from rwgan import io
from rwgan.errors import RwganError
from rwgan.metrics import PROTOCOLS, edgeconnect_metrics, pixel_metrics, protocol_metrics
from rwgan.uncertainty import FID_MIN_IMAGES, KID_MIN_IMAGES, bootstrap_interval, reliable

CELEBA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "celebahq-256"


def _edgeconnect_by_skimage(pred: np.ndarray, target: np.ndarray) -> dict[str, np.ndarray]:
    """EdgeConnect's scripts/metrics.py, one image at a time, with scikit-image's own functions
    (in float64; EdgeConnect cast to float32)."""
    values = {"L1": [], "L2": [], "PSNR": [], "SSIM": []}
    for p, t in zip(pred, target):
        gray_true, gray_pred = rgb2gray(t / 255.0), rgb2gray(p / 255.0)
        values["SSIM"].append(structural_similarity(gray_true, gray_pred, win_size=51, data_range=1))
        values["PSNR"].append(peak_signal_noise_ratio(gray_true, gray_pred, data_range=1))
        values["L1"].append(np.sum(np.abs(gray_true - gray_pred)) / np.sum(gray_true + gray_pred))
        values["L2"].append(mean_squared_error(gray_true, gray_pred))
    return {name: np.array(v) for name, v in values.items()}


def _assert_matches(pred: np.ndarray, target: np.ndarray) -> None:
    ours, reference = edgeconnect_metrics(pred, target), _edgeconnect_by_skimage(pred, target)
    assert set(ours) == set(reference)
    for name in ours:
        assert ours[name].dtype == np.float64 and ours[name].shape == (len(pred),)
        np.testing.assert_allclose(ours[name], reference[name], rtol=1e-9, atol=1e-9, err_msg=name)


def _noisy(images: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, sigma, images.shape)
    return np.clip(images + np.rint(noise), 0, 255).astype(np.uint8)


def test_edgeconnect_protocol_equals_scikit_image_on_random_images():
    rng = np.random.default_rng(0)
    target = rng.integers(0, 256, (4, 60, 75, 3), dtype=np.uint8)  # non-square, just over the 51 window
    pred = np.concatenate([_noisy(target[:2], 15, 1), rng.integers(0, 256, (2, 60, 75, 3), dtype=np.uint8)])
    _assert_matches(pred, target)


def test_edgeconnect_protocol_equals_scikit_image_on_real_faces():
    if not CELEBA.is_dir():
        pytest.skip(f"{CELEBA} not found (the shared test images are absent)")
    faces = np.stack([io.read_image(path, 256) for path in io.list_images(CELEBA)[:4]])
    _assert_matches(np.concatenate([_noisy(faces[:2], 8, 2), faces[2:][::-1]]), faces)


def test_edgeconnect_mae_is_relative_by_hand():
    target = np.full((1, 51, 51, 3), 102, np.uint8)  # gray 0.4 (the weights sum to 1)
    pred = np.full((1, 51, 51, 3), 153, np.uint8)  # gray 0.6
    result = edgeconnect_metrics(pred, target)
    assert result["L1"][0] == pytest.approx(0.2 / 1.0, rel=1e-12)  # |0.6 - 0.4| / (0.6 + 0.4)
    assert result["L2"][0] == pytest.approx(0.04, rel=1e-12)
    assert result["PSNR"][0] == pytest.approx(10 * math.log10(1 / 0.04), rel=1e-12)


def test_identical_images_get_the_documented_psnr_bound():
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (2, 52, 60, 3), dtype=np.uint8)
    result = edgeconnect_metrics(image, image)
    bound = 10 * math.log10(52 * 60 / (1e-4 / 255) ** 2)
    np.testing.assert_allclose(result["PSNR"], bound, rtol=1e-12)
    np.testing.assert_array_equal(result["L1"], 0)
    np.testing.assert_allclose(result["SSIM"], 1, rtol=1e-12)
    black = np.zeros((1, 51, 51, 3), np.uint8)
    assert edgeconnect_metrics(black, black)["L1"][0] == 0  # 0 / 0 is defined as 0
    # The bound is the PSNR of the smallest gray difference two 8-bit pixels can have:
    # 0.2125 r + 0.7154 g + 0.0721 b = 1e-4 for (r, g, b) = (44, -17, 39) levels.
    assert 2125 * 44 + 7154 * -17 + 721 * 39 == 1
    pred = image[:1].copy()
    pred[0, 0, 0] = [44, 0, 39]
    target = image[:1].copy()
    target[0, 0, 0] = [0, 17, 0]
    assert edgeconnect_metrics(pred, target)["PSNR"][0] == pytest.approx(bound, rel=1e-9)


def test_protocols_by_name():
    rng = np.random.default_rng(4)
    target = rng.integers(0, 256, (2, 56, 56, 3), dtype=np.uint8)
    pred = _noisy(target, 10, 5)
    assert tuple(PROTOCOLS) == ("rwgan", "edgeconnect")
    for protocol, function in (("rwgan", pixel_metrics), ("edgeconnect", edgeconnect_metrics)):
        ours, direct = protocol_metrics(protocol, pred, target), function(pred, target)
        assert all(np.array_equal(ours[name], direct[name]) for name in direct)
    # The two protocols measure different things: gray relative MAE vs RGB mean error.
    assert not np.allclose(protocol_metrics("rwgan", pred, target)["L1"], protocol_metrics("edgeconnect", pred, target)["L1"])
    with pytest.raises(RwganError, match=r"protocol: unknown 'paper' \(expected one of rwgan, edgeconnect\)"):
        protocol_metrics("paper", pred, target)
    with pytest.raises(RwganError, match=r"images of 50x51 are smaller than the edgeconnect protocol's 51x51 SSIM window"):
        edgeconnect_metrics(np.zeros((1, 51, 50, 3), np.uint8), np.zeros((1, 51, 50, 3), np.uint8))


# ----------------------------------------------------------------------------- bootstrap
def test_bootstrap_is_deterministic_per_seed():
    values = np.random.default_rng(6).normal(30, 4, 200)
    first = bootstrap_interval(values, seed=1)
    assert bootstrap_interval(values, seed=1) == first
    assert bootstrap_interval(values, seed=2) != first
    low, high = first
    assert low < values.mean() < high


def test_bootstrap_known_cases():
    assert bootstrap_interval([0.25]) == (0.25, 0.25)
    assert bootstrap_interval([3.0] * 10) == pytest.approx((3.0, 3.0))
    # Two values: the resampled means are 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4, so
    # the 2.5% and 97.5% quantiles of 1,000 resamples are 0 and 1.
    assert bootstrap_interval([0.0, 1.0]) == (0.0, 1.0)
    # The mean of n normal values has standard error sigma / sqrt(n): the 95% interval's
    # width is about 2 * 1.96 sigma / sqrt(n).
    values = np.random.default_rng(7).normal(0, 1, 400)
    low, high = bootstrap_interval(values, resamples=4000)
    assert high - low == pytest.approx(2 * 1.96 / 20, rel=0.1)


def test_bootstrap_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(8)
    trials = 400
    covered = 0
    for trial in range(trials):
        low, high = bootstrap_interval(rng.exponential(1.0, 60), seed=trial)  # skewed, true mean 1
        covered += low <= 1.0 <= high
    assert 0.90 <= covered / trials <= 0.98  # percentile intervals under-cover slightly at n = 60


@pytest.mark.parametrize(
    "values, kwargs, message",
    [([], {}, "non-empty 1-D"), ([1.0, math.nan], {}, "finite"), ([[1.0]], {}, "1-D"),
     ([1.0], {"resamples": 0}, "resamples: expected a positive integer"), ([1.0], {"level": 1.0}, "level")],
)
def test_bootstrap_bad_input(values, kwargs, message):
    with pytest.raises(RwganError, match=message):
        bootstrap_interval(values, **kwargs)


def test_fid_and_kid_thresholds():
    assert FID_MIN_IMAGES == 2049 and KID_MIN_IMAGES == 1000
    assert not reliable("FID", 2000) and reliable("FID", 2049)  # the paper's 2,000 per bin is flagged
    assert not reliable("KID", 999) and reliable("KID", 1000)
    with pytest.raises(RwganError, match="no reliability threshold for 'SSIM'"):
        reliable("SSIM", 10)
