"""Training losses: the region-wise GAN's (paper Sec. III, eq. 2-7) and the PC baseline's.

Conventions: images (N, 3, H, W) in [-1, 1]; masks M (N, 1, H, W) with 1 = known pixel,
0 = hole; VGG features are ``rwgan.vgg.VGGFeatures`` outputs (N, C, h, w).

Reductions: the region-wise losses are **sums** over the batch and every element, as the
official code computes them (``reduce_sum``); the paper's lambda1 = 1e-5 and
lambda2 = 1e-3 balance those sums, so they are kept as sums and their scale grows with
batch and image size.  The generator minimises (eq. 7, with its ``- lambda3 L_a`` run as
the code does, fakes labelled real)::

    L = reconstruction_loss + lambda1 * correlation_loss + lambda2 * style_loss
        + lambda3 * generator_adversarial_loss

The PC baseline's losses (Liu et al. 2018) are means, as in its paper.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from rwgan.errors import RwganError
from rwgan.layers import resize_mask_legacy
from rwgan.models.base import composite

if TYPE_CHECKING:
    from rwgan.vgg import VGGFeatures


def _check_same_shape(what: str, prediction: torch.Tensor, target: torch.Tensor) -> None:
    if prediction.shape != target.shape:
        raise RwganError(f"{what}: expected equal shapes, got {tuple(prediction.shape)} and {tuple(target.shape)}")


def _at_least_float32(x: torch.Tensor) -> torch.Tensor:
    """Gram entries overflow float16: compute them in float32 (or float64 if given)."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def reconstruction_loss(coarse: torch.Tensor, refined: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 2: L_r = ||I_p1 - I_g||_1 + ||I_p2 - I_g||_1 over whole images, summed.

    ``coarse`` (I_p1, SINet), ``refined`` (I_p2, GPNet) and ``target`` (I_g): (N, 3, H, W).
    """
    _check_same_shape("reconstruction_loss coarse", coarse, target)
    _check_same_shape("reconstruction_loss refined", refined, target)
    return (coarse - target).abs().sum() + (refined - target).abs().sum()


def _position_gram_l1(psi: torch.Tensor, target_psi: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """sum_{i in [start, stop), j} |f_ij - f_ij(target)| for (N, c, n) features (rows of the n x n Grams)."""
    rows = psi[:, :, start:stop].transpose(1, 2) @ psi
    target_rows = target_psi[:, :, start:stop].transpose(1, 2) @ target_psi
    return (rows - target_rows).abs().sum()


def correlation_loss(features: torch.Tensor, target_features: torch.Tensor, chunk: int = 512) -> torch.Tensor:
    """Eq. 3-4: L_c = sigma * sum_{i,j} |f_ij(I_c1) - f_ij(I_g)|, summed over the batch.

    ``features`` Psi(I_c1) and ``target_features`` Psi(I_g): VGG16 pool2, (N, c, h, w).  Per
    image, Psi is read as c x n (n = h * w) and f_ij = Psi_i^T Psi_j is the n x n Gram over
    positions; sigma = 1 / c^2 (official code).  At a 224 input n = 3136: the Gram is
    built ``chunk`` rows at a time and recomputed in the backward pass (activation
    checkpointing), so memory stays at N * chunk * n floats rather than N * n^2.
    """
    _check_same_shape("correlation_loss features", features, target_features)
    channels = features.shape[1]
    psi = _at_least_float32(features).flatten(2)
    target_psi = _at_least_float32(target_features).flatten(2)
    positions = psi.shape[2]
    total = psi.new_zeros(())
    for start in range(0, positions, chunk):
        stop = min(start + chunk, positions)
        total = total + checkpoint(_position_gram_l1, psi, target_psi, start, stop, use_reentrant=False)
    return total / channels**2


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Channel Gram Phi^T Phi * delta, delta = 1 / (c h w): (N, c, h, w) -> (N, c, c)."""
    _, channels, height, width = features.shape
    phi = _at_least_float32(features).flatten(2)
    return phi @ phi.transpose(1, 2) / (channels * height * width)


def _check_layers(what: str, features: Sequence[torch.Tensor], target_features: Sequence[torch.Tensor]) -> None:
    if len(features) != len(target_features) or not features:
        raise RwganError(f"{what}: expected two equally long, non-empty lists of feature maps, "
                         f"got {len(features)} and {len(target_features)}")


def style_loss(features: Sequence[torch.Tensor], target_features: Sequence[torch.Tensor]) -> torch.Tensor:
    """Eq. 5: L_s = sum_p delta_p ||Phi_p(I_c2)^T Phi_p(I_c2) - Phi_p(I_g)^T Phi_p(I_g)||_1, summed.

    ``features`` and ``target_features``: lists of VGG16 maps (N, c_p, h_p, w_p) for the same
    layers (pool1, pool2, pool3); delta_p = 1 / (c_p h_p w_p); L1 summed over the batch and
    the c_p x c_p Gram entries, then over layers.
    """
    _check_layers("style_loss", features, target_features)
    total = 0
    for phi, target_phi in zip(features, target_features):
        _check_same_shape("style_loss features", phi, target_phi)
        total = total + (gram_matrix(phi) - gram_matrix(target_phi)).abs().sum()
    return total


