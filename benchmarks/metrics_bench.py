"""Speed of the evaluation metrics (rwgan.metrics) at 256x256 on this machine.

``run(n_images)`` times, on ``n_images`` seeded random image pairs:

- l1/l2/PSNR/SSIM with :func:`rwgan.metrics.pixel_metrics` (batched torch, with torch's
  threads and with one), and the same four metrics with scikit-image one image at a
  time (the speed-ups are the ratios);
- the same with LPIPS (VGG) added;
- FID: Inception feature extraction, extrapolated to seconds per 1,000 images, and the
  statistics of one pair of 2,000-image sets (a CelebA-HQ bin): FID, and KID over 100
  subsets of 1,000 (each as :func:`rwgan.metrics.fid_kid_from_features` computes it).

LPIPS and the Inception features need the pretrained weights (``rwgan fetch-weights``);
without them their entries are replaced by a ``*_skipped`` reason.  The content of the
images does not change the cost of any of these metrics, so random images stand in for
composites.  Other work on the machine slows every number, torch's multi-threaded
kernels most (the suite records the load average); the ``*_cpu_s_per_image`` figures (this
process's CPU seconds, all threads) are the work itself, which the planner
(:mod:`pipeline.plan`) uses.
"""
from __future__ import annotations

import functools

import numpy as np
import torch
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity
from torch_fidelity.metric_kid import kid_features_to_metric

from benchmarks.harness import Timing, compare, measure
from rwgan.assets import fid_feature_extractor
from rwgan.data import image_to_tensor
from rwgan.device import autocast, autocast_dtype, cpu_has_bf16
from rwgan.errors import RwganError
from rwgan.metrics import (
    KID_SUBSET_SIZE,
    KID_SUBSETS,
    LPIPS,
    fid_kid_from_features,
    inception_features,
    pixel_metrics,
)

IMAGE_SIZE = 256


