"""rwgan.metrics against scikit-image, hand-computed values and the official LPIPS package."""
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity
from torch import nn
from torchvision.models.vgg import cfgs, make_layers

from rwgan import io
from rwgan.errors import RwganError
from rwgan.metrics import LPIPS, fid_and_kid, fid_kid_from_features, inception_features, pixel_metrics

CELEBA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "celebahq-256"


@pytest.fixture(scope="module")
def faces() -> np.ndarray:
    """The first 12 CelebA-HQ test faces, uint8 (12, 256, 256, 3)."""
    if not CELEBA.is_dir():
        pytest.skip(f"{CELEBA} not found (the shared test images are absent)")
    return np.stack([io.read_image(path, size=256) for path in io.list_images(CELEBA)[:12]])


def _weights_or_skip(load):
    try:
        return load()
    except RwganError as exc:
        pytest.skip(f"pretrained weights not fetched: {exc}")


@pytest.fixture(scope="module")
def lpips_vgg() -> LPIPS:
    return _weights_or_skip(LPIPS)


@pytest.fixture(scope="module")
def inception() -> nn.Module:
    from rwgan import assets

    return _weights_or_skip(assets.fid_feature_extractor)


def _add_noise(images: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, sigma, images.shape)
    return np.clip(images + np.rint(noise), 0, 255).astype(np.uint8)


def _skimage_metrics(pred: np.ndarray, target: np.ndarray) -> dict[str, np.ndarray]:
    """The reference: scikit-image, one image at a time, in float64."""
    ssim = [
        structural_similarity(
            p, t, channel_axis=-1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255
        )
        for p, t in zip(pred, target)
    ]
    psnr = [peak_signal_noise_ratio(t, p, data_range=255) for p, t in zip(pred, target)]
    l2 = [mean_squared_error(t, p) / 255**2 for p, t in zip(pred, target)]
    l1 = [np.abs(p.astype(float) - t).mean() / 255 for p, t in zip(pred, target)]
    return {"L1": np.array(l1), "L2": np.array(l2), "PSNR": np.array(psnr), "SSIM": np.array(ssim)}


