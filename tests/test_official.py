"""`rwgan import-official`: the TF checkpoint reader and the official-to-rwgan mapping.

- The reader (rwgan.tfcheckpoint) against a checkpoint TensorFlow wrote, committed in
  tests/data/official (two shards, Adam slots, every decodable dtype; regenerate with
  make_fixture.py), compared tensor by tensor with what TensorFlow's own reader returned.
- The mapping (rwgan.official) against an independent NHWC re-implementation of the
  official graph (TF semantics: HWIO kernels, reflect pads, nearest x2, aligned-corner
  mask resizes) fed the official variable names, and the discriminator's spectral norm
  against the official power iteration, all without TensorFlow.
- `rwgan import-official` end to end on a full-size checkpoint in the bundle format
  (written by a small writer below), then `rwgan inpaint` on the result.
- One-line errors: wrong file, missing shard, corrupt bytes, missing variable, shape
  mismatch, another model's checkpoint.
- With TensorFlow installed (skipped otherwise): the official generator and
  discriminator built in tf.compat.v1 (tests/data/official/tf_official.py) with random
  weights, saved by tf.train.Saver, imported, and compared output for output.
  To run it: a Python with both TensorFlow and rwgan, e.g.
  ``python3 -m venv /tmp/tfvenv && /tmp/tfvenv/bin/pip install tensorflow-cpu tf-keras``,
  ``echo "import site; site.addsitedir('$PWD/.venv/lib/python3.11/site-packages')" >
  /tmp/tfvenv/lib/python3.11/site-packages/rwgan.pth``, then
  ``TF_USE_LEGACY_KERAS=1 /tmp/tfvenv/bin/python -m pytest tests/test_official.py -s``.
"""
from __future__ import annotations

import importlib.util
import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from rwgan import cli
from rwgan.errors import RwganError
from rwgan.inference import load_inpainter
from rwgan.official import DISCRIMINATOR_FORMAT, convert, load_discriminator
from rwgan.tfcheckpoint import TFCheckpoint, _crc_register, crc32c, mask_crc, unmask_crc

FIXTURE = Path(__file__).parent / "data" / "official"
PREFIX = FIXTURE / "tiny.ckpt-7"

# The official variables, from inpaint_model.py / inpaint_ops.py / region_conv.py (not from rwgan).
ENCODER = [("conv1_1", 5, 4, 32), ("conv2_downsample_1", 3, 32, 64), ("conv3_1", 3, 64, 64),
           ("conv4_downsample_1", 3, 64, 128), ("conv5_1", 3, 128, 128), ("conv6_1", 3, 128, 128),
           ("conv7_atrous_1", 3, 128, 128), ("conv8_atrous_1", 3, 128, 128), ("conv9_atrous_1", 3, 128, 128),
           ("conv10_atrous_1", 3, 128, 128), ("conv11_1", 3, 256, 128), ("conv12_1", 3, 256, 128)]
SINET = ENCODER + [("com_13_fusion_1", 3, 384, 128), ("com_14_fusion", 3, 320, 128), ("com_15_fusion_1", 3, 320, 128),
                   ("conv16_1", 3, 128, 32), ("conv17_1", 3, 32, 16), ("conv18_1", 3, 16, 3)]
GPNET = ENCODER + [("conv13_upsample_1", 3, 256, 64), ("conv14_1", 3, 128, 64), ("conv15_upsample_1", 3, 128, 32),
                   ("conv16_1", 3, 64, 16), ("conv17_1", 3, 16, 3)]
D_WIDTHS = [4, 64, 128, 256, 256, 256, 256]


