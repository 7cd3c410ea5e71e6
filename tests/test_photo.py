"""rwgan.photo: photos of any size and colour mode, EXIF orientation, the crop strategy, folders."""
import io

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from rwgan import photo
from rwgan.errors import RwganError


class Fake:
    """An Inpainter stand-in: records the shapes it is given and fills every pixel with 200."""

    model_kind = "region_wise"
    source = "fake.pt"

    def __init__(self, image_size=64):
        self.image_size = image_size
        self.calls = []

    def inpaint(self, images, holes):
        assert images.dtype == np.uint8 and holes.dtype == bool and images.shape[:3] == holes.shape
        assert images.shape[1] % 4 == 0 and images.shape[2] % 4 == 0, images.shape
        assert not holes.all()
        self.calls.append(images.shape[1:3])
        return np.full_like(images, 200)


def png_bytes(array, **kwargs):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", **kwargs)
    return buffer.getvalue()


def with_orientation(image: Image.Image, orientation: int, fmt="PNG") -> bytes:
    exif = image.getexif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, exif=exif)
    return buffer.getvalue()


RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (23, 37, 3), dtype=np.uint8)


# ------------------------------------------------------------------ reading


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow(orientation):
    data = with_orientation(Image.fromarray(RGB), orientation)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))))
    read = photo.read_photo(data, "o.png")
    assert read.orientation == orientation and read.mode == "RGB"
    np.testing.assert_array_equal(read.pixels, expected)
    np.testing.assert_array_equal(photo.orient(RGB, orientation), expected)


def test_exif_orientation_of_a_jpeg_like_pillow(tmp_path):
    data = with_orientation(Image.fromarray(RGB), 6, fmt="JPEG")
    (tmp_path / "p.jpg").write_bytes(data)
    read = photo.read_photo(tmp_path / "p.jpg")
    assert read.shape == (37, 23)
    np.testing.assert_array_equal(read.pixels, np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "p.jpg"))))


def encode(mode):
    """(file bytes, the expected pixels, the expected Photo.mode) for each colour mode."""
    grey = RNG.integers(0, 256, RGB.shape[:2], dtype=np.uint8)
    alpha = RNG.integers(0, 256, RGB.shape[:2], dtype=np.uint8)
    if mode == "RGB":
        return png_bytes(RGB), RGB, "RGB"
    if mode == "RGBA":
        rgba = np.dstack([RGB, alpha])
        return png_bytes(rgba), rgba, "RGBA"
    if mode == "L":
        return png_bytes(grey), grey, "L"
    if mode == "LA":
        la = np.dstack([grey, alpha])
        return png_bytes(la), la, "LA"
    if mode == "1":
        bits = grey > 127
        buffer = io.BytesIO()
        Image.fromarray(bits).save(buffer, format="PNG")
        return buffer.getvalue(), bits.astype(np.uint8) * 255, "L"
    if mode == "P":
        image = Image.fromarray(RGB).quantize(16)
        return _save(image), np.asarray(image.convert("RGB")), "RGB"
    if mode == "PA":
        image = Image.fromarray(RGB).quantize(16)
        data = _save(image, transparency=3)  # palette index 3 is transparent
        expected = np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))
        assert (expected[..., 3] == 0).any()
        return data, expected, "RGBA"
    if mode == "I;16":
        grey16 = RNG.integers(0, 65536, RGB.shape[:2], dtype=np.uint16)
        return png_bytes(grey16), grey16, "I;16"
    if mode in ("RGB;16", "RGBA;16"):
        channels = 3 if mode == "RGB;16" else 4
        colour16 = RNG.integers(0, 65536, RGB.shape[:2] + (channels,), dtype=np.uint16)
        order = [2, 1, 0] if channels == 3 else [2, 1, 0, 3]
        ok, data = cv2.imencode(".png", colour16[..., order])
        assert ok
        return data.tobytes(), colour16, mode
    if mode == "CMYK":
        image = Image.fromarray(RGB).convert("CMYK")
        buffer = io.BytesIO()
        image.save(buffer, format="TIFF")
        return buffer.getvalue(), np.asarray(image.convert("RGB")), "RGB"
    raise AssertionError(mode)