def _assert_matches_skimage(pred: np.ndarray, target: np.ndarray, ssim_atol: float = 1e-4, **kwargs):
    ours, reference = pixel_metrics(pred, target, **kwargs), _skimage_metrics(pred, target)
    assert set(ours) == {"L1", "L2", "PSNR", "SSIM"}
    for name in ours:
        assert ours[name].shape == (len(pred),) and ours[name].dtype == np.float64
    np.testing.assert_allclose(ours["L1"], reference["L1"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours["L2"], reference["L2"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours["PSNR"], reference["PSNR"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours["SSIM"], reference["SSIM"], rtol=0, atol=ssim_atol)


# --- l1, l2, PSNR, SSIM ------------------------------------------------------------------------


def test_hand_computed_l1_l2_psnr():
    pred = np.zeros((1, 12, 12, 3), np.uint8)
    target = pred.copy()
    target[0, 3, 4, 1] = 255
    target[0, 7, 2, 0] = 51
    values = 12 * 12 * 3
    result = pixel_metrics(pred, target)
    assert result["L1"][0] == pytest.approx((1 + 0.2) / values, rel=1e-15)
    assert result["L2"][0] == pytest.approx((1 + 0.04) / values, rel=1e-15)
    assert result["PSNR"][0] == pytest.approx(10 * math.log10(values / 1.04), rel=1e-15)


def test_matches_skimage_on_random_images():
    rng = np.random.default_rng(0)
    target = rng.integers(0, 256, (5, 40, 33, 3), dtype=np.uint8)
    pred = np.concatenate([_add_noise(target[:3], 12), rng.integers(0, 256, (2, 40, 33, 3), dtype=np.uint8)])
    _assert_matches_skimage(pred, target, batch_size=2)


def test_matches_skimage_on_flat_bright_images():
    # The hardest case for float32 SSIM: E[x^2] - E[x]^2 cancels on large means.  The
    # documented 2e-5 holds thanks to centring (without it this case is off by 6.7e-5).
    rng = np.random.default_rng(1)
    base = np.full((3, 48, 48, 3), 250)
    pred = (base + rng.integers(-1, 2, base.shape)).astype(np.uint8)
    target = (base + rng.integers(-1, 2, base.shape)).astype(np.uint8)
    _assert_matches_skimage(pred, target, ssim_atol=2e-5)


def test_matches_skimage_on_real_faces(faces):
    pred = np.concatenate([_add_noise(faces[:3], 6), faces[3:5][::-1]])
    _assert_matches_skimage(pred[:, ::-1], faces[:5, ::-1], batch_size=3)  # views with negative strides too


def test_identical_images():
    image = np.random.default_rng(2).integers(0, 256, (2, 16, 20, 3), dtype=np.uint8)
    result = pixel_metrics(image, torch.from_numpy(image))
    np.testing.assert_array_equal(result["L1"], 0)
    np.testing.assert_array_equal(result["L2"], 0)
    np.testing.assert_allclose(result["SSIM"], 1, atol=1e-6)
    # The documented finite bound: the PSNR of a single channel value off by one.
    bound = 10 * math.log10(255**2 * 16 * 20 * 3)
    np.testing.assert_allclose(result["PSNR"], bound, rtol=1e-15)
    off_by_one = image.copy()
    off_by_one[0, 0, 0, 0] ^= 1
    assert pixel_metrics(off_by_one[:1], image[:1])["PSNR"][0] == pytest.approx(bound, rel=1e-15)


@pytest.mark.parametrize(
    "pred, target, message",
    [
        (np.zeros((2, 16, 16, 3), np.uint8), np.zeros((2, 16, 17, 3), np.uint8), "pred: shape .* differs"),
        (np.zeros((2, 16, 16, 3), np.float32), np.zeros((2, 16, 16, 3), np.uint8), "pred: expected uint8"),
        (np.zeros((2, 16, 16, 3), np.uint8), np.zeros((2, 16, 16, 3), np.int64), "target: expected uint8"),
        (np.zeros((16, 16, 3), np.uint8), np.zeros((16, 16, 3), np.uint8), r"pred: expected shape \(N, H, W, 3\)"),
        (np.zeros((1, 16, 16, 1), np.uint8), np.zeros((1, 16, 16, 1), np.uint8), r"pred: expected shape"),
        ([[0]], np.zeros((1, 16, 16, 3), np.uint8), "pred: expected a uint8 array"),
        (np.zeros((1, 10, 16, 3), np.uint8), np.zeros((1, 10, 16, 3), np.uint8), "11x11 SSIM window"),
    ],
)
def test_bad_input(pred, target, message):
    with pytest.raises(RwganError, match=message):
        pixel_metrics(pred, target)


# --- LPIPS -------------------------------------------------------------------------------------

# relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 in torchvision's vgg16().features.
VGG_RELU_TAPS = (3, 8, 15, 22, 29)


def _random_vgg_and_heads(seed=0):
    """VGG16 layers and LPIPS heads with seeded random weights (no download)."""
    generator = torch.Generator().manual_seed(seed)
    features = make_layers(cfgs["D"]).eval()  # torchvision's vgg16().features, without the classifier
    with torch.no_grad():
        for conv in (m for m in features if isinstance(m, nn.Conv2d)):
            fan_in = conv.in_channels * 9
            conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator) * math.sqrt(2 / fan_in))
            conv.bias.copy_(torch.randn(conv.bias.shape, generator=generator) * 0.1)
    heads = [torch.rand(1, c, 1, 1, generator=generator) for c in (64, 128, 256, 512, 512)]
    return features, heads


def _lpips_by_hand(features, heads, x, y) -> np.ndarray:
    """LPIPS written out step by step (Zhang et al. 2018, eq. 1) with numpy in float64."""
    taps = {}
    hooks = [
        features[index].register_forward_hook(lambda _m, _i, out, index=index: taps.__setitem__(index, out.clone()))
        for index in VGG_RELU_TAPS
    ]
    shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)
    activations = []
    with torch.no_grad():
        for image in (x, y):
            features((image - shift) / scale)
            activations.append([taps[index].double().numpy() for index in VGG_RELU_TAPS])
    for hook in hooks:
        hook.remove()
    total = np.zeros(len(x))
    for fx, fy, head in zip(*activations, heads):
        fx = fx / (np.sqrt((fx**2).sum(axis=1, keepdims=True)) + 1e-10)
        fy = fy / (np.sqrt((fy**2).sum(axis=1, keepdims=True)) + 1e-10)
        total += (head.double().numpy() * (fx - fy) ** 2).sum(axis=1).mean(axis=(1, 2))
    return total