def _image_pairs(n_images: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    target = rng.integers(0, 256, (n_images, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    noise = rng.integers(-20, 21, target.shape)
    return np.clip(target + noise, 0, 255).astype(np.uint8), target


def _skimage_loop(pred: np.ndarray, target: np.ndarray) -> None:
    for p, t in zip(pred, target):
        np.abs(p.astype(np.float64) - t).mean()
        mean_squared_error(t, p)
        peak_signal_noise_ratio(t, p, data_range=255)
        structural_similarity(
            p, t, channel_axis=-1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255
        )


def _once(function, *args, **kwargs) -> Timing:
    """One timed call (wall and this process's CPU seconds, all threads)."""
    return measure(functools.partial(function, *args, **kwargs), 0, 1)


def scoring_options(n_images: int, lpips: LPIPS, extractor: torch.nn.Module) -> dict:
    """LPIPS and the Inception features as evaluated (fp32, channels-last), contiguous and in
    bf16 autocast, on ``n_images`` 256x256 pairs: images/s and the largest difference from
    the evaluated values (LPIPS: absolute; features: relative to their largest magnitude;
    and the FID between the option's features and the evaluated ones of the same images)."""
    images = _image_pairs(n_images)
    pred, target = (image_to_tensor(batch) for batch in images)
    bf16 = autocast_dtype("cpu", "bf16") if cpu_has_bf16() else None

    def lpips_call(memory_format, dtype=None):
        def call():
            lpips.memory_format = memory_format
            try:
                with torch.inference_mode(), autocast("cpu", dtype):
                    return lpips(pred, target).float()
            finally:
                lpips.memory_format = torch.channels_last
        return call

    calls = {"fp32+channels_last (evaluated)": lpips_call(torch.channels_last),
             "fp32, contiguous": lpips_call(torch.contiguous_format)}
    if bf16 is not None:
        calls["bf16+channels_last"] = lpips_call(torch.channels_last, bf16)
    outputs = {name: call() for name, call in calls.items()}  # also the warm-up
    reference = outputs["fp32+channels_last (evaluated)"]
    timings = compare(calls, 0, 1)
    results = {"n_images": n_images,
               "lpips": {name: {"images_per_s": n_images / timing.median_s,
                                "max_abs_difference": float((outputs[name] - reference).abs().max())}
                         for name, timing in timings.items()}}
    def features_call(dtype=None):
        def call():  # the evaluated path, rwgan.metrics.inception_features, in one batch
            with autocast("cpu", dtype):
                return inception_features(images[0], extractor, batch_size=n_images)
        return call

    feature_calls = {"fp32+channels_last (evaluated)": features_call()}
    if bf16 is not None:
        feature_calls["bf16+channels_last"] = features_call(bf16)
    features = {name: call() for name, call in feature_calls.items()}
    reference = features["fp32+channels_last (evaluated)"]
    timings = compare(feature_calls, 0, 1)
    results["inception"] = {
        name: {"images_per_s": n_images / timing.median_s,
               "max_relative_difference": float(np.abs(features[name] - reference).max() / np.abs(reference).max()),
               "fid_to_fp32": fid_kid_from_features(reference, features[name], kid_subsets=0)["fid"]}
        for name, timing in timings.items()}
    return results


def run(n_images: int) -> dict:
    """Throughput of the metrics on ``n_images`` 256x256 pairs, CPU; a flat dict of numbers."""
    if n_images < 2:
        raise RwganError(f"n_images: expected at least 2 images (FID needs 2), got {n_images}")
    pred, target = _image_pairs(n_images)
    pixel_metrics(pred[:2], target[:2])  # warm-up: first-call allocations
    batched = _once(pixel_metrics, pred, target)
    batched, batched_cpu = batched.median_s, batched.cpu_s
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # scikit-image runs on one core: compare like with like too
    try:
        batched_one_thread = _once(pixel_metrics, pred, target).median_s
    finally:
        torch.set_num_threads(threads)
    loop = _once(_skimage_loop, pred, target).median_s
    results = {
        "n_images": n_images,
        "image_size": IMAGE_SIZE,
        "torch_threads": threads,
        "pixel_metrics_images_per_s": n_images / batched,
        "pixel_metrics_cpu_s_per_image": batched_cpu / n_images,
        "pixel_metrics_one_thread_images_per_s": n_images / batched_one_thread,
        "skimage_loop_images_per_s": n_images / loop,
        "batched_speedup_over_skimage": loop / batched,
        "batched_one_thread_speedup_over_skimage": loop / batched_one_thread,
    }
    try:
        lpips = LPIPS()
    except RwganError as exc:
        results["lpips_skipped"] = str(exc)
    else:
        with_lpips = _once(pixel_metrics, pred, target, lpips=lpips)
        with_lpips, with_lpips_cpu = with_lpips.median_s, with_lpips.cpu_s
        results["pixel_metrics_with_lpips_images_per_s"] = n_images / with_lpips
        results["pixel_metrics_with_lpips_cpu_s_per_image"] = with_lpips_cpu / n_images
    try:
        extractor = fid_feature_extractor()
    except RwganError as exc:
        results["fid_skipped"] = str(exc)
    else:
        extraction = _once(inception_features, pred, extractor)
        extraction, extraction_cpu = extraction.median_s, extraction.cpu_s
        results["fid_features_s_per_1000_images"] = extraction / n_images * 1000
        results["fid_features_cpu_s_per_image"] = extraction_cpu / n_images
    # The statistics' cost is set by the 2048-d covariance (FID) and by the 100 subsets of
    # 1,000 samples (KID), not by the image content: time them on random features.
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(2, 2000, 2048))
    results["fid_statistics_s"] = _once(fid_kid_from_features, real, fake, kid_subsets=0).median_s
    results["kid_statistics_s"] = _once(
        kid_features_to_metric,
        torch.from_numpy(real),
        torch.from_numpy(fake),
        kid_subsets=KID_SUBSETS,
        kid_subset_size=KID_SUBSET_SIZE,
        rng_seed=0,
        verbose=False,
    ).median_s
    return results
