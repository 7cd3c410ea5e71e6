"""Losses (rwgan.losses) on tiny tensors with values worked out by hand or by explicit loops."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from rwgan import losses
from rwgan.errors import RwganError


def seeded(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# --- reconstruction, eq. 2 ----------------------------------------------------------------

def test_reconstruction_loss_sums_both_stages():
    target = seeded(2, 3, 4, 4)
    coarse = target.clone()
    coarse[0, 1, 2, 3] += 0.5
    refined = target.clone()
    refined[1, 0, 0, 0] -= 0.25
    refined[1, 2, 3, 1] += 0.25
    assert losses.reconstruction_loss(coarse, refined, target).item() == pytest.approx(1.0, abs=1e-6)
    assert losses.reconstruction_loss(target, target, target).item() == 0


def test_reconstruction_loss_rejects_shape_mismatch():
    with pytest.raises(RwganError, match=r"reconstruction_loss refined: expected equal shapes"):
        losses.reconstruction_loss(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 2), torch.zeros(1, 3, 4, 4))


# --- correlation, eq. 3-4 -----------------------------------------------------------------

def test_correlation_loss_by_hand_and_sigma_is_one_over_c_squared():
    # c = 1, positions (1, 2) vs (0, 1): Grams [[1, 2], [2, 4]] and [[0, 0], [0, 1]]; |diff| sums to 8.
    features = torch.tensor([1.0, 2.0]).view(1, 1, 1, 2)
    target = torch.tensor([0.0, 1.0]).view(1, 1, 1, 2)
    assert losses.correlation_loss(features, target).item() == pytest.approx(8.0)
    # The same channel twice: Grams double (|diff| sums to 16) and sigma = 1 / 2^2.
    assert losses.correlation_loss(features.repeat(1, 2, 1, 1), target.repeat(1, 2, 1, 1)).item() == pytest.approx(4.0)


@pytest.mark.parametrize("chunk", [1, 4, 512])
def test_correlation_loss_matches_explicit_loops(chunk):
    features, target = seeded(2, 3, 2, 3, seed=1), seeded(2, 3, 2, 3, seed=2)
    a, b = features.double().numpy().reshape(2, 3, 6), target.double().numpy().reshape(2, 3, 6)
    expected = 0.0
    for n in range(2):
        for i in range(6):
            for j in range(6):
                f_ij = sum(a[n, k, i] * a[n, k, j] for k in range(3))
                g_ij = sum(b[n, k, i] * b[n, k, j] for k in range(3))
                expected += abs(f_ij - g_ij)
    expected /= 3**2
    assert losses.correlation_loss(features, target, chunk=chunk).item() == pytest.approx(expected, rel=1e-5)
    assert losses.correlation_loss(target, target, chunk=chunk).item() == 0


def test_correlation_loss_gradient_through_chunks():
    # d/dPsi sum |Psi^T Psi - G| / c^2 = 2 Psi sign(Psi^T Psi - G) / c^2 (the sign matrix is symmetric).
    features = seeded(2, 4, 3, 3, seed=3).double().requires_grad_(True)
    target = seeded(2, 4, 3, 3, seed=4).double()
    losses.correlation_loss(features, target, chunk=4).backward()
    psi, target_psi = features.detach().flatten(2), target.flatten(2)
    signs = torch.sign(psi.transpose(1, 2) @ psi - target_psi.transpose(1, 2) @ target_psi)
    expected = (2 * psi @ signs / 4**2).view_as(features)
    torch.testing.assert_close(features.grad, expected)


def test_correlation_loss_at_vgg_pool2_size_chunking_is_exact():
    # pool2 of a 224 input: c = 128, n = 56 * 56 = 3136; a 512-row chunking equals one chunk.
    features, target = seeded(1, 128, 56, 56, seed=5).relu(), seeded(1, 128, 56, 56, seed=6).relu()
    chunked = losses.correlation_loss(features, target, chunk=512)
    whole = losses.correlation_loss(features, target, chunk=3136)
    assert chunked.item() == pytest.approx(whole.item(), rel=1e-5)


# --- style, eq. 5 -------------------------------------------------------------------------

def test_style_loss_by_hand():
    # Layer 1: Phi = [[1, 2], [3, 4]] (c=2, h=1, w=2), Gram [[5, 11], [11, 25]] / 4 vs 0 -> 52 / 4 = 13.
    # Layer 2: Phi = [1, 2] vs [1, 0] (c=1, h=2, w=1), Grams 5 / 2 and 1 / 2 -> 2.
    layer1 = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 2, 1, 2)
    layer2, target2 = torch.tensor([1.0, 2.0]).view(1, 1, 2, 1), torch.tensor([1.0, 0.0]).view(1, 1, 2, 1)
    value = losses.style_loss([layer1, layer2], [torch.zeros_like(layer1), target2])
    assert value.item() == pytest.approx(15.0)
    assert losses.style_loss([layer1, layer2], [layer1, layer2]).item() == 0


def test_style_loss_matches_explicit_loops():
    shapes = [(2, 4, 3, 3), (2, 2, 2, 2)]
    features = [seeded(*s, seed=10 + k) for k, s in enumerate(shapes)]
    targets = [seeded(*s, seed=20 + k) for k, s in enumerate(shapes)]
    expected = 0.0
    for phi, psi in zip(features, targets):
        n, c, h, w = phi.shape
        a, b = phi.double().numpy().reshape(n, c, h * w), psi.double().numpy().reshape(n, c, h * w)
        for m in range(n):
            for k in range(c):
                for l in range(c):
                    expected += abs(np.dot(a[m, k], a[m, l]) - np.dot(b[m, k], b[m, l])) / (c * h * w)
    assert losses.style_loss(features, targets).item() == pytest.approx(expected, rel=1e-5)


def test_style_loss_rejects_unequal_layer_lists():
    with pytest.raises(RwganError, match=r"style_loss: expected two equally long, non-empty lists"):
        losses.style_loss([torch.zeros(1, 2, 2, 2)], [])


# --- adversarial, eq. 6 -------------------------------------------------------------------

def test_hole_label_map_is_tf1_nearest_without_aligned_corners():
    """tf.image.resize_nearest_neighbor(mask_label, [h, w]) (align_corners=False): row i <- floor(i H / h)."""
    mask = torch.ones(1, 1, 8, 8)
    hole_pixels = [(0, 0), (2, 6), (6, 2), (7, 7), (3, 3)]  # (7, 7) and (3, 3) are never sampled
    for y, x in hole_pixels:
        mask[0, 0, y, x] = 0
    labels = losses.hole_label_map(mask, 4)  # rows/cols sampled: floor(i * 8 / 4) = 0, 2, 4, 6
    expected = torch.zeros(1, 1, 4, 4)
    expected[0, 0, 0, 0] = expected[0, 0, 1, 3] = expected[0, 0, 3, 1] = 1
    torch.testing.assert_close(labels, expected)
    # 256 -> 4 samples rows 0, 64, 128, 192 (aligned corners would take 0, 85, 170, 255).
    big = torch.ones(2, 1, 256, 256)
    big[1, 0, 64, 192] = 0
    big[1, 0, 85, 255] = 0
    assert losses.hole_label_map(big, (4, 4))[1, 0].nonzero().tolist() == [[1, 3]]
    assert losses.hole_label_map(big, (2, 4))[1, 0].nonzero().tolist() == []  # rows 0 and 128 only
    corner = torch.ones(2, 1, 256, 256)
    corner[1, 0, 0, 0] = 0
    assert losses.hole_label_map(corner, 1).flatten().tolist() == [0.0, 1.0]  # a 1 x 1 grid takes pixel (0, 0)


def test_hole_label_map_rejects_multichannel_mask():
    with pytest.raises(RwganError, match=r"hole_label_map mask: expected shape \(N, 1, H, W\)"):
        losses.hole_label_map(torch.ones(1, 3, 8, 8), 4)


def test_adversarial_losses_by_hand_and_their_signs():
    label = torch.tensor([[1.0, 0.0], [0.0, 0.0]]).view(1, 1, 2, 2)  # broadcast over 2 channels
    d_real = torch.full((1, 2, 2, 2), 0.5)
    d_fake = torch.full((1, 2, 2, 2), -0.25, requires_grad=True)
    # D: 0.01 * 8 * |label - 0.5| + 8 * 0.25 = 0.04 + 2.
    d_loss = losses.discriminator_loss(d_real, [d_fake], label, alpha=0.01)
    assert d_loss.item() == pytest.approx(2.04)
    # G: 2 channels * (|1 + 0.25| + 3 * |0 + 0.25|) = 4.
    g_loss = losses.generator_adversarial_loss([d_fake], label)
    assert g_loss.item() == pytest.approx(4.0)
    # Raising D(fake) on the hole patch helps G and, D's output being below 0 there, helps D too;
    # on a known patch (label 0) with D(fake) < 0 both want it raised towards 0.
    (g_grad,) = torch.autograd.grad(g_loss, d_fake)
    (d_grad,) = torch.autograd.grad(d_loss, d_fake)
    assert (g_grad[0, :, 0, 0] == -1).all() and (g_grad[0, :, 1, 1] == -1).all()
    positive = torch.full((1, 2, 2, 2), 0.25, requires_grad=True)
    (d_grad_positive,) = torch.autograd.grad(losses.discriminator_loss(d_real, [positive], label, 0.01), positive)
    assert (d_grad == -1).all() and (d_grad_positive == 1).all()  # D pushes fakes to 0 from either side
    # Zero exactly at the optimum of each player.
    assert losses.discriminator_loss(label.expand(1, 2, 2, 2), [torch.zeros(1, 2, 2, 2)], label, 0.01).item() == 0
    assert losses.generator_adversarial_loss([label.expand(1, 2, 2, 2)] * 2, label).item() == 0


def test_adversarial_losses_sum_over_fakes_and_accept_an_all_ones_label():
    d_fakes = [seeded(2, 3, 2, 2, seed=7), seeded(2, 3, 2, 2, seed=8)]
    ones = torch.ones(2, 1, 2, 2)
    expected = sum((1 - d).abs().sum() for d in d_fakes)
    torch.testing.assert_close(losses.generator_adversarial_loss(d_fakes, ones), expected)


def test_adversarial_label_must_broadcast_to_the_output():
    with pytest.raises(RwganError, match=r"real_label: expected a shape that broadcasts"):
        losses.discriminator_loss(torch.zeros(1, 2, 2, 2), [], torch.ones(1, 1, 3, 3), alpha=0.01)
    with pytest.raises(RwganError, match=r"real_label: expected a shape that broadcasts"):
        losses.generator_adversarial_loss([torch.zeros(1, 2, 2, 2)], torch.ones(1, 2, 4, 2, 2))


# --- PC baseline ----------------------------------------------------------------------------

def identity_features(images: torch.Tensor) -> dict[str, torch.Tensor]:
    """A stand-in for VGGFeatures whose one 'layer' is the image itself."""
    return {"pool1": images}


def pc_case() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """4x4 images, target 0; hole at (1, 1) and (1, 2); output 1 at (1, 1) (hole), 0.5 at (3, 3) (known)."""
    target = torch.zeros(1, 3, 4, 4)
    output = torch.zeros(1, 3, 4, 4)
    output[..., 1, 1] = 1.0
    output[..., 3, 3] = 0.5
    mask = torch.ones(1, 1, 4, 4)
    mask[..., 1, 1] = mask[..., 1, 2] = 0
    return output, target, mask


def test_pconv_loss_terms_by_hand():
    terms = losses.pconv_loss(*pc_case(), identity_features)
    n = 48  # elements of one 3 x 4 x 4 image
    # Composite = 1 at (1, 1), 0 elsewhere.  Dilated hole P = rows 0-2, cols 0-3; the pairs
    # (1,0)-(1,1), (1,1)-(1,2), (0,1)-(1,1), (1,1)-(2,1) each differ by 1, in 3 channels.
    expected = {
        "valid": 3 * 0.5 / n,
        "hole": 3 * 1.0 / n,
        "perceptual": (3 * 1.0 + 3 * 0.5) / n + 3 * 1.0 / n,  # I_out, then I_comp
        "style": (1.0 + 0.25) / n + 1.0 / n,  # every Gram entry = v.v / (C H W); target Gram 0
        "tv": 4 * 3 / n,
    }
    for name, value in expected.items():
        assert terms[name].item() == pytest.approx(value, rel=1e-6), name
    total = expected["valid"] + 6 * expected["hole"] + 0.05 * expected["perceptual"] + 120 * expected["style"] \
        + 0.1 * expected["tv"]
    assert terms["total"].item() == pytest.approx(total, rel=1e-6)
    reweighted = losses.pconv_loss(*pc_case(), identity_features, hole_weight=0.0, style_weight=1.0)
    assert reweighted["total"].item() == pytest.approx(total - 6 * expected["hole"] - 119 * expected["style"],
                                                       rel=1e-6)


def test_pconv_loss_is_zero_for_a_perfect_output():
    _, target, mask = pc_case()
    target = seeded(1, 3, 4, 4, seed=9)
    terms = losses.pconv_loss(target, target, mask, identity_features)
    assert all(terms[name].item() == 0 for name in ("valid", "hole", "perceptual", "style"))
    assert terms["tv"].item() > 0  # TV penalises the composite itself, not its error
    assert terms["total"].item() == pytest.approx(0.1 * terms["tv"].item())


def test_pconv_loss_tv_ignores_pairs_leaving_the_dilated_hole():
    output, target, mask = pc_case()
    target[..., 3, :] = 1.0  # row 3 lies outside P: its steps from row 2 must not count,
    target[..., 3, 0] = 3.0  # nor the steps along it
    terms = losses.pconv_loss(output, target, mask, identity_features)
    assert terms["tv"].item() == pytest.approx(4 * 3 / 48, rel=1e-6)