def test_lpips_equals_a_step_by_step_computation():
    features, heads = _random_vgg_and_heads()
    generator = torch.Generator().manual_seed(1)
    x = torch.rand(3, 3, 40, 48, generator=generator) * 2 - 1
    y = (x + 0.3 * torch.randn(x.shape, generator=generator)).clamp(-1, 1)
    with torch.no_grad():
        ours = LPIPS(features, heads)(x, y).double().numpy()
    np.testing.assert_allclose(ours, _lpips_by_hand(features, heads, x, y), rtol=1e-5)


def test_lpips_equals_the_official_package(faces, lpips_vgg):
    # Reference values from the `lpips` package (0.1.4; LPIPS(net='vgg'), v0.1) with these
    # same VGG16 weights loaded into it: pair (faces[0], faces[1]), and faces[0] plus
    # Gaussian noise (sigma 20, default_rng(0), rounded) against faces[0].
    x = torch.from_numpy(faces[:2]).permute(0, 3, 1, 2).float() / 127.5 - 1
    noisy = torch.from_numpy(_add_noise(faces[:1], 20)).permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.no_grad():
        assert lpips_vgg(x[:1], x[1:]).item() == pytest.approx(0.6314386, abs=1e-5)
        assert lpips_vgg(noisy, x[:1]).item() == pytest.approx(0.4169831, abs=1e-5)


def test_lpips_zero_for_identical_and_grows_with_noise(faces, lpips_vgg):
    images = faces[:2, ::2, ::2]
    result = [
        pixel_metrics(_add_noise(images, sigma) if sigma else images, images, lpips=lpips_vgg)["LPIPS"]
        for sigma in (0, 5, 15, 40)
    ]
    np.testing.assert_array_equal(result[0], 0)
    for weaker, stronger in zip(result, result[1:]):
        assert np.all(stronger > weaker)


def test_lpips_bad_input():
    features, heads = _random_vgg_and_heads()
    with pytest.raises(RwganError, match="LPIPS: expected two"):
        LPIPS(features, heads)(torch.zeros(1, 3, 32, 32), torch.zeros(1, 3, 32, 16))
    with pytest.raises(RwganError, match="heads: expected 5 tensors"):
        LPIPS(features, heads[:4])


# --- FID and KID -------------------------------------------------------------------------------


class _MeanColour(nn.Module):
    """A stand-in extractor with torch-fidelity's interface: uint8 (N, 3, H, W) -> ((N, 3),)."""

    def forward(self, images):
        return (images.double().mean(dim=(2, 3)),)


def test_features_accept_arrays_and_iterables():
    images = np.random.default_rng(3).integers(0, 256, (7, 8, 8, 3), dtype=np.uint8)
    expected = images.reshape(7, -1, 3).mean(axis=1)
    as_array = inception_features(images, _MeanColour(), batch_size=3)
    as_images = inception_features(iter(images), _MeanColour(), batch_size=3)
    as_batches = inception_features([images[:2], images[2], images[3:]], _MeanColour(), batch_size=4)
    for features in (as_array, as_images, as_batches):
        np.testing.assert_allclose(features, expected, rtol=1e-12)
    with pytest.raises(RwganError, match="images: expected uint8"):
        inception_features([images[0].astype(np.float32)], _MeanColour())
    with pytest.raises(RwganError, match="at least one image"):
        inception_features([], _MeanColour())


def test_fid_of_gaussians_by_hand():
    real = np.random.default_rng(4).normal(size=(500, 6))
    covariance_trace = np.trace(np.cov(real, rowvar=False))
    # Shifting every sample by c moves the mean only: FID = |c|^2.
    shifted = fid_kid_from_features(real, real + [1, 0, 2, 0, 0, 0], kid_subsets=1)
    assert shifted["fid"] == pytest.approx(5, abs=1e-6)
    # Scaling by 2: Tr(S + 4S - 2 * 2S) = Tr(S), and the means differ by mu.
    scaled = fid_kid_from_features(real, 2 * real, kid_subsets=1)
    assert scaled["fid"] == pytest.approx(covariance_trace + np.sum(real.mean(0) ** 2), rel=1e-6)


