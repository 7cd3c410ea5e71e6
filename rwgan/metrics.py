"""Evaluation metrics on final composites (paper Sec. IV-A), batched in torch.

The paper scores the final 256x256 composite ``I_c2`` against the ground truth with
l1 and l2 error, PSNR, SSIM and FID (Tables I-III, Fig. 10); LPIPS and KID are
reported beside them.  Every function here takes images as saved: ``uint8`` arrays
or tensors of shape (N, H, W, 3), RGB, 0..255.

- :data:`METRIC_TABLE`: the one definition of each metric (:class:`Metric`: its name,
  per image or per bin, display scale, better direction, decimals, protocols), read by the
  evaluation, the tables, the figures and the regression check.
- :func:`pixel_metrics`: per-image l1, l2, PSNR, SSIM (and LPIPS when given the
  module).  l1 and l2 are the mean absolute / squared error on [0, 1] (the report
  multiplies them by 1e3); PSNR and SSIM equal scikit-image's
  ``peak_signal_noise_ratio(data_range=255)`` and ``structural_similarity(
  channel_axis=-1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
  data_range=255)`` (Wang et al. 2004).
- :func:`edgeconnect_metrics`: the same four numbers under the protocol the paper says it
  follows (Sec. IV-A: EdgeConnect's ``scripts/metrics.py``), on grayscale;
  :func:`protocol_metrics` returns either protocol's per-image values by name
  (:data:`PROTOCOLS`).  Per-image values are keyed by the metric table's names
  (``"L1"``, ``"L2"``, ``"PSNR"``, ``"SSIM"``, ``"LPIPS"``).
- :class:`LPIPS`: the learned perceptual distance (Zhang et al. 2018), VGG16, v0.1.
- :func:`inception_features`, :func:`fid_kid_from_features`, :func:`fid_and_kid`:
  FID and KID over sets of images with torch-fidelity's Inception (pool3, 2048-d)
  and statistics, offline weights from :mod:`rwgan.assets`.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage
from skimage.color import rgb2gray
from torch import nn

from rwgan.errors import RwganError

# SSIM constants (Wang et al. 2004; scikit-image with gaussian_weights=True).
SSIM_SIGMA = 1.5
SSIM_RADIUS = int(3.5 * SSIM_SIGMA + 0.5)  # scipy.ndimage's radius for truncate=3.5: 5, an 11-tap window
SSIM_K1, SSIM_K2 = 0.01, 0.03
# SSIM is computed in float32 on values shifted by this centre: E[x^2] - E[x]^2 then cancels on
# magnitudes <= 127.5^2 instead of 255^2, which keeps float32 within 2e-5 of scikit-image's float64
# even on flat images with +-1 noise, the worst case (measured 1.6e-5; without the shift 7.4e-5).
_SSIM_CENTRE = 127.5

#: The metric protocols (:func:`protocol_metrics`), name -> what it computes: "rwgan" is
#: :func:`pixel_metrics`, "edgeconnect" (the paper's, Sec. IV-A) :func:`edgeconnect_metrics`.
PROTOCOLS = {
    "rwgan": "RGB 0..255; L1, L2 the mean absolute / squared error on [0, 1]; PSNR data range 1; "
             "SSIM Gaussian window (sigma 1.5), per channel",
    "edgeconnect": "the paper's (Sec. IV-A), EdgeConnect's scripts/metrics.py: gray (skimage rgb2gray) on [0, 1]; "
                   "L1 its 'MAE' sum|a - b| / sum(a + b); L2 the gray mean squared error (EdgeConnect has no l2: "
                   "the quantity its PSNR is computed from); PSNR data range 1; SSIM uniform 51x51 window",
}
EDGECONNECT_SSIM_WINDOW = 51  # EdgeConnect's compare_ssim(..., win_size=51): a uniform 51x51 window
# skimage.color.rgb2gray's weights have 4 decimals with gcd 1 (2125, 7154, 721): the smallest
# non-zero gray difference two 8-bit RGB pixels can have is 1e-4 of a level (e.g. channel
# differences of 44, -17 and 39 levels), the floor of edgeconnect_metrics' PSNR.
_GRAY_STEP = 1e-4 / 255

KID_SUBSET_SIZE = 1000  # torch-fidelity's default
KID_SUBSETS = 100
#: The FID/KID features, as the tables name them.
FID_BACKEND = "torch-fidelity's TF-Inception features (pool3, 2048-d)"


@dataclass(frozen=True)
class Metric:
    """The one definition of a metric, read wherever metrics are computed, stored or shown.

    - ``name``: its only id: params ``evaluate.metrics`` and ``report.metrics``, the columns of
      per_image.csv, the ``metric`` of summary.csv and metrics.csv, .ci/tolerances.yaml, the
      paper's tables in ``reference/paper``;
    - ``per``: ``"image"`` (a value per composite; a bin reports their mean, with an
      interval) or ``"bin"`` (one value over a bin's images);
    - ``scale``: a value is stored as computed and shown as ``value * scale``; l1 and l2 are
      shown x1e3, the paper's "(10^-3)" unit, in which reference/paper holds them;
    - ``higher_is_better``: the better direction (tables' arrows, the regression check);
    - ``decimals``: decimals shown in tables;
    - ``protocols``: the :data:`PROTOCOLS` that define it, each its own way.  LPIPS, FID and KID
      have one definition, on RGB, computed and stored under ``"rwgan"`` only, and shown
      beside any protocol's other metrics (:meth:`stored_under`).
    """

    name: str
    per: str
    scale: float
    higher_is_better: bool
    decimals: int
    protocols: tuple[str, ...]

    @property
    def label(self) -> str:
        """The name as tables and figures show it, with its unit and better direction: ``L1 (1e-3) ↓``."""
        unit = f" (1e{-round(math.log10(self.scale))})" if self.scale != 1 else ""
        return f"{self.name}{unit} {'↑' if self.higher_is_better else '↓'}"

    def shown(self, value: float) -> float:
        """``value`` on the display scale."""
        return value * self.scale

    def stored_under(self, protocol: str) -> str:
        """The protocol whose rows hold this metric for a table of ``protocol``: itself where the
        metric is defined under it, else the metric's single (RGB) definition's."""
        if protocol not in PROTOCOLS:
            raise RwganError(f"protocol: unknown {protocol!r} (expected one of {', '.join(PROTOCOLS)})")
        return protocol if protocol in self.protocols else self.protocols[0]


_BOTH = tuple(PROTOCOLS)
#: Every metric, in the order tables and files list them.
METRIC_TABLE = {
    metric.name: metric
    for metric in (
        Metric("L1", "image", 1e3, False, 2, _BOTH),
        Metric("L2", "image", 1e3, False, 2, _BOTH),
        Metric("PSNR", "image", 1.0, True, 2, _BOTH),
        Metric("SSIM", "image", 1.0, True, 3, _BOTH),
        Metric("LPIPS", "image", 1.0, False, 3, ("rwgan",)),
        Metric("FID", "bin", 1.0, False, 2, ("rwgan",)),
        Metric("KID", "bin", 1.0, False, 4, ("rwgan",)),
    )
}


# LPIPS v0.1 input scaling (lpips.pretrained_networks.ScalingLayer) and the torchvision VGG16
# `features` slices ending at relu1_2, relu2_2, relu3_3, relu4_3, relu5_3.
_LPIPS_SHIFT = (-0.030, -0.088, -0.188)
_LPIPS_SCALE = (0.458, 0.448, 0.450)
_LPIPS_VGG_SLICES = ((0, 4), (4, 9), (9, 16), (16, 23), (23, 30))
_LPIPS_EPS = 1e-10


def _as_uint8_tensor(images, name: str) -> torch.Tensor:
    """``images`` as a uint8 tensor (N, H, W, 3), sharing memory where possible."""
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(np.ascontiguousarray(images))  # torch refuses negative strides
    elif not isinstance(images, torch.Tensor):
        raise RwganError(f"{name}: expected a uint8 array of shape (N, H, W, 3), got {type(images).__name__}")
    if images.dtype != torch.uint8:
        raise RwganError(f"{name}: expected uint8 images (0..255), got {images.dtype}")
    if images.ndim != 4 or images.shape[-1] != 3:
        raise RwganError(f"{name}: expected shape (N, H, W, 3), got {tuple(images.shape)}")
    return images


def _check_pair(pred, target) -> tuple[torch.Tensor, torch.Tensor]:
    pred, target = _as_uint8_tensor(pred, "pred"), _as_uint8_tensor(target, "target")
    if pred.shape != target.shape:
        raise RwganError(
            f"pred: shape {tuple(pred.shape)} differs from target's {tuple(target.shape)} (expected the same)"
        )
    return pred, target


def _gaussian_window() -> list[float]:
    """scipy.ndimage's 1-D Gaussian (sigma 1.5, truncate 3.5): 11 taps summing to 1."""
    offsets = np.arange(-SSIM_RADIUS, SSIM_RADIUS + 1)
    window = np.exp(-0.5 * (offsets / SSIM_SIGMA) ** 2)
    return (window / window.sum()).tolist()


def _filter_valid(maps: torch.Tensor, dim: int) -> torch.Tensor:
    """Correlate ``maps`` with the SSIM Gaussian along ``dim``, keeping only the positions
    the window fits in (the size shrinks by 2 * SSIM_RADIUS).

    A sum of 11 shifted slices: on CPU several times faster than ``conv2d`` with a
    single-channel 11x1 kernel.
    """
    length = maps.shape[dim] - 2 * SSIM_RADIUS
    window = _gaussian_window()
    out = maps.narrow(dim, 0, length) * window[0]
    for offset, weight in enumerate(window[1:], start=1):
        out.add_(maps.narrow(dim, offset, length), alpha=weight)
    return out


def _ssim(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean SSIM per image of uint8 (B, H, W, 3) tensors -> float64 (B,).

    scikit-image filters with mode 'reflect' and then crops ``SSIM_RADIUS`` pixels
    from every border before averaging; the kept pixels never see the padding, so
    a 'valid' separable filter gives the same map without padding at all.  The mean
    over pixels and channels equals scikit-image's mean of the per-channel means.
    """
    x = pred.float() - _SSIM_CENTRE
    y = target.float() - _SSIM_CENTRE
    moments = torch.stack([x, y, x * x, y * y, x * y])  # (5, B, H, W, 3)
    moments = _filter_valid(_filter_valid(moments, dim=2), dim=3)
    mu_x, mu_y, e_xx, e_yy, e_xy = moments.unbind(0)
    var_x, var_y, cov_xy = e_xx - mu_x * mu_x, e_yy - mu_y * mu_y, e_xy - mu_x * mu_y
    ssim_map = _ssim_map(mu_x + _SSIM_CENTRE, mu_y + _SSIM_CENTRE, var_x, var_y, cov_xy, data_range=255)
    return ssim_map.double().mean(dim=(1, 2, 3))


def _ssim_map(mu_x, mu_y, var_x, var_y, cov_xy, data_range: float):
    """SSIM at each position from the window's moments (Wang et al. 2004, eq. 13), tensors or arrays."""
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    return ((2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)) / ((mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2))


def pixel_metrics(
    pred,
    target,
    lpips: LPIPS | None = None,
    batch_size: int = 4,
    device: str | torch.device = "cpu",
) -> dict[str, np.ndarray]:
    """Per-image l1, l2, PSNR and SSIM (and LPIPS) of ``pred`` against ``target``.

    Args:
        pred, target: uint8 arrays or tensors (N, H, W, 3), RGB 0..255, H and W >= 11
            (the SSIM window); typically the composite ``I_c2`` and the ground truth.
        lpips: an :class:`LPIPS` module (on ``device``) to add the ``"LPIPS"`` key.
        batch_size: images moved to ``device`` and processed at once (4 keeps the SSIM maps in
            a CPU's cache; a GPU wants more).

    Returns:
        float64 arrays of shape (N,) under ``"L1"``, ``"L2"`` (mean absolute / squared
        error on [0, 1]), ``"PSNR"`` (dB, data range 1 on [0, 1]), ``"SSIM"`` (mean of
        the 3 channels' SSIM) and, with ``lpips``, ``"LPIPS"``.  l1, l2 and PSNR are
        exact (integer sums).  PSNR of identical images is infinite by definition; it is
        reported as the finite bound ``10 log10(255^2 * H * W * 3)`` instead (101.0 dB at
        256x256), the PSNR of the smallest possible difference, one channel of one pixel
        off by one: a perfect image still ranks above every other, and bin means stay
        finite and nan-free.
    """
    pred, target = _check_pair(pred, target)
    count, height, width, _ = pred.shape
    if min(height, width) < 2 * SSIM_RADIUS + 1:
        raise RwganError(f"pred: images of {width}x{height} are smaller than the 11x11 SSIM window")
    if batch_size < 1:
        raise RwganError(f"batch_size: expected a positive integer, got {batch_size}")
    values = 3 * height * width
    names = ("L1", "L2", "PSNR", "SSIM") + (("LPIPS",) if lpips is not None else ())
    results = {name: np.empty(count, dtype=np.float64) for name in names}
    with torch.inference_mode():
        for start in range(0, count, batch_size):
            rows = slice(start, start + batch_size)
            p, t = pred[rows].to(device), target[rows].to(device)
            diff = p.int() - t.int()
            abs_sum = diff.abs().sum(dim=(1, 2, 3), dtype=torch.int64).cpu().numpy()
            sq_sum = (diff * diff).sum(dim=(1, 2, 3), dtype=torch.int64).cpu().numpy()
            results["L1"][rows] = abs_sum / (255.0 * values)
            results["L2"][rows] = sq_sum / (255.0**2 * values)
            results["PSNR"][rows] = 10 * np.log10(255.0**2 * values / np.maximum(sq_sum, 1))
            results["SSIM"][rows] = _ssim(p, t).cpu().numpy()
            if lpips is not None:
                results["LPIPS"][rows] = lpips(_to_signed(p), _to_signed(t)).double().cpu().numpy()
    return results


def edgeconnect_metrics(pred, target) -> dict[str, np.ndarray]:
    """Per-image l1, l2, PSNR and SSIM under EdgeConnect's protocol (the paper's, Sec. IV-A).

    EdgeConnect's ``scripts/metrics.py`` (Nazeri et al. 2019) converts each image to gray
    with ``skimage.color.rgb2gray`` on floats in [0, 1] and computes, per image:

    - ``"SSIM"``: ``structural_similarity(gray_true, gray_pred, win_size=51, data_range=1)``,
      scikit-image's defaults otherwise (uniform 51x51 window, sample covariance, the mean
      over the positions the window fits in);
    - ``"PSNR"``: ``peak_signal_noise_ratio(gray_true, gray_pred, data_range=1)`` in dB;
    - ``"L1"``: EdgeConnect's "MAE", ``sum|a - b| / sum(a + b)`` over the gray pixels (a
      relative error, not a mean; 0 for two all-black images);
    - ``"L2"``: EdgeConnect has none.  Here it is the mean squared error of the gray floats,
      the quantity its PSNR is computed from (PSNR = -10 log10 l2), so l2 and PSNR agree
      within the protocol as they do in :func:`pixel_metrics`.

    The computation is float64 throughout (EdgeConnect cast to float32; the difference is
    below 3e-8 in SSIM, measured).  PSNR of identical images is infinite; it is reported as the bound
    ``10 log10(H W / d^2)``, d = 1e-4 / 255, the smallest non-zero gray difference of two
    8-bit pixels (176.3 dB at 256x256), the same rule as :func:`pixel_metrics`: a perfect
    image ties with the smallest possible error and bin means stay finite.

    Args:
        pred, target: uint8 arrays or tensors (N, H, W, 3), RGB 0..255, H and W >= 51.

    Returns:
        float64 arrays of shape (N,) under ``"L1"``, ``"L2"``, ``"PSNR"``, ``"SSIM"``.
    """
    pred, target = _check_pair(pred, target)
    _, height, width, _ = pred.shape
    window = EDGECONNECT_SSIM_WINDOW
    if min(height, width) < window:
        raise RwganError(
            f"pred: images of {width}x{height} are smaller than the edgeconnect protocol's {window}x{window} SSIM window"
        )
    x, y = (rgb2gray(images.numpy() / 255.0) for images in (pred, target))  # float64 (N, H, W)
    diff = x - y
    total = (x + y).sum(axis=(1, 2))
    l1 = np.divide(np.abs(diff).sum(axis=(1, 2)), total, out=np.zeros_like(total), where=total > 0)
    l2 = (diff * diff).mean(axis=(1, 2))
    psnr = 10 * np.log10(1 / np.maximum(l2, _GRAY_STEP**2 / (height * width)))
    # scikit-image's SSIM with a uniform window: box means in mode 'reflect', then the
    # border of (window - 1) / 2 cropped; sample covariance (NP / (NP - 1)).
    means = ndimage.uniform_filter(np.stack([x, y, x * x, y * y, x * y]), size=(1, 1, window, window), mode="reflect")
    pad = (window - 1) // 2
    mu_x, mu_y, e_xx, e_yy, e_xy = means[:, :, pad : height - pad, pad : width - pad]
    norm = window * window / (window * window - 1)
    var_x, var_y, cov_xy = norm * (e_xx - mu_x * mu_x), norm * (e_yy - mu_y * mu_y), norm * (e_xy - mu_x * mu_y)
    ssim_map = _ssim_map(mu_x, mu_y, var_x, var_y, cov_xy, data_range=1)
    return {"L1": l1, "L2": l2, "PSNR": psnr, "SSIM": ssim_map.mean(axis=(1, 2))}


def protocol_metrics(protocol: str, pred, target, **options) -> dict[str, np.ndarray]:
    """Per-image values of ``pred`` against ``target`` under a metric protocol of :data:`PROTOCOLS`.

    ``"rwgan"``: :func:`pixel_metrics` (RGB; l1, l2 mean absolute / squared error on
    [0, 1]; Gaussian SSIM; with the ``lpips`` option, LPIPS), given ``options`` (``lpips``,
    ``batch_size``, ``device``).  ``"edgeconnect"``: :func:`edgeconnect_metrics` (gray;
    EdgeConnect's relative "MAE" as l1, gray MSE as l2; uniform 51x51 SSIM); it has no
    LPIPS and ignores ``options``.  Inputs: uint8 (N, H, W, 3); output: float64 arrays (N,)
    keyed by :data:`METRIC_TABLE` name.
    """
    if protocol == "rwgan":
        return pixel_metrics(pred, target, **options)
    if protocol == "edgeconnect":
        return edgeconnect_metrics(pred, target)
    raise RwganError(f"protocol: unknown {protocol!r} (expected one of {', '.join(PROTOCOLS)})")


def _to_signed(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float32 (N, 3, H, W) in [-1, 1]."""
    return images.permute(0, 3, 1, 2).float() / 127.5 - 1


class LPIPS(nn.Module):
    """LPIPS distance, VGG16 backbone, linear heads v0.1 (Zhang et al., CVPR 2018).

    d(x, y) = sum over the 5 layers l (relu1_2 ... relu5_3) of the spatial mean of
    w_l . (f_l(x) - f_l(y))^2, where f_l are the VGG activations of the scaled input
    unit-normalised over channels and w_l >= 0 the learned heads.  Identical inputs
    give exactly 0.

    ``features`` (torchvision ``vgg16().features``) and ``heads`` (5 tensors of shape
    (1, C_l, 1, 1)) default to the offline weights of :mod:`rwgan.assets`.  The module
    is frozen and in eval mode.  The convolutions run in ``memory_format``, channels-last by
    default: 1.2x faster on CPU than contiguous, equal to ~1e-8
    (reports/benchmarks/benchmarks.md, "Scoring options").
    """

    def __init__(self, features: nn.Sequential | None = None, heads: Sequence[torch.Tensor] | None = None):
        super().__init__()
        if features is None or heads is None:
            from rwgan import assets

            features = assets.vgg16_features() if features is None else features
            heads = assets.lpips_vgg_heads() if heads is None else heads
        self.slices = nn.ModuleList(features[start:stop] for start, stop in _LPIPS_VGG_SLICES)
        widths = [self._out_channels(block) for block in self.slices]
        if [tuple(h.shape) for h in heads] != [(1, c, 1, 1) for c in widths]:
            raise RwganError(
                f"heads: expected 5 tensors of shapes {[(1, c, 1, 1) for c in widths]}, "
                f"got {[tuple(h.shape) for h in heads]}"
            )
        for index, head in enumerate(heads):
            self.register_buffer(f"head{index}", head.detach().float().clone())
        self.register_buffer("shift", torch.tensor(_LPIPS_SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(_LPIPS_SCALE).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()
        self.memory_format = torch.channels_last

    @staticmethod
    def _out_channels(block: nn.Sequential) -> int:
        return [m for m in block if isinstance(m, nn.Conv2d)][-1].out_channels

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """LPIPS of float (N, 3, H, W) images in [-1, 1] -> (N,), one distance per pair."""
        if x.shape != y.shape or x.ndim != 4 or x.shape[1] != 3:
            raise RwganError(
                "LPIPS: expected two (N, 3, H, W) tensors of the same shape, "
                f"got {tuple(x.shape)} and {tuple(y.shape)}"
            )
        activations = ((torch.cat([x, y]) - self.shift) / self.scale).contiguous(memory_format=self.memory_format)
        distance = torch.zeros(x.shape[0], dtype=activations.dtype, device=x.device)
        for index, block in enumerate(self.slices):
            activations = block(activations)
            unit = activations / (activations.norm(dim=1, keepdim=True) + _LPIPS_EPS)
            unit_x, unit_y = unit.chunk(2)
            weighted = ((unit_x - unit_y) ** 2 * getattr(self, f"head{index}")).sum(dim=1)
            distance = distance + weighted.mean(dim=(1, 2))
        return distance


def _batches(images, batch_size: int, name: str) -> Iterator[torch.Tensor]:
    """Yield uint8 (B, H, W, 3) tensors from an array (N, H, W, 3) or an iterable of
    images (H, W, 3) and/or batches (B, H, W, 3)."""
    if isinstance(images, (np.ndarray, torch.Tensor)):
        images = _as_uint8_tensor(images, name)
        yield from images.split(batch_size)
        return
    if not isinstance(images, Iterable):
        raise RwganError(f"{name}: expected uint8 images (N, H, W, 3) or an iterable of them, got {type(images)}")
    pending: list[torch.Tensor] = []
    for item in images:
        pending.extend(_as_uint8_tensor(item[None] if getattr(item, "ndim", 0) == 3 else item, name).unbind())
        while len(pending) >= batch_size:
            yield torch.stack(pending[:batch_size])
            pending = pending[batch_size:]
    if pending:
        yield torch.stack(pending)


def _fid_inception() -> nn.Module:
    from rwgan import assets

    return assets.fid_feature_extractor(features=("2048",))


def inception_features(
    images, extractor: nn.Module | None = None, batch_size: int = 32, device: str | torch.device = "cpu"
) -> np.ndarray:
    """Inception pool3 features (N, 2048), float64, of uint8 RGB images (N, H, W, 3).

    ``images`` is an array or tensor, or an iterable of images (H, W, 3) or batches
    (B, H, W, 3), so a large set can stream from disk.  ``extractor`` takes uint8
    (B, 3, H, W) and returns a 1-tuple of features, torch-fidelity's interface; the
    default, :func:`rwgan.assets.fid_feature_extractor`, is the TF FID Inception, which
    resizes to 299x299 itself.
    """
    if batch_size < 1:
        raise RwganError(f"batch_size: expected a positive integer, got {batch_size}")
    extractor = (extractor if extractor is not None else _fid_inception()).to(device)
    # channels-last: (B, H, W, 3) permuted is already that layout, and the convs run ~30%
    # faster on CPU in it (features equal to ~1e-5).
    extractor = extractor.to(memory_format=torch.channels_last)
    chunks = []
    with torch.inference_mode():
        for batch in _batches(images, batch_size, "images"):
            (pool3,) = extractor(batch.permute(0, 3, 1, 2).to(device))
            chunks.append(pool3.double().cpu())
    if not chunks:
        raise RwganError("images: expected at least one image, got none")
    return torch.cat(chunks).numpy()


def _fid_low_rank(real: torch.Tensor, fake: torch.Tensor) -> float:
    """FID for sets smaller than the feature width, exactly, without a D x D matrix root.

    With centred features A_r (n_r x D), A_f (n_f x D), S = A^T A / (n - 1), the non-zero
    eigenvalues of S_r S_f are those of (A_r A_f^T)(A_r A_f^T)^T / ((n_r - 1)(n_f - 1)), so
    Tr (S_r S_f)^(1/2) is the sum of the singular values of A_r A_f^T / sqrt((n_r-1)(n_f-1)):
    an n_r x n_f SVD instead of torch-fidelity's 2048 x 2048 eigen-decomposition (about
    1,000x faster at n = 32, equal to ~1e-6 relative).
    """
    a_r, a_f = real - real.mean(0), fake - fake.mean(0)
    scale = math.sqrt((len(real) - 1) * (len(fake) - 1))
    cross = torch.linalg.svdvals(a_r @ a_f.T).sum() / scale
    traces = (a_r * a_r).sum() / (len(real) - 1) + (a_f * a_f).sum() / (len(fake) - 1)
    mean_term = (real.mean(0) - fake.mean(0)).square().sum()
    return float(mean_term + traces - 2 * cross)


def fid_kid_from_features(
    real: np.ndarray,
    fake: np.ndarray,
    kid_subset_size: int | None = None,
    kid_subsets: int = KID_SUBSETS,
    seed: int = 0,
) -> dict[str, float]:
    """FID and KID between two feature sets (N, D), with torch-fidelity's statistics.

    FID (Heusel et al. 2017) = |mu_r - mu_f|^2 + Tr(S_r + S_f - 2 (S_r S_f)^(1/2)); needs
    at least 2 samples per set.  Sets no larger than the feature width (every bin of the
    small profiles, and the paper's 2,000) use the exact low-rank form of
    :func:`_fid_low_rank`; larger ones torch-fidelity's statistics.  KID (Binkowski et al. 2018) is the mean (and std) over
    ``kid_subsets`` random subsets (drawn with ``seed``) of the unbiased polynomial-kernel
    MMD^2.  Its mean is unbiased whatever the subset size, so ``kid_subset_size=None``
    uses min(1000, N_real, N_fake).  ``kid_mean`` and ``kid_std`` are nan (never 0) when
    KID is not computed: an explicit size larger than either set or below 2, or
    ``kid_subsets=0`` (KID's kernels cost more than FID at N = 2,000).

    Returns ``{"fid", "kid_mean", "kid_std"}`` as floats.
    """
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

    real_t, fake_t = (torch.as_tensor(np.asarray(f, dtype=np.float64)) for f in (real, fake))
    for name, feats in (("real", real_t), ("fake", fake_t)):
        if feats.ndim != 2 or feats.shape[0] < 2:
            raise RwganError(f"{name}: expected features (N, D) with N >= 2 for FID, got {tuple(feats.shape)}")
    if real_t.shape[1] != fake_t.shape[1]:
        raise RwganError(f"fake: feature width {fake_t.shape[1]} differs from real's {real_t.shape[1]}")
    if kid_subsets < 0:
        raise RwganError(f"kid_subsets: expected a count >= 0, got {kid_subsets}")
    if min(len(real_t), len(fake_t)) <= real_t.shape[1]:
        fid = _fid_low_rank(real_t, fake_t)
    else:
        fid = fid_statistics_to_metric(
            fid_features_to_statistics(real_t), fid_features_to_statistics(fake_t), verbose=False
        )[KEY_METRIC_FID]
    smallest = min(len(real_t), len(fake_t))
    subset = min(KID_SUBSET_SIZE, smallest) if kid_subset_size is None else kid_subset_size
    kid_mean = kid_std = math.nan
    if kid_subsets > 0 and 2 <= subset <= smallest:
        kid = kid_features_to_metric(
            real_t, fake_t, kid_subsets=kid_subsets, kid_subset_size=subset, rng_seed=seed, verbose=False
        )
        kid_mean, kid_std = kid[KEY_METRIC_KID_MEAN], kid[KEY_METRIC_KID_STD]
    return {"fid": float(fid), "kid_mean": float(kid_mean), "kid_std": float(kid_std)}


def fid_and_kid(
    real,
    fake,
    kid_subset_size: int | None = None,
    kid_subsets: int = KID_SUBSETS,
    seed: int = 0,
    extractor: nn.Module | None = None,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
) -> dict[str, float]:
    """FID and KID between two sets of uint8 RGB images (N, H, W, 3) (or iterables).

    The paper's FID is over one bin's composites against the ground truth images
    (Tables I-III, 256x256).  See :func:`inception_features` for the inputs and
    :func:`fid_kid_from_features` for the statistics and the KID convention.
    """
    extractor = extractor if extractor is not None else _fid_inception()  # loaded once for both sets
    features = [inception_features(images, extractor, batch_size, device) for images in (real, fake)]
    return fid_kid_from_features(*features, kid_subset_size=kid_subset_size, kid_subsets=kid_subsets, seed=seed)
