"""rwgan.data and the data stages: conversions, resizing, embedded data, prepare, download."""
import csv
import functools
import hashlib
import http.server
import io as _stdio
import logging
import subprocess
import sys
import tarfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from conftest import write_params
from pipeline import download, prepare
from rwgan import data, io, masks
from rwgan.errors import RwganError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CELEBAHQ = SHARED / "celebahq-256"
LAMA_LISTS = SHARED / "lama-lists"
LOG = logging.getLogger("test_data")


def _png_bytes(seed: int, size: int = 32) -> bytes:
    buffer = _stdio.BytesIO()
    image = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def _params(tmp_path: Path, dataset: str, spec: dict, image_size: int = 32, workers: int = 1) -> dict:
    """A profile ``t`` of one dataset; its outputs go to ``work/t/`` under the current folder (``tmp_path``)."""
    return {
        "profile": "t",
        "image_size": image_size,
        "seed": 0,
        "workdir": "work/t",
        "data": {"workers": workers, "datasets": {dataset: spec}},
    }


def _manifest(folder: Path) -> list[dict]:
    with open(folder / "manifest.csv", newline="") as handle:
        return list(csv.DictReader(handle))


# ------------------------------------------------------------------ conversions


def test_image_tensor_round_trip_is_exact_for_every_value():
    values = np.arange(256, dtype=np.uint8)
    image = np.stack([values.reshape(16, 16)] * 3, axis=-1)
    tensor = data.image_to_tensor(image)
    assert tensor.shape == (1, 3, 16, 16) and tensor.dtype == torch.float32
    assert tensor.min() == -1 and tensor.max() == 1
    np.testing.assert_array_equal(data.tensor_to_image(tensor)[0], image)
    # Clamped, and 127.5 (tensor value 0) rounds half to even: 128.
    outside = torch.tensor([-3.0, 0.0, 2.0]).reshape(1, 3, 1, 1)
    assert data.tensor_to_image(outside).ravel().tolist() == [0, 128, 255]


def test_mask_to_tensor_is_the_papers_m():
    hole = np.zeros((2, 4, 4), bool)
    hole[0, 1:3, 1:3] = True
    m = data.mask_to_tensor(hole)
    assert m.shape == (2, 1, 4, 4) and m.dtype == torch.float32
    assert m[0, 0, 1, 1] == 0 and m[0, 0, 0, 0] == 1 and m[1].sum() == 16
    assert data.mask_to_tensor(hole[0]).shape == (1, 1, 4, 4)
    with pytest.raises(RwganError, match="bool"):
        data.mask_to_tensor(hole.astype(np.uint8))
    with pytest.raises(RwganError, match="uint8"):
        data.image_to_tensor(np.zeros((4, 4, 3), np.float32))


def test_resize_matches_torch_antialiased_bilinear():
    image = np.random.default_rng(0).integers(0, 256, (96, 80, 3), dtype=np.uint8)
    ours = data.resize_image(image, 32).astype(int)
    reference = F.interpolate(
        torch.from_numpy(image).permute(2, 0, 1)[None].float(), size=(32, 32), mode="bilinear",
        antialias=True, align_corners=False,
    )
    reference = reference.round().clamp(0, 255)[0].permute(1, 2, 0).numpy().astype(int)
    assert np.abs(ours - reference).max() <= 1
    np.testing.assert_array_equal(data.resize_image(image[:32, :32], 32), image[:32, :32])
    cropped = data.resize_image(image, 16, data.center_square(image.shape))
    np.testing.assert_array_equal(cropped, data.resize_image(image[8:88], 16))