def test_kid_by_hand_and_its_subset_convention():
    rng = np.random.default_rng(5)
    real, fake = rng.normal(size=(30, 4)), rng.normal(0.5, 1, size=(30, 4))
    # One subset of all samples: the unbiased MMD^2 of the polynomial kernel (x.y / d + 1)^3.
    kernel = lambda a, b: (a @ b.T / 4 + 1) ** 3  # noqa: E731
    k_rr, k_ff, k_rf = kernel(real, real), kernel(fake, fake), kernel(real, fake)
    off_diagonal = lambda k: (k.sum() - np.trace(k)) / (30 * 29)  # noqa: E731
    mmd2 = off_diagonal(k_rr) + off_diagonal(k_ff) - 2 * k_rf.mean()
    result = fid_kid_from_features(real, fake, kid_subsets=1)  # None: min(1000, 30, 30) = 30
    assert result["kid_mean"] == pytest.approx(mmd2, rel=1e-9)
    assert result["kid_std"] == 0
    # A subset larger than a set cannot be drawn: nan, never 0.
    too_large = fid_kid_from_features(real, fake[:20], kid_subset_size=25)
    assert math.isnan(too_large["kid_mean"]) and math.isnan(too_large["kid_std"])
    assert np.isfinite(too_large["fid"])
    not_asked = fid_kid_from_features(real, fake, kid_subsets=0)
    assert math.isnan(not_asked["kid_mean"]) and not_asked["fid"] == result["fid"]
    with pytest.raises(RwganError, match="kid_subsets: expected a count >= 0"):
        fid_kid_from_features(real, fake, kid_subsets=-1)


def test_fid_needs_two_samples_of_equal_width():
    with pytest.raises(RwganError, match=r"real: expected features \(N, D\) with N >= 2"):
        fid_kid_from_features(np.zeros((1, 4)), np.zeros((5, 4)))
    with pytest.raises(RwganError, match="fake: feature width 3 differs from real's 4"):
        fid_kid_from_features(np.zeros((5, 4)), np.zeros((5, 3)))


def test_fid_and_kid_with_a_given_extractor():
    rng = np.random.default_rng(6)
    real = rng.integers(0, 128, (6, 12, 12, 3), dtype=np.uint8)
    result = fid_and_kid(real, real + np.uint8(10), extractor=_MeanColour(), kid_subset_size=4)
    # Mean colours shift by exactly 10 in each channel: FID = 3 * 10^2.
    assert result["fid"] == pytest.approx(300, abs=1e-6)
    assert result["kid_mean"] > 0


def test_fid_on_real_faces_is_zero_for_itself_and_grows_with_noise(faces, inception):
    """Inception features of 8 faces, shrunk to 64x64 (torch-fidelity resizes to 299)."""
    small = faces[:8].reshape(8, 64, 4, 64, 4, 3).mean(axis=(2, 4)).round().astype(np.uint8)
    clean = inception_features(small, inception, batch_size=4)
    assert clean.shape == (8, 2048) and clean.dtype == np.float64
    itself = fid_kid_from_features(clean, clean)
    assert abs(itself["fid"]) < 1e-3
    fids, kids = [itself["fid"]], [itself["kid_mean"]]
    for sigma in (8, 32):
        result = fid_kid_from_features(clean, inception_features(_add_noise(small, sigma), inception, batch_size=4))
        fids.append(result["fid"])
        kids.append(result["kid_mean"])
    assert fids[0] < fids[1] < fids[2]
    assert kids[0] < kids[1] < kids[2]


def test_low_rank_fid_equals_torch_fidelity():
    """The exact small-set FID agrees with torch-fidelity's eigenvalue route."""
    import torch
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric

    from rwgan.metrics import _fid_low_rank

    rng = np.random.default_rng(5)
    real = torch.as_tensor(rng.normal(size=(40, 64)))
    fake = torch.as_tensor(rng.normal(loc=0.3, scale=1.2, size=(30, 64)))
    reference = fid_statistics_to_metric(
        fid_features_to_statistics(real), fid_features_to_statistics(fake), verbose=False
    )[KEY_METRIC_FID]
    assert _fid_low_rank(real, fake) == pytest.approx(float(reference), rel=1e-6)