def official_arrays(seed: int = 0, discriminator: bool = True, adam: bool = True) -> dict[str, np.ndarray]:
    """Random float32 values under every official variable name and shape."""
    rng = np.random.default_rng(seed)
    arrays = {}

    def conv(name, k, cin, cout):
        limit = np.sqrt(6 / (k * k * (cin + cout)))
        arrays[f"{name}/kernel"] = rng.uniform(-limit, limit, (k, k, cin, cout)).astype(np.float32)
        arrays[f"{name}/bias"] = (0.1 * rng.standard_normal(cout)).astype(np.float32)

    for scope, layers in (("inpaint_net", SINET), ("inpaint_net_1", GPNET)):
        for name, k, cin, cout in layers:
            conv(f"{scope}/{name}", k, cin, cout)
    if discriminator:
        for index in range(1, 7):
            cin, cout = D_WIDTHS[index - 1], D_WIDTHS[index]
            kernel = rng.standard_normal((5, 5, cin, cout)) * 0.05
            arrays[f"discriminator/d_conv{index}_w"] = kernel.astype(np.float32)
            arrays[f"discriminator/d_conv{index}_bias"] = (0.1 * rng.standard_normal(cout)).astype(np.float32)
            arrays[f"discriminator/d_conv{index}u"] = rng.standard_normal((1, cout)).astype(np.float32)
    if adam:
        for name in [n for n in arrays if not n.endswith("u")]:
            arrays[f"{name}/Adam"] = np.zeros_like(arrays[name])
            arrays[f"{name}/Adam_1"] = np.zeros_like(arrays[name])
        arrays.update({"beta1_power": np.float32(0.5), "beta2_power": np.float32(0.9),
                       "beta1_power_1": np.float32(0.5), "beta2_power_1": np.float32(0.9)})
    return arrays


def convert_arrays(arrays: dict[str, np.ndarray]):
    return convert({k: np.shape(v) for k, v in arrays.items()}, lambda name: np.asarray(arrays[name]), "test.ckpt")