def _save(image, **kwargs):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **kwargs)
    return buffer.getvalue()


MODES = ["RGB", "RGBA", "L", "LA", "1", "P", "PA", "I;16", "RGB;16", "RGBA;16", "CMYK"]


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_keeps_known_pixels_and_alpha_exactly(mode):
    data, expected, photo_mode = encode(mode)
    read = photo.read_photo(data, f"{mode}.png")
    assert read.mode == photo_mode
    np.testing.assert_array_equal(read.pixels, expected)
    hole = np.zeros(read.shape, bool)
    hole[5:15, 8:30] = True
    out = photo.inpaint_photo(Fake(), read, hole)
    assert out.dtype == expected.dtype and out.shape == expected.shape
    np.testing.assert_array_equal(out[~hole], expected[~hole])  # every channel, full bit depth
    if read.has_alpha:
        np.testing.assert_array_equal(out[..., -1], expected[..., -1])  # alpha kept in the hole too
    full = 200 * 257 if expected.dtype == np.uint16 else 200  # the fake's fill, converted to the mode
    colour = out[..., 0] if out.ndim == 3 else out
    assert np.all(colour[hole] == full)
    # the written PNG decodes to the same values and mode
    again = photo.read_photo(photo.encode_png(out, read.mode), "again.png")
    assert again.mode == read.mode
    np.testing.assert_array_equal(again.pixels, out)


def test_grey_holes_get_the_luma_of_the_models_colour():
    grey = np.zeros((8, 8), np.uint8)
    read = photo.Photo(grey, "L", "g.png")
    hole = np.zeros((8, 8), bool)
    hole[2, 3] = True
    filled = np.zeros((8, 8, 3), np.uint8)
    filled[2, 3] = (255, 0, 0)
    assert photo.merge(read, filled, hole)[2, 3] == 76  # Pillow's L = 299/1000 R + ... (ITU-R 601)
    read16 = photo.Photo(grey.astype(np.uint16), "I;16", "g16.png")
    assert photo.merge(read16, filled, hole)[2, 3] == round(0.299 * 255 * 257)
    assert photo.Photo(np.array([[0, 128, 257, 65535]], np.uint16), "I;16", "x").rgb[0, :, 0].tolist() == [0, 0, 1, 255]


def test_bad_files_are_named():
    with pytest.raises(RwganError, match=r"^notes\.png: not a readable image \(UnidentifiedImageError\)$"):
        photo.read_photo(b"just some text", "notes.png")
    with pytest.raises(RwganError, match="truncated.png: not a readable image"):
        photo.read_photo(png_bytes(RGB)[:200], "truncated.png")
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((4, 4), np.float32)).save(buffer, format="TIFF")
    with pytest.raises(RwganError, match="f.tif: 32-bit float images are not supported"):
        photo.read_photo(buffer.getvalue(), "f.tif")
    with pytest.raises(RwganError, match=r"big.png: image is 37x23, over the limit of 30 pixels a side"):
        photo.read_photo(png_bytes(RGB), "big.png", max_side=30)
    with pytest.raises(RwganError, match="nowhere.png: file not found"):
        photo.read_photo("nowhere.png")


