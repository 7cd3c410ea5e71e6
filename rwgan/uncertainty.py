"""How sure each number is: bootstrap intervals for per-image means, FID/KID reliability.

- :func:`bootstrap_interval`: the seeded percentile-bootstrap interval (Efron & Tibshirani
  1993, ch. 13) of the mean of per-image values (l1, l2, PSNR, SSIM, LPIPS of one bin).
  It is about the images and masks drawn, not about training runs: a second trained model
  can differ by more.
- :data:`MIN_IMAGES` and :func:`reliable`: the image count below which a bin's FID or KID
  is flagged unreliable.

  * **FID** needs more images than the 2,048 Inception pool3 features
    (:data:`FID_MIN_IMAGES` = 2,049).  With fewer, the covariance estimate is singular: the
    FID authors' reference implementation says the number of samples "should be greater
    than the dimension of the coding layer, here 2048" and recommends at least 10,000,
    "otherwise the true FID of the generator is underestimated" (bioinf-jku/TTUR,
    README).  Chong & Forsyth ("Effectively Unbiased FID and Inception Score and where to
    find them", CVPR 2020, arXiv:1911.07023) show that FID over N images is biased by a
    term ~1/N whose size depends on the generator, so even two methods scored on the same
    N can be ranked wrongly when N is small.  The paper's bins (2,000 images) sit just
    below the threshold and are flagged too; every bin of the small profiles is.
  * **KID** is unbiased at any size (Binkowski et al. 2018), but its estimate is the mean
    over random subsets of ``KID_SUBSET_SIZE`` = 1,000 images (torch-fidelity's default,
    :data:`rwgan.metrics.KID_SUBSET_SIZE`); below that, subsets of the standard size
    cannot be drawn and its variance grows, so :data:`KID_MIN_IMAGES` = 1,000.
"""
from __future__ import annotations

import numpy as np

from rwgan.errors import RwganError
from rwgan.metrics import KID_SUBSET_SIZE

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_LEVEL = 0.95
BOOTSTRAP_SEED = 0

FID_FEATURES = 2048  # Inception pool3 width
FID_MIN_IMAGES = FID_FEATURES + 1
KID_MIN_IMAGES = KID_SUBSET_SIZE
#: Per-bin metric -> the least number of images for which it is reported as reliable.
MIN_IMAGES = {"FID": FID_MIN_IMAGES, "KID": KID_MIN_IMAGES}


def bootstrap_interval(
    values,
    resamples: int = BOOTSTRAP_RESAMPLES,
    level: float = BOOTSTRAP_LEVEL,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float]:
    """The percentile-bootstrap ``level`` interval of the mean of ``values`` (1-D, finite).

    ``resamples`` resamples of n values with replacement are drawn at once from
    ``numpy.random.default_rng(seed)``; the interval is the (1 - level) / 2 and
    (1 + level) / 2 quantiles of their means (numpy's linear interpolation).  The same
    values and seed give the same interval on every run.  One value, or equal values,
    give the degenerate interval (v, v).
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or len(values) == 0 or not np.isfinite(values).all():
        raise RwganError(f"values: expected a non-empty 1-D array of finite numbers, got shape {values.shape}")
    if not isinstance(resamples, int) or resamples < 1:
        raise RwganError(f"resamples: expected a positive integer, got {resamples!r}")
    if not 0 < level < 1:
        raise RwganError(f"level: expected a probability in (0, 1), got {level!r}")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def reliable(metric: str, n: int) -> bool:
    """Whether a per-bin ``metric`` ("FID" or "KID") over ``n`` images is reliable
    (``n >= MIN_IMAGES[metric]``, see the module docstring)."""
    if metric not in MIN_IMAGES:
        raise RwganError(f"metric: no reliability threshold for {metric!r} (expected one of {', '.join(MIN_IMAGES)})")
    return n >= MIN_IMAGES[metric]