def hole_label_map(mask: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """M' of eq. 6: (1 - M) resized (nearest) to the discriminator's output grid, (N, 1, h, w).

    ``mask`` M: (N, 1, H, W), 1 = known, 0 = hole; ``size``: h (square) or (h, w).  The
    result is 1 where a patch is labelled hole.  The official code makes it with
    ``tf.image.resize_nearest_neighbor(mask_label, [h, w])``, TF1's default
    ``align_corners=False`` (:func:`rwgan.layers.resize_mask_legacy`): output row i takes
    input row floor(i H / h), the top-left pixel of each patch's cell (a 256 px mask on
    the 4 x 4 grid samples rows and columns 0, 64, 128, 192).
    """
    if mask.dim() != 4 or mask.shape[1] != 1:
        raise RwganError(f"hole_label_map mask: expected shape (N, 1, H, W), got {tuple(mask.shape)}")
    return 1 - resize_mask_legacy(mask, (size, size) if isinstance(size, int) else tuple(size))


def _check_label(label: torch.Tensor, output: torch.Tensor) -> None:
    try:
        broadcast = torch.broadcast_shapes(label.shape, output.shape)
    except RuntimeError:
        broadcast = None
    if broadcast != output.shape:
        raise RwganError(f"real_label: expected a shape that broadcasts to the discriminator output "
                         f"{tuple(output.shape)}, e.g. (N, 1, h, w), got {tuple(label.shape)}")


def discriminator_loss(
    d_real: torch.Tensor, d_fakes: Sequence[torch.Tensor], real_label: torch.Tensor, alpha: float
) -> torch.Tensor:
    """Eq. 6 as the code runs it (L1 to a patch label map), minimised by D; summed.

    alpha * |real_label - D(real)| + sum_k |D(fake_k)|: real patches are pushed to the label,
    generated ones to 0.  ``d_real``, ``d_fakes[k]``: D outputs (N, C, h, w), the fakes
    computed from detached generator outputs.  ``real_label`` broadcasts over D's channels:
    M' = :func:`hole_label_map` for the region-wise D (its input is I * (1 - M) and M), an
    all-ones (N, 1, h, w) map for the standard whole-image D (Fig. 8 variants).
    """
    _check_label(real_label, d_real)
    return alpha * (real_label - d_real).abs().sum() + sum(d_fake.abs().sum() for d_fake in d_fakes)


def generator_adversarial_loss(d_fakes: Sequence[torch.Tensor], real_label: torch.Tensor) -> torch.Tensor:
    """Eq. 6-7, the generator's side: sum_k |real_label - D(fake_k)|, fakes labelled real; summed.

    ``d_fakes[k]``: D outputs (N, C, h, w) for I_p1, I_p2 (not detached); ``real_label`` as
    in :func:`discriminator_loss`.
    """
    total = 0
    for d_fake in d_fakes:
        _check_label(real_label, d_fake)
        total = total + (real_label - d_fake).abs().sum()
    return total


def pconv_loss(
    output: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    vgg: VGGFeatures,
    *,
    valid_weight: float = 1.0,
    hole_weight: float = 6.0,
    perceptual_weight: float = 0.05,
    style_weight: float = 120.0,
    tv_weight: float = 0.1,
) -> dict[str, torch.Tensor]:
    """The PC baseline's loss (Liu et al. 2018, "Loss Functions"): unweighted terms and ``total``.

    ``output`` I_out and ``target`` I_gt: (N, 3, H, W) in [-1, 1], the L1 terms taken on that
    scale; ``mask``: (N, 1, H, W), 1 = known.  I_comp = I_gt * M + I_out * (1 - M).  ``vgg``
    maps images to ``{pool1, pool2, pool3}`` (e.g. ``VGGFeatures(resize=None)``).  Terms, all
    means as in PC's paper:

    - valid, hole: mean of |M (I_out - I_gt)| and |(1 - M)(I_out - I_gt)| over all N*3*H*W;
    - perceptual: sum_p mean|Psi_p(I_out) - Psi_p(I_gt)| + mean|Psi_p(I_comp) - Psi_p(I_gt)|;
    - style: the same with channel Grams normalised by 1 / (C H W) (:func:`gram_matrix`),
      the mean over the C x C entries (PC's 1 / C^2);
    - tv: over P, the hole dilated by one pixel (3 x 3): sum of |I_comp(i, j+1) - I_comp(i, j)|
      over pairs with both pixels in P, plus the vertical pairs, divided by N*3*H*W.

    total = valid_weight * valid + hole_weight * hole + perceptual_weight * perceptual
    + style_weight * style + tv_weight * tv (PC's 1, 6, 0.05, 120, 0.1).
    """
    _check_same_shape("pconv_loss output", output, target)
    hole = 1 - mask
    completed = composite(target, output, mask)
    error = output - target
    terms = {"valid": (mask * error).abs().mean(), "hole": (hole * error).abs().mean()}

    features = vgg(torch.cat([output, completed, target]))
    perceptual = style = 0
    for layer in features.values():
        out_features, comp_features, target_features = layer.chunk(3)
        target_gram = gram_matrix(target_features)
        for prediction in (out_features, comp_features):
            perceptual = perceptual + (prediction - target_features).abs().mean()
            style = style + (gram_matrix(prediction) - target_gram).abs().mean()
    terms["perceptual"], terms["style"] = perceptual, style

    region = F.max_pool2d(hole, kernel_size=3, stride=1, padding=1)
    horizontal = region[..., :, 1:] * region[..., :, :-1] * (completed[..., :, 1:] - completed[..., :, :-1]).abs()
    vertical = region[..., 1:, :] * region[..., :-1, :] * (completed[..., 1:, :] - completed[..., :-1, :]).abs()
    terms["tv"] = (horizontal.sum() + vertical.sum()) / completed.numel()

    weights = {"valid": valid_weight, "hole": hole_weight, "perceptual": perceptual_weight,
               "style": style_weight, "tv": tv_weight}
    terms["total"] = sum(weights[name] * terms[name] for name in weights)
    return terms