def test_masks_any_mode_binary_and_upright():
    hole = np.zeros((23, 37), bool)
    hole[3:9, 4:20] = True
    white = hole.astype(np.uint8) * 255
    for data in (png_bytes(white), png_bytes(np.dstack([white] * 3)), png_bytes(np.dstack([white] * 3 + [white * 0 + 255])),
                 png_bytes(hole), png_bytes(hole.astype(np.uint16) * 65535)):
        np.testing.assert_array_equal(photo.read_hole(data, (23, 37), "m.png"), hole)
    rotated = with_orientation(Image.fromarray(white), 8)
    np.testing.assert_array_equal(photo.read_hole(rotated, (37, 23), "r.png"), np.rot90(hole))
    with pytest.raises(RwganError, match="m.png: mask is not binary .*found 0, 127"):
        photo.read_hole(png_bytes(white // 2), None, "m.png")
    with pytest.raises(RwganError, match="m.png: mask is 37x23 but p.jpg is 23x37 .*EXIF orientation"):
        photo.read_hole(png_bytes(white), (37, 23), "m.png", image_name="p.jpg", stored_shape=(23, 37))


# ------------------------------------------------------------------ sizes and strategies


def test_hole_boxes_are_grown_clipped_and_merged():
    hole = np.zeros((100, 200), bool)
    hole[10:20, 10:20] = True   # box (0, 30, 0, 30) with margin 10
    hole[25:30, 35:40] = True   # (15, 40, 25, 50): overlaps the first -> merged
    hole[80:90, 150:160] = True  # (70, 100, 140, 170): alone
    hole[50, 199] = True         # (40, 61, 189, 200): clipped at the right edge
    assert photo.hole_boxes(hole, 10) == [(0, 40, 0, 50), (40, 61, 189, 200), (70, 100, 140, 170)]
    assert photo.hole_boxes(hole, 0) == [(10, 20, 10, 20), (25, 30, 35, 40), (50, 51, 199, 200), (80, 90, 150, 160)]


def test_crop_strategy_runs_on_small_boxes_and_fills_every_hole_pixel():
    image = RNG.integers(0, 256, (750, 1000, 3), dtype=np.uint8)
    hole = np.zeros((750, 1000), bool)
    hole[100:130, 50:90] = True    # 30 x 40 + margins 16: 62 x 72, resized to the 64 px training size
    hole[600:603, 700:705] = True  # tiny: 35 x 37 box at full resolution, grown to 36 x 40
    fake = Fake(64)
    out = photo.inpaint_image(fake, image, hole, "crop", margin=16)
    assert sorted(fake.calls) == [(36, 40), (56, 64)]
    np.testing.assert_array_equal(out[~hole], image[~hole])
    assert np.all(out[hole] == 200)  # every hole pixel got the model's output, also after resizing back


def test_resize_and_original_strategies():
    image = RNG.integers(0, 256, (750, 1000, 3), dtype=np.uint8)
    hole = np.zeros((750, 1000), bool)
    hole[300:302, 400:403] = True  # smaller than one pixel at 64 px: the grown hole still covers it
    for strategy, calls in (("resize", [(48, 64)]), ("original", [(752, 1000)])):
        fake = Fake(64)
        out = photo.inpaint_image(fake, image, hole, strategy)
        assert fake.calls == calls
        np.testing.assert_array_equal(out[~hole], image[~hole])
        assert np.all(out[hole] == 200)


def test_small_and_odd_sizes_run_whole_at_full_resolution():
    for height, width in ((61, 97), (1, 1 + 1), (5, 3), (64, 64)):
        image = RNG.integers(0, 256, (height, width, 3), dtype=np.uint8)
        hole = np.zeros((height, width), bool)
        hole[0, 0] = True
        fake = Fake(128)
        out = photo.inpaint_image(fake, image, hole)
        assert fake.calls == [(-(-height // 4) * 4, -(-width // 4) * 4)]
        np.testing.assert_array_equal(out[~hole], image[~hole])
        assert out[0, 0].tolist() == [200, 200, 200]


def test_real_model_any_size_keeps_known_pixels(tmp_path):
    from test_inference import checkpoint
    from rwgan.inference import load_inpainter

    inpainter = load_inpainter(checkpoint(tmp_path)[0])  # trained size 32
    image = RNG.integers(0, 256, (61, 97, 3), dtype=np.uint8)
    hole = np.zeros((61, 97), bool)
    hole[20:40, 30:70] = True
    for strategy in photo.STRATEGIES:
        out = photo.inpaint_image(inpainter, image, hole, strategy, margin=8)
        np.testing.assert_array_equal(out[~hole], image[~hole])
        assert not np.array_equal(out[hole], image[hole])


def test_bad_arguments():
    image = np.zeros((8, 8, 3), np.uint8)
    hole = np.zeros((8, 8), bool)
    hole[1, 1] = True
    with pytest.raises(RwganError, match="strategy: expected one of crop, resize, original"):
        photo.inpaint_image(Fake(), image, hole, "tile")
    with pytest.raises(RwganError, match="margin: expected 0 or more"):
        photo.inpaint_image(Fake(), image, hole, margin=-1)
    with pytest.raises(RwganError, match="hole: expected bool"):
        photo.inpaint_image(Fake(), image, hole[:4])


# ------------------------------------------------------------------ folders


def write(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def folder_case(tmp_path):
    images, masks = tmp_path / "photos", tmp_path / "masks"
    hole = np.zeros((23, 37), np.uint8)
    hole[4:10, 5:20] = 255
    write(images / "a.png", RGB)
    write(images / "b.jpg", RGB)
    write(images / "c.png", RGB[..., 0])
    for stem in "abc":
        write(masks / f"{stem}.png", hole)
    return images, masks, hole == 255


def test_plan_pairs_by_stem_and_names_the_unpaired_file(tmp_path):
    images, masks, _ = folder_case(tmp_path)
    out = tmp_path / "out"
    jobs = photo.plan(images, masks, out)
    assert [(j.image.name, j.mask.name, j.out) for j in jobs] == [
        ("a.png", "a.png", out / "a.png"), ("b.jpg", "b.png", out / "b.png"), ("c.png", "c.png", out / "c.png")]
    assert [j.mask for j in photo.plan(images, masks / "a.png", out)] == [masks / "a.png"] * 3  # one mask for all
    write(images / "d.png", RGB)
    with pytest.raises(RwganError, match=r"photos/d.png: no mask named d\.\* in .*masks"):
        photo.plan(images, masks, out)
    (images / "d.png").unlink()
    write(masks / "e.png", RGB)
    with pytest.raises(RwganError, match=r"masks/e.png: no image named e\.\* in .*photos"):
        photo.plan(images, masks, out)
    (masks / "e.png").unlink()
    write(images / "a.jpg", RGB)
    with pytest.raises(RwganError, match="a.jpg and a.png have the same name stem"):
        photo.plan(images, masks, out)
    (images / "a.jpg").unlink()
    with pytest.raises(RwganError, match="is the input folder"):
        photo.plan(images, masks, images)
    with pytest.raises(RwganError, match="a folder of masks needs --image to be a folder too"):
        photo.plan(images / "a.png", masks, out / "a.png")
    with pytest.raises(RwganError, match=r"r.jpg: results are written as PNG"):
        photo.plan(images / "a.png", masks / "a.png", tmp_path / "r.jpg")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RwganError, match="empty: no images found"):
        photo.plan(empty, masks, out)


def test_folder_writes_all_or_nothing(tmp_path):
    images, masks, hole = folder_case(tmp_path)
    out = tmp_path / "out"
    jobs = photo.plan(images, masks, out)
    photo.inpaint_files(Fake(), jobs, progress=False)
    for job in jobs:
        expected = photo.read_photo(job.image)
        result = photo.read_photo(job.out)
        assert result.mode == expected.mode
        np.testing.assert_array_equal(result.pixels[~hole], expected.pixels[~hole])

    # a model that fails on the second photo: nothing written, no temporary file left
    class Failing(Fake):
        def inpaint(self, images, holes):
            if self.calls:
                raise RuntimeError("out of memory")
            return super().inpaint(images, holes)

    out2 = tmp_path / "out2"
    with pytest.raises(RuntimeError):
        photo.inpaint_files(Failing(), photo.plan(images, masks, out2), progress=False)
    assert not out2.exists() or not any(out2.iterdir())
    # a bad mask is found before the model is even loaded
    write(masks / "c.png", np.zeros((23, 37), np.uint8))
    loaded = []
    with pytest.raises(RwganError, match="c.png: mask has no hole"):
        photo.inpaint_files(lambda: loaded.append(1), photo.plan(images, masks, tmp_path / "out3"))
    assert not loaded and not (tmp_path / "out3").exists()