def test_decode_image_names_a_truncated_file():
    payload = _png_bytes(0)
    assert data.decode_image(payload, "ok.png").shape == (32, 32, 3)
    with pytest.raises(RwganError, match=r"^cut\.png: not a readable image"):
        data.decode_image(payload[: len(payload) // 2], "cut.png")


# ------------------------------------------------------------------ embedded data


def test_embedded_crops_are_deterministic_and_split_by_photo(tmp_path):
    first = data.embedded_crops(["astronaut", "china"], 4, 32, seed=0, split="train", min_crop_fraction=0.5)
    again = data.embedded_crops(["astronaut", "china"], 4, 32, seed=0, split="train", min_crop_fraction=0.5)
    other = data.embedded_crops(["astronaut", "china"], 4, 32, seed=1, split="train", min_crop_fraction=0.5)
    assert [name for name, _, _ in first] == ["astronaut_0000", "china_0001", "astronaut_0002", "china_0003"]
    assert all(np.array_equal(a[1], b[1]) and a[2] == b[2] for a, b in zip(first, again))
    assert not np.array_equal(first[0][1], other[0][1])
    assert all(image.shape == (32, 32, 3) and image.dtype == np.uint8 for _, image, _ in first)

    spec = {"source": "embedded", "test_photos": ["chelsea", "grace_hopper"], "train": 9, "test": 3,
            "min_crop_fraction": 0.6}
    monkey = pytest.MonkeyPatch()
    monkey.chdir(tmp_path)
    try:
        out = tmp_path / prepare.prepare(_params(tmp_path, "embedded", spec), "embedded", LOG)
    finally:
        monkey.undo()
    rows = _manifest(out)
    sources = {split: {row["source"].split(" ")[0] for row in rows if row["split"] == split} for split in data.SPLITS}
    assert sources["test"] == {"skimage:data/chelsea.png", "matplotlib:mpl-data/sample_data/grace_hopper.jpg"}
    assert len(sources["train"]) == 7 and not sources["train"] & sources["test"]
    assert len(list((out / "train").glob("*.png"))) == 9 and len(list((out / "test").glob("*.png"))) == 3


# ------------------------------------------------------------------ prepare


@pytest.mark.skipif(not CELEBAHQ.is_dir(), reason="../shared/data/celebahq-256 absent")
def test_prepare_celebahq_mirror_yields_the_declared_split(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = {"source": "local", "path": str(CELEBAHQ), "split": {"method": "count", "test": 30},
            "expected": {"train": 200, "test": 30}}
    out = prepare.prepare(_params(tmp_path, "celebahq", spec, workers=2), "celebahq", LOG)
    rows = _manifest(out)
    by_split = {split: [row for row in rows if row["split"] == split] for split in data.SPLITS}
    assert len(by_split["train"]) == 200 and len(by_split["test"]) == 30
    sources = [{Path(row["source"]).name for row in by_split[split]} for split in data.SPLITS]
    assert not sources[0] & sources[1] and len(sources[0] | sources[1]) == 230
    for row in rows[:20]:
        assert io.read_image(out / row["file"], 32).dtype == np.uint8
        assert io.sha256_file(out / row["file"]) == row["sha256"]
    # The same seed gives the same split and bytes, in one process as with two.
    again = prepare.prepare(_params(tmp_path, "celebahq", spec, workers=1), "celebahq", LOG)
    assert _manifest(again) == rows


@pytest.mark.skipif(not (CELEBAHQ.is_dir() and LAMA_LISTS.is_dir()), reason="../shared/data absent")
def test_prepare_split_lists_match_by_number(tmp_path, monkeypatch):
    # The mirror's files (00016_im_truth.png, ...) matched to LaMa's lists (16.jpg, ...) by number.
    monkeypatch.chdir(tmp_path)
    split = {"method": "lists", "key": "number", "train": str(LAMA_LISTS / "train_shuffled.flist"),
             "test": str(LAMA_LISTS / "val_shuffled.flist")}
    spec = {"source": "local", "path": str(CELEBAHQ), "split": split, "expected": {"train": 215, "test": 15},
            "limit": {"train": 5}}
    out = prepare.prepare(_params(tmp_path, "celebahq", spec), "celebahq", LOG)
    rows = _manifest(out)
    test_numbers = {int(Path(row["file"]).name[:5]) for row in rows if row["split"] == "test"}
    listed = {int(line.split(".")[0]) for line in (LAMA_LISTS / "val_shuffled.flist").read_text().split()}
    assert len(test_numbers) == 15 and test_numbers <= listed
    assert sum(row["split"] == "train" for row in rows) == 5  # limit
    spec["expected"] = {"train": 28000, "test": 2000}
    with pytest.raises(RwganError, match=r"celebahq train split has 215 images, expected 28000"):
        prepare.prepare(_params(tmp_path, "celebahq", spec), "celebahq", LOG)


def test_prepare_reports_corrupt_and_truncated_files_by_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = tmp_path / "mine"
    source.mkdir()
    for i in range(6):
        (source / f"good{i}.png").write_bytes(_png_bytes(i))
    (source / "cut.png").write_bytes(_png_bytes(9)[:300])
    (source / "junk.jpg").write_bytes(b"not an image at all")
    spec = {"source": "local", "path": str(source), "split": {"method": "count", "test": 2}}
    with pytest.raises(RwganError) as error:
        prepare.prepare(_params(tmp_path, "mine", spec), "mine", LOG)
    message = str(error.value)
    assert message.startswith("2 bad source image(s)") and "cut.png" in message and "junk.jpg" in message
    assert "\n" not in message
    # Nothing half-written is left behind.
    assert not (tmp_path / "work" / "t" / "data" / "mine").exists()
    assert not (tmp_path / "work" / "t" / "data" / ".mine.partial").exists()


def test_prepare_checks_sizes_counts_and_archive_checksum(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    archive = tmp_path / "faces.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for split, count in (("train", 4), ("test", 2)):
            for i in range(count):
                bundle.writestr(f"faces/{split}/{i:03d}.png", _png_bytes(i))
    spec = {"source": "local", "path": str(archive), "split": {"method": "folders", "train": "faces/train",
            "test": "faces/test"}, "expected": {"train": 4, "test": 2}, "min_side": 32}
    out = prepare.prepare(_params(tmp_path, "faces", spec, image_size=16), "faces", LOG)
    assert sorted(row["file"] for row in _manifest(out)) == [
        "test/000.png", "test/001.png", "train/000.png", "train/001.png", "train/002.png", "train/003.png"]
    too_small = {**spec, "min_side": 64}
    with pytest.raises(RwganError, match=r"faces/train/000\.png: 32x32 is smaller than min_side 64"):
        prepare.prepare(_params(tmp_path, "faces", too_small), "faces", LOG)
    wrong_sum = {**spec, "sha256": "0" * 64}
    with pytest.raises(RwganError, match=r"faces\.zip: sha256 mismatch \(expected 0{64}, got [0-9a-f]{64}\)"):
        prepare.prepare(_params(tmp_path, "faces", wrong_sum), "faces", LOG)
    assert (tmp_path / "work" / "t" / "data" / "faces" / "manifest.csv").is_file()  # the earlier result is intact


def test_output_names_drop_the_common_folder_and_keep_the_rest():
    names = ["data_256/a/airfield/1.jpg", "data_256/b/bar/1.jpg"]
    assert prepare.output_names(names) == ["a_airfield_1.png", "b_bar_1.png"]
    assert prepare.output_names(["val_256/x.jpg", "val_256/y.jpg"]) == ["x.png", "y.png"]
    assert prepare.output_names(["only.jpg"]) == ["only.png"]


# ------------------------------------------------------------------ download


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves ``payload`` with Range support; cuts the first full response after ``cut`` bytes."""

    payload = b""
    cut: int | None = None
    ranges: list = []

    def do_GET(self):  # noqa: N802 (http.server's naming)
        start = int(self.headers["Range"].split("=")[1].rstrip("-")) if self.headers.get("Range") else 0
        type(self).ranges.append(start)
        body = self.payload[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if type(self).cut is not None:
            body, type(self).cut = body[: type(self).cut], None
            self.wfile.write(body)
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    handler = type("Handler", (_RangeHandler,), {"payload": bytes(range(256)) * 4096, "cut": None, "ranges": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield handler, f"http://127.0.0.1:{httpd.server_address[1]}/archive.tar"
    httpd.shutdown()
    httpd.server_close()


def test_interrupted_download_resumes_and_is_checked(tmp_path, server):
    handler, url = server
    expected = hashlib.sha256(handler.payload).hexdigest()
    dest = tmp_path / "downloads" / "archive.tar"
    handler.cut = 300_000
    with pytest.raises(RwganError, match=r"download interrupted at 300000 of 1048576 bytes; run again to resume"):
        download.fetch(url, dest, expected, LOG, timeout=5)
    assert not dest.exists() and dest.with_name("archive.tar.part").stat().st_size == 300_000
    assert download.fetch(url, dest, expected, LOG, timeout=5) == expected
    assert handler.ranges == [0, 300_000]  # the second request resumed
    assert dest.read_bytes() == handler.payload and not dest.with_name("archive.tar.part").exists()
    assert dest.with_name("archive.tar.sha256").read_text().split()[0] == expected
    # A complete file is not fetched again.
    assert download.fetch(url, dest, expected, LOG, timeout=5) == expected and len(handler.ranges) == 2


def test_download_checksum_mismatch_and_unknown_checksum(tmp_path, server, caplog):
    handler, url = server
    dest = tmp_path / "downloads" / "archive.tar"
    with pytest.raises(RwganError, match=r"archive\.tar: sha256 mismatch \(expected f{64}, got [0-9a-f]{64}\)"):
        download.fetch(url, dest, "f" * 64, LOG, timeout=5)
    assert not dest.exists() and not dest.with_name("archive.tar.part").exists()
    with caplog.at_level(logging.WARNING, logger="test_data"):
        digest = download.fetch(url, dest, None, LOG, timeout=5)
    assert "no sha256 in params.yaml" in caplog.text and digest in caplog.text
    with pytest.raises(RwganError, match="sha256 mismatch"):  # the recorded value is checked later
        download.fetch(url, dest, "0" * 64, LOG, timeout=5)


def test_download_source_from_file_urls_prepares_each_archive_as_a_split(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    urls = {}
    for split, count in (("train", 3), ("test", 2)):
        archive = tmp_path / f"{split}_256.tar"
        with tarfile.open(archive, "w") as bundle:
            for i in reversed(range(count)):  # archive order differs from name order
                payload = _png_bytes(10 * i + len(split))
                info = tarfile.TarInfo(f"{split}_256/img{i}.png")
                info.size = len(payload)
                bundle.addfile(info, _stdio.BytesIO(payload))
        urls[split] = {"url": archive.as_uri(), "sha256": io.sha256_file(archive)}
    spec = {"source": "download", "urls": urls, "expected": {"train": 3, "test": 2}}
    params = _params(tmp_path, "places", spec, image_size=16)
    with pytest.raises(RwganError, match=r"downloads/places/train_256\.tar: not downloaded"):
        prepare.prepare(params, "places", LOG)
    marker = download.download(params, "places", LOG)
    assert marker == Path("work/t/downloads/places.complete")
    assert len(marker.read_text().splitlines()) == 2
    rows = _manifest(prepare.prepare(params, "places", LOG))
    assert [row["file"] for row in rows] == ["train/img0.png", "train/img1.png", "train/img2.png",
                                            "test/img0.png", "test/img1.png"]


def test_local_source_without_path_says_where_to_obtain_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = {"source": "local", "path": None, "obtain": "the authors"}
    with pytest.raises(RwganError, match=r"data\.datasets\.paris\.path: not set .*obtain it from the authors"):
        download.download(_params(tmp_path, "paris", spec), "paris", LOG)
    with pytest.raises(RwganError, match="source: expected embedded, download or local"):
        download.download(_params(tmp_path, "paris", {"source": "ftp"}), "paris", LOG)


# ------------------------------------------------------------------ the training dataset


def test_inpainting_dataset_is_seeded_per_epoch_and_index(tmp_path):
    folder = tmp_path / "images"
    for i in range(3):
        io.save_png(folder / f"{i}.png", np.full((32, 32, 3), 40 * i, np.uint8))
    sampler = functools.partial(masks.random_training_mask, size=32)
    dataset = data.InpaintingDataset(folder, 32, sampler, seed=5)
    item = dataset[1]
    assert item["image"].shape == (3, 32, 32) and item["mask"].shape == (1, 32, 32)
    assert torch.allclose(item["image"], torch.full((3, 32, 32), 40 / 127.5 - 1))
    assert set(item["mask"].unique().tolist()) <= {0.0, 1.0} and 0.6 <= item["mask"].mean() < 1
    np.testing.assert_array_equal(dataset.hole(1), ~item["mask"][0].numpy().astype(bool))
    np.testing.assert_array_equal(dataset.hole(1), data.InpaintingDataset(folder, 32, sampler, seed=5).hole(1))
    epoch0 = dataset.hole(1)
    dataset.set_epoch(1)
    assert not np.array_equal(dataset.hole(1), epoch0)

    mask_folder = tmp_path / "masks"
    io.save_png(mask_folder / "a.png", masks.regular_mask(32, 8).astype(np.uint8) * 255)
    fixed = data.InpaintingDataset(folder, 32, mask_folder)
    assert fixed[0]["mask"].sum() == 32 * 32 - 64
    with pytest.raises(RwganError, match=r"expected an image of 16x16"):
        data.InpaintingDataset(folder, 16, sampler)[0]


def test_stage_command_prints_one_error_line_and_exits_2(tmp_path):
    paris = {"source": "local", "path": str(tmp_path / "nowhere"), "split": {"method": "count", "test": 1}}
    write_params(tmp_path, seed=0, image_size=32, datasets=["paris"], data={"workers": 1, "datasets": {"paris": paris}})
    repo = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-m", "pipeline.download", "--dataset", "paris"], cwd=tmp_path,
                          env={"PYTHONPATH": str(repo), "PATH": ""}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    expected = f"error: {tmp_path / 'nowhere'}: not found (params.yaml data.datasets.paris.path)"
    assert done.stderr.strip().splitlines()[-1] == expected
    assert "error:" in (tmp_path / "logs" / "t" / "download-paris.log").read_text()
    # As the Snakefile runs it (`cmd > log 2>&1`): every line once in the log, which stays whole.
    log = tmp_path / "logs" / "t" / "download-paris.log"
    with open(log, "w") as handle:
        done = subprocess.run([sys.executable, "-m", "pipeline.download", "--dataset", "paris"], cwd=tmp_path,
                              env={"PYTHONPATH": str(repo), "PATH": ""}, stdout=handle, stderr=handle, timeout=60)
    assert done.returncode == 2
    lines = log.read_text().splitlines()
    assert lines == [expected]