def one_line_error(call) -> str:
    with pytest.raises(RwganError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    return message


# ------------------------------------------------------------------ the reader


def test_crc32c():
    assert crc32c(b"123456789") == 0xE3069283  # the standard check value
    assert crc32c(b"") == 0
    data = np.random.default_rng(1).integers(0, 256, 100_003, dtype=np.uint8).tobytes()
    assert crc32c(data) == _crc_register(0xFFFFFFFF, data) ^ 0xFFFFFFFF  # vectorised == byte by byte
    assert unmask_crc(mask_crc(0x12345678)) == 0x12345678


def test_reader_reads_what_tensorflow_wrote():
    expected = json.loads((FIXTURE / "expected.json").read_text())
    arrays = np.load(FIXTURE / "expected.npz")
    checkpoint = TFCheckpoint(PREFIX)
    assert checkpoint.num_shards == 2
    assert {entry.shard_id for entry in checkpoint.entries.values()} == {0, 1}
    assert sorted(checkpoint.entries) == sorted(expected)
    for name, record in expected.items():
        entry = checkpoint.entries[name]
        assert (entry.dtype, list(entry.shape)) == (record["dtype"], record["shape"]), name
        if "key" in record:
            value, reference = checkpoint.read(name), arrays[record["key"]]
            assert value.dtype == reference.dtype and value.shape == reference.shape, name
            assert np.array_equal(value, reference), name
    assert "dtype string" in one_line_error(lambda: checkpoint.read("dtypes/string"))
    assert "no tensor named" in one_line_error(lambda: checkpoint.read("nope"))


@pytest.mark.parametrize("path", ["tiny.ckpt-7", "tiny.ckpt-7.index", "tiny.ckpt-7.data-00001-of-00002", "."])
def test_reader_accepts_prefix_index_shard_or_folder(path):
    assert TFCheckpoint(FIXTURE / path).prefix == PREFIX


@pytest.fixture
def copied(tmp_path):
    for path in FIXTURE.glob("tiny.ckpt-7.*"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path / "tiny.ckpt-7"


def test_reader_errors_are_one_line(copied, tmp_path):
    folder = copied.parent
    assert "no TensorFlow checkpoint found" in one_line_error(lambda: TFCheckpoint(folder / "missing.ckpt"))
    (folder / "photo.index").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    assert "not a TensorFlow checkpoint index" in one_line_error(lambda: TFCheckpoint(folder / "photo"))
    assert "exactly one" in one_line_error(lambda: TFCheckpoint(folder))  # two .index files now

    index = folder / "tiny.ckpt-7.index"
    good = index.read_bytes()
    index.write_bytes(good[:100] + bytes([good[100] ^ 0xFF]) + good[101:])
    assert "checksum mismatch" in one_line_error(lambda: TFCheckpoint(copied))
    index.write_bytes(good)

    shard = folder / "tiny.ckpt-7.data-00000-of-00002"
    data = shard.read_bytes()
    entry = TFCheckpoint(copied).entries["inpaint_net/conv16_1/kernel"]
    flipped = bytearray(data)
    flipped[entry.offset + 1000] ^= 0x01
    shard.write_bytes(bytes(flipped))
    assert "fails its crc32c check" in one_line_error(lambda: TFCheckpoint(copied).read(entry.name))
    assert TFCheckpoint(copied).read(entry.name, verify=False).shape == (3, 3, 128, 32)
    shard.write_bytes(data[:entry.offset + 10])
    assert "truncated data shard" in one_line_error(lambda: TFCheckpoint(copied).read(entry.name))
    shard.unlink()
    message = one_line_error(lambda: TFCheckpoint(copied))
    assert "data-00000-of-00002: data shard not found" in message


# ------------------------------------------------------------------ the mapping


def _nhwc_conv(x, kernel, bias, stride=1, rate=1, pad_mode="reflect", activation=True):
    """TF's VALID conv2d on a reflect-padded NHWC input, written out tap by tap from the
    HWIO kernel (no layout conversion shared with the code under test)."""
    k = kernel.shape[0]
    pad = rate * (k - 1) // 2
    x = F.pad(x.permute(0, 3, 1, 2), (pad,) * 4, mode=pad_mode).permute(0, 2, 3, 1)
    height = (x.shape[1] - rate * (k - 1) - 1) // stride + 1
    width = (x.shape[2] - rate * (k - 1) - 1) // stride + 1
    windows = torch.cat([x[:, i * rate: i * rate + (height - 1) * stride + 1: stride,
                           j * rate: j * rate + (width - 1) * stride + 1: stride]
                         for i in range(k) for j in range(k)], dim=-1)  # taps in HWIO row order
    out = windows @ kernel.reshape(-1, kernel.shape[-1]) + bias
    return F.elu(out) if activation else out


def reference_generator(arrays, image, mask):
    """The official RW_generator in NHWC from the official variable names: (I_p1, I_p2)."""
    w = {name: torch.from_numpy(np.asarray(value)) for name, value in arrays.items()}

    def conv(x, name, stride=1, rate=1):
        return _nhwc_conv(x, w[f"{name}/kernel"], w[f"{name}/bias"], stride, rate)

    def up(x):
        return x.repeat_interleave(2, dim=1).repeat_interleave(2, dim=2)

    def resized_mask(size):
        rows = np.floor(np.arange(size) * (mask.shape[1] - 1) / (size - 1) + 0.5).astype(int)
        return mask[:, rows][:, :, rows]

    def region(complete, missing, name, upsample):
        m = resized_mask(complete.shape[1])
        fused = torch.cat([complete * m, missing * (1 - m)], dim=-1)
        return conv(up(fused) if upsample else fused, name)

    def encoder(scope, x):
        e1 = conv(x, f"{scope}/conv1_1")
        e2 = conv(e1, f"{scope}/conv2_downsample_1", stride=2)
        e3 = conv(e2, f"{scope}/conv3_1")
        e4 = conv(e3, f"{scope}/conv4_downsample_1", stride=2)
        e5 = conv(e4, f"{scope}/conv5_1")
        e6 = conv(e5, f"{scope}/conv6_1")
        x = e6
        for index, rate in ((7, 2), (8, 4), (9, 8), (10, 16)):
            x = conv(x, f"{scope}/conv{index}_atrous_1", rate=rate)
        e11 = conv(torch.cat([x, e6], -1), f"{scope}/conv11_1")
        return e1, e2, e3, e4, conv(torch.cat([e11, e5], -1), f"{scope}/conv12_1")

    x = image * mask
    _, e2, e3, e4, e12 = encoder("inpaint_net", torch.cat([x, mask], -1))
    d = region(torch.cat([e12, e4], -1), e12, "inpaint_net/com_13_fusion_1", upsample=True)
    d = region(torch.cat([d, e3], -1), d, "inpaint_net/com_14_fusion", upsample=False)
    d = region(torch.cat([d, e2], -1), d, "inpaint_net/com_15_fusion_1", upsample=True)
    for name in ("conv16_1", "conv17_1", "conv18_1"):
        d = conv(d, f"inpaint_net/{name}")
    p1 = d.clamp(-1, 1)
    combined = x * mask + p1 * (1 - mask)
    e1, e2, e3, e4, e12 = encoder("inpaint_net_1", torch.cat([combined, mask], -1))
    g = conv(up(torch.cat([e12, e4], -1)), "inpaint_net_1/conv13_upsample_1")
    g = conv(torch.cat([g, e3], -1), "inpaint_net_1/conv14_1")
    g = conv(up(torch.cat([g, e2], -1)), "inpaint_net_1/conv15_upsample_1")
    g = conv(torch.cat([g, e1], -1), "inpaint_net_1/conv16_1")
    return p1, conv(g, "inpaint_net_1/conv17_1").clamp(-1, 1)


def test_official_layer_table_gives_the_papers_parameter_counts():
    arrays = official_arrays(adam=False)
    generator = sum(v.size for n, v in arrays.items() if n.startswith("inpaint_net"))
    discriminator = sum(v.size for n, v in arrays.items() if n.startswith("discriminator") and not n.endswith("u"))
    assert (generator, discriminator) == (4_706_054, 5_946_816)  # docs/model.md


def test_mapping_reproduces_the_official_graph():
    arrays = official_arrays(seed=3)
    model = convert_arrays(arrays)
    assert len(model.skipped) == 2 * 82 + 4  # Adam and Adam_1 of 70 + 12 trainable variables, four beta powers
    rng = np.random.default_rng(4)
    size = 72  # small, yet every official reflect pad is valid (dilation 16 on an 18 px map)
    image = torch.from_numpy(rng.uniform(-1, 1, (1, size, size, 3)).astype(np.float32))
    mask = torch.ones(1, size, size, 1)
    mask[:, 10:45, 15:50] = 0
    mask[:, 55:60, 3:30] = 0
    with torch.no_grad():
        p1, p2 = reference_generator(arrays, image, mask)
        output = model.generator(image.permute(0, 3, 1, 2), mask.permute(0, 3, 1, 2))
    for ours, official in ((output.coarse, p1), (output.refined, p2)):
        official = official.permute(0, 3, 1, 2)
        assert (official.abs() < 1).float().mean() > 0.5  # mostly unclamped: the comparison means something
        assert (ours - official).abs().max().item() < 1e-4


def test_discriminator_spectral_norm_matches_the_official_power_iteration():
    arrays = official_arrays(seed=5, adam=False)
    model = convert_arrays(arrays)
    convs = [m for m in model.discriminator.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 6 and not model.discriminator.training
    for index, conv in enumerate(convs, start=1):
        w = arrays[f"discriminator/d_conv{index}_w"].astype(np.float64)
        u = arrays[f"discriminator/d_conv{index}u"].astype(np.float64)
        matrix = w.reshape(-1, w.shape[-1])  # inpaint_ops.spectral_norm: [kh * kw * in, out]
        v = u @ matrix.T
        v /= np.sqrt((v ** 2).sum()) + 1e-12
        u_hat = v @ matrix
        u_hat /= np.sqrt((u_hat ** 2).sum()) + 1e-12
        sigma = (v @ matrix @ u_hat.T).item()
        expected = torch.from_numpy(w / sigma).permute(3, 2, 0, 1)
        assert torch.allclose(conv.weight.double(), expected, rtol=1e-5, atol=1e-7)
        assert torch.equal(conv.bias, torch.from_numpy(arrays[f"discriminator/d_conv{index}_bias"]))


def test_mapping_without_discriminator_and_its_errors():
    arrays = official_arrays(seed=6, discriminator=False, adam=False)
    assert convert_arrays(arrays).discriminator is None

    broken = dict(arrays)
    del broken["inpaint_net/com_14_fusion/kernel"]
    assert one_line_error(lambda: convert_arrays(broken)) == (
        "test.ckpt: missing 1 of the 70 generator variables: inpaint_net/com_14_fusion/kernel")

    broken = dict(arrays, **{"inpaint_net/com_13_fusion_1/kernel": np.zeros((3, 3, 256, 128), np.float32)})
    assert one_line_error(lambda: convert_arrays(broken)) == (
        "test.ckpt: inpaint_net/com_13_fusion_1/kernel has shape [3, 3, 256, 128], expected [3, 3, 384, 128]")

    broken = dict(arrays, **{"inpaint_net/conv19_1/kernel": np.zeros((3, 3, 3, 3), np.float32)})
    message = one_line_error(lambda: convert_arrays(broken))
    assert "not part of the Region-wise GAN: inpaint_net/conv19_1/kernel" in message

    broken = dict(arrays, **{"discriminator/d_conv1_w": np.zeros((5, 5, 4, 64), np.float32)})
    assert "incomplete discriminator, missing discriminator/d_conv1_bias" in one_line_error(
        lambda: convert_arrays(broken))

    broken = dict(arrays, **{"inpaint_net/conv1_1/bias": np.zeros(32, np.int32)})
    assert "expected floating point" in one_line_error(lambda: convert_arrays(broken))

    deepfill = {"inpaint_net/conv1/kernel": np.zeros((5, 5, 5, 32), np.float32),
                "inpaint_net/conv2_downsample/kernel": np.zeros((3, 3, 32, 64), np.float32),
                "inpaint_net/allconv11/kernel": np.zeros((3, 3, 128, 128), np.float32)}
    assert "a DeepFill v1/v2" in one_line_error(lambda: convert_arrays(deepfill))
    other = {"dense/kernel": np.zeros((3, 4), np.float32), "global_step": np.int64(3)}
    assert one_line_error(lambda: convert_arrays(other)).startswith(
        "test.ckpt: not a Region-wise GAN checkpoint (none of its 70 generator variables")


# ------------------------------------------------------- the command, end to end


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, wire: int, payload: bytes | int) -> bytes:
    key = _varint(number << 3 | wire)
    if wire == 0:
        return key + _varint(payload)
    if wire == 5:
        return key + struct.pack("<I", payload)
    return key + _varint(len(payload)) + payload


def _block(contents: bytes) -> bytes:
    return contents + b"\x00" + struct.pack("<I", mask_crc(crc32c(contents + b"\x00")))


def _table_block(items: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(_varint(0) + _varint(len(k)) + _varint(len(v)) + k + v for k, v in items)
    return body + struct.pack("<II", 0, 1)


def write_bundle(prefix: Path, arrays: dict[str, np.ndarray], shards: int = 2) -> None:
    """A float32 checkpoint in TF's V2 bundle format (uncompressed table, like BundleWriter)."""
    names = sorted(arrays)
    datas = [bytearray() for _ in range(shards)]
    items = [(b"", _field(1, 0, shards) + _field(3, 2, _field(1, 0, 1)))]
    for position, name in enumerate(names):
        shard = position * shards // len(names)
        raw = np.ascontiguousarray(arrays[name], dtype="<f4").tobytes()
        shape = b"".join(_field(2, 2, _field(1, 0, d)) for d in np.shape(arrays[name]))
        entry = (_field(1, 0, 1) + _field(2, 2, shape) + (_field(3, 0, shard) if shard else b"")
                 + _field(4, 0, len(datas[shard])) + _field(5, 0, len(raw)) + _field(6, 5, mask_crc(crc32c(raw))))
        items.append((name.encode(), entry))
        datas[shard] += raw
    for shard, data in enumerate(datas):
        prefix.with_name(f"{prefix.name}.data-{shard:05d}-of-{shards:05d}").write_bytes(bytes(data))
    data_block = _block(_table_block(items))
    meta_block = _block(_table_block([]))
    handle = lambda offset, size: _varint(offset) + _varint(size)  # noqa: E731
    index_block = _block(_table_block([(items[-1][0], handle(0, len(data_block) - 5))]))
    meta_at, index_at = len(data_block), len(data_block) + len(meta_block)
    footer = handle(meta_at, len(meta_block) - 5) + handle(index_at, len(index_block) - 5)
    footer = footer.ljust(40, b"\x00") + struct.pack("<Q", 0xDB4775248B80FB57)
    prefix.with_name(prefix.name + ".index").write_bytes(data_block + meta_block + index_block + footer)


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("official")
    arrays = official_arrays(seed=7)
    write_bundle(folder / "v8.ckpt-3500", arrays)
    out = folder / "imported" / "model.pt"
    code = cli.main(["import-official", "--checkpoint", str(folder / "v8.ckpt-3500"), "--dataset", "celebahq",
                     "--mask-type", "contiguous", "--out", str(out)])
    assert code == 0
    return folder, arrays, out


def test_import_official_writes_a_model_rwgan_inpaint_reads(imported, tmp_path):
    folder, arrays, out = imported
    payload = torch.load(out, weights_only=True)
    record = payload["params"]["import_official"]
    assert (record["dataset"], record["mask_type"], payload["step"], payload["image_size"]) == (
        "celebahq", "contiguous", 3500, 256)
    assert sorted(record["files"]) == ["v8.ckpt-3500.data-00000-of-00002", "v8.ckpt-3500.data-00001-of-00002",
                                       "v8.ckpt-3500.index"]
    from rwgan.io import sha256_file
    assert record["files"]["v8.ckpt-3500.index"] == sha256_file(folder / "v8.ckpt-3500.index")

    inpainter = load_inpainter(out)
    expected = convert_arrays(arrays).generator
    for (name, ours), theirs in zip(inpainter.model.state_dict().items(), expected.state_dict().values()):
        assert torch.equal(ours, theirs), name

    discriminator = load_discriminator(out.with_name("model.discriminator.pt"))
    assert torch.load(out.with_name("model.discriminator.pt"), weights_only=True)["format"] == DISCRIMINATOR_FORMAT
    reference = convert_arrays(arrays).discriminator
    image, mask = torch.rand(1, 3, 64, 64) * 2 - 1, torch.ones(1, 1, 64, 64)
    mask[..., 10:40, 10:40] = 0
    with torch.no_grad():
        assert torch.equal(discriminator(image, mask), reference(image, mask))

    rng = np.random.default_rng(8)
    photo = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    hole = np.zeros((64, 64), np.uint8)
    hole[16:40, 20:50] = 255
    Image.fromarray(photo).save(tmp_path / "photo.png")
    Image.fromarray(hole).save(tmp_path / "hole.png")
    assert cli.main(["inpaint", "--checkpoint", str(out), "--image", str(tmp_path / "photo.png"),
                     "--mask", str(tmp_path / "hole.png"), "--out", str(tmp_path / "result.png")]) == 0
    result = np.asarray(Image.open(tmp_path / "result.png").convert("RGB"))
    assert np.array_equal(result[hole == 0], photo[hole == 0])
    assert np.array_equal(result, inpainter.inpaint(photo[None], (hole == 255)[None])[0])


def test_import_official_errors_name_the_file_and_write_nothing(tmp_path, capsys):
    out = tmp_path / "model.pt"

    def run(checkpoint, *extra):
        code = cli.main(["import-official", "--checkpoint", str(checkpoint), "--dataset", "places2",
                         "--mask-type", "discontiguous", "--out", str(out), *extra])
        return code, capsys.readouterr().err

    code, err = run(PREFIX)  # a TF-written checkpoint holding only a few of the variables
    assert code == 2 and err.count("\n") == 1 and not out.exists()
    assert err.startswith(f"error: {PREFIX}.index: missing 64 of the 70 generator variables: ")

    write_bundle(tmp_path / "odd.ckpt", {"generator/dense/kernel": np.zeros((2, 2), np.float32)}, shards=1)
    code, err = run(tmp_path / "odd.ckpt")
    assert code == 2 and "not a Region-wise GAN checkpoint" in err and not out.exists()

    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    code, err = run(tmp_path / "photo.png")
    assert code == 2 and "no TensorFlow checkpoint found" in err

    code, err = run(PREFIX, "--dataset", "celeba hq")
    assert code == 2 and err.startswith("error: dataset: expected a name")


# -------------------------------------------------- against TensorFlow itself


def _load_tf_official():
    spec = importlib.util.spec_from_file_location("tf_official", FIXTURE / "tf_official.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_import_matches_the_tensorflow_graph(tmp_path):
    """The official graph in TF with random weights -> tf.train.Saver (two shards, Adam
    slots) -> rwgan import-official -> the same outputs (I_p1, I_p2, D) to 1e-4, and the
    same PNG from rwgan inpaint (up to rounding)."""
    tf = pytest.importorskip("tensorflow", reason="TensorFlow is not installed (see this module's docstring)")
    official = _load_tf_official()
    v1 = tf.compat.v1
    size = 256
    rng = np.random.default_rng(9)
    import skimage.data

    photo = np.ascontiguousarray(skimage.data.astronaut()[::2, ::2])  # 256 x 256 RGB
    hole = np.zeros((size, size), bool)
    hole[60:150, 80:200] = True
    hole[180:200, 20:240] = True
    image = photo[None].astype(np.float32) / 127.5 - 1.0
    known = (~hole)[None, :, :, None].astype(np.float32)

    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(2022)  # TF's own initialisers (Glorot kernels, the D's u)
        image_in = v1.placeholder(tf.float32, [1, size, size, 3])
        mask_in = v1.placeholder(tf.float32, [1, size, size, 1])
        incomplete = image_in * mask_in
        p1, p2 = official.rw_generator(incomplete, mask_in, gpnet_device="/cpu:1")
        c2 = incomplete * mask_in + p2 * (1 - mask_in)
        normalized = []
        with tf.device("/cpu:1"):
            d_out = official.rw_discriminator(image_in * (1 - mask_in), mask_in, normalized=normalized)
        g_vars = v1.get_collection(v1.GraphKeys.TRAINABLE_VARIABLES, "inpaint_net")
        d_vars = v1.get_collection(v1.GraphKeys.TRAINABLE_VARIABLES, "discriminator")
        g_step = v1.train.AdamOptimizer(1e-4, 0.5, 0.9).minimize(tf.reduce_sum(p1) + tf.reduce_sum(p2),
                                                                 var_list=g_vars)
        d_step = v1.train.AdamOptimizer(1e-4, 0.5, 0.9).minimize(tf.reduce_sum(d_out), var_list=d_vars)
        assert g_step is not None and d_step is not None
        saver = v1.train.Saver(sharded=True)
        config = v1.ConfigProto(device_count={"CPU": 2}, allow_soft_placement=True)
        with v1.Session(graph=graph, config=config) as session:
            session.run(v1.global_variables_initializer())
            for variable in g_vars + d_vars:  # random biases too (TF starts them at zero)
                if "bias" in variable.name:
                    variable.load(0.1 * rng.standard_normal(variable.shape.as_list()).astype(np.float32), session)
            prefix = saver.save(session, str(tmp_path / "v8.ckpt"), global_step=3500, write_meta_graph=False)
            outputs = session.run([p1, p2, c2, d_out, normalized], {image_in: image, mask_in: known})
    tf_p1, tf_p2, tf_c2, tf_d, tf_normalized = outputs
    names = TFCheckpoint(prefix).entries
    assert TFCheckpoint(prefix).num_shards == 2
    assert "inpaint_net/com_14_fusion/kernel" in names and "inpaint_net_1/conv17_1/kernel/Adam_1" in names
    assert len([n for n in names if not ("Adam" in n or "power" in n)]) == 70 + 18

    out = tmp_path / "model.pt"
    assert cli.main(["import-official", "--checkpoint", prefix, "--dataset", "celebahq", "--mask-type",
                     "contiguous", "--out", str(out)]) == 0
    inpainter = load_inpainter(out)
    image_t = torch.from_numpy(image).permute(0, 3, 1, 2)
    mask_t = torch.from_numpy(known).permute(0, 3, 1, 2)
    with torch.no_grad():
        output = inpainter.model(image_t, mask_t)
        discriminator = load_discriminator(out.with_name("model.discriminator.pt"))
        d_ours = discriminator(image_t, mask_t)
        d_weights = [m.weight for m in discriminator.modules() if isinstance(m, torch.nn.Conv2d)]

    def nchw(array):
        return torch.from_numpy(array).permute(0, 3, 1, 2)

    differences = {
        "I_p1": (output.coarse - nchw(tf_p1)).abs().max().item(),
        "I_p2": (output.refined - nchw(tf_p2)).abs().max().item(),
        "I_c2": (output.composite - nchw(tf_c2)).abs().max().item(),
        "D weights (relative)": max(((ours - torch.from_numpy(w).permute(3, 2, 0, 1)).abs().max()
                                     / np.abs(w).max()).item() for ours, w in zip(d_weights, tf_normalized)),
        "D output (relative)": ((d_ours - nchw(tf_d)).abs().max() / np.abs(tf_d).max()).item(),
    }
    print(f"\nTF {tf.__version__} (tf.layers: {official.TF_LAYERS}) vs rwgan, max |difference|: "
          + ", ".join(f"{k} {v:.2e}" for k, v in differences.items()))
    assert (np.abs(tf_p1) < 1).mean() > 0.5 and (np.abs(tf_p2) < 1).mean() > 0.5
    assert all(value < 1e-4 for value in differences.values()), differences

    Image.fromarray(photo).save(tmp_path / "photo.png")
    Image.fromarray((hole * 255).astype(np.uint8)).save(tmp_path / "hole.png")
    assert cli.main(["inpaint", "--checkpoint", str(out), "--image", str(tmp_path / "photo.png"),
                     "--mask", str(tmp_path / "hole.png"), "--out", str(tmp_path / "result.png")]) == 0
    result = np.asarray(Image.open(tmp_path / "result.png").convert("RGB")).astype(int)
    tf_uint8 = np.round((np.clip(tf_c2[0], -1, 1) + 1) * 127.5).astype(int)
    print(f"rwgan inpaint PNG vs TF composite: max {np.abs(result - tf_uint8).max()} grey level(s), "
          f"{(result != tf_uint8).mean():.2e} of values differ")
    assert np.abs(result - tf_uint8).max() <= 1 and (result != tf_uint8).mean() < 1e-3
