"""`rwgan inpaint`: a user's own image and mask, and every kind of bad input."""
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageOps

from rwgan import cli
from rwgan.inference import load_inpainter

SIZE = 32


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    mask = np.zeros((SIZE, SIZE), dtype=np.uint8)
    mask[8:20, 10:24] = 255  # white = hole
    Image.fromarray(image).save(tmp_path / "in.png")
    Image.fromarray(mask).save(tmp_path / "hole.png")
    return tmp_path, image, mask


def inpaint(checkpoint, image, mask, out):
    return cli.main(["inpaint", "--checkpoint", str(checkpoint), "--image", str(image), "--mask", str(mask),
                     "--out", str(out)])


def test_inpaint_keeps_known_pixels_and_fills_the_hole(checkpoint, files):
    folder, image, mask = files
    assert inpaint(checkpoint, folder / "in.png", folder / "hole.png", folder / "out.png") == 0
    result = np.asarray(Image.open(folder / "out.png"))
    known = mask == 0
    assert np.array_equal(result[known], image[known])
    expected = load_inpainter(checkpoint).inpaint(image[None], (mask == 255)[None])[0]
    assert np.array_equal(result, expected)


def bad(tmp_path, name, array):
    Image.fromarray(array).save(tmp_path / name)
    return tmp_path / name


@pytest.mark.parametrize(
    "case, expected",
    [
        ("size", "hole.png: mask is 16x16 but"),
        ("grey", "mask is not binary"),
        ("empty", "mask has no hole"),
        ("full", "mask is all hole"),
        ("corrupt_image", "in.png: not a readable image"),
        ("missing_checkpoint", "nowhere.pt"),
        ("missing_image", "in.png: file not found"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_output(checkpoint, files, capsys, case, expected):
    folder, image, mask = files
    ckpt = checkpoint
    if case == "size":
        bad(folder, "hole.png", np.pad(np.full((8, 8), 255, np.uint8), 4))
    elif case == "grey":
        bad(folder, "hole.png", np.where(mask > 0, 128, 0).astype(np.uint8))
    elif case == "empty":
        bad(folder, "hole.png", np.zeros_like(mask))
    elif case == "full":
        bad(folder, "hole.png", np.full_like(mask, 255))
    elif case == "corrupt_image":
        data = (folder / "in.png").read_bytes()
        (folder / "in.png").write_bytes(data[: len(data) // 2])  # truncated PNG
    elif case == "missing_checkpoint":
        ckpt = folder / "nowhere.pt"
    elif case == "missing_image":
        (folder / "in.png").unlink()
    capsys.readouterr()
    assert inpaint(ckpt, folder / "in.png", folder / "hole.png", folder / "out.png") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and expected in err, err
    assert not (folder / "out.png").exists()
    assert not [p for p in folder.iterdir() if p.name.startswith(".out.png")]  # no temp file left


def test_corrupt_checkpoint_is_named(files):
    folder, _, _ = files
    (folder / "model.pt").write_bytes(b"not a checkpoint")
    assert inpaint(folder / "model.pt", folder / "in.png", folder / "hole.png", folder / "out.png") == 2
    assert not (folder / "out.png").exists()


def test_console_script_exit_status(files):
    folder, _, _ = files
    done = subprocess.run([sys.executable, "-m", "rwgan.cli", "inpaint", "--checkpoint", str(folder / "none.pt"),
                           "--image", str(folder / "in.png"), "--mask", str(folder / "hole.png"),
                           "--out", str(folder / "out.png")], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and "none.pt" in done.stderr


# ---------------------------------------------------------------- photos of any size, colour mode, orientation


def photo_like(height, width, seed=0):
    """A smooth image with some texture: gradients plus noise, uint8 (H, W, 3)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / max(width - 1, 1), y * 255 / max(height - 1, 1), (x + y) % 256], axis=-1)
    return np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)


def blob_mask(height, width, boxes):
    hole = np.zeros((height, width), bool)
    for y0, y1, x0, x1 in boxes:
        hole[y0:y1, x0:x1] = True
    return hole


def test_1000x750_rgba_photo_keeps_known_pixels_and_alpha(checkpoint, tmp_path):
    rgb = photo_like(750, 1000)
    alpha = np.where(np.arange(1000)[None, :] < 100, 0, 255).astype(np.uint8).repeat(750, axis=0)
    alpha[300:320] = 128
    rgba = np.dstack([rgb, alpha])
    hole = blob_mask(750, 1000, [(200, 330, 300, 420), (600, 640, 50, 130), (20, 24, 990, 1000)])
    Image.fromarray(rgba).save(tmp_path / "photo.png")
    Image.fromarray(hole.astype(np.uint8) * 255).save(tmp_path / "hole.png")
    assert inpaint(checkpoint, tmp_path / "photo.png", tmp_path / "hole.png", tmp_path / "out.png") == 0
    result = Image.open(tmp_path / "out.png")
    assert result.mode == "RGBA" and result.size == (1000, 750)
    result = np.asarray(result)
    assert np.array_equal(result[~hole], rgba[~hole])  # known pixels, all four channels, exactly
    assert np.array_equal(result[..., 3], alpha)  # alpha copied, the hole included
    assert not np.array_equal(result[hole, :3], rgba[hole, :3])


def test_97x61_grey_photo_keeps_known_pixels(checkpoint, tmp_path):
    grey = photo_like(61, 97)[..., 0]
    hole = blob_mask(61, 97, [(10, 30, 20, 60)])
    Image.fromarray(grey).save(tmp_path / "grey.png")
    Image.fromarray(hole.astype(np.uint8) * 255).save(tmp_path / "hole.png")
    for strategy in ("crop", "resize", "original"):
        out = tmp_path / f"{strategy}.png"
        assert cli.main(["inpaint", "--checkpoint", str(checkpoint), "--image", str(tmp_path / "grey.png"),
                         "--mask", str(tmp_path / "hole.png"), "--out", str(out), "--strategy", strategy]) == 0
        result = Image.open(out)
        assert result.mode == "L" and result.size == (97, 61)
        result = np.asarray(result)
        assert np.array_equal(result[~hole], grey[~hole])
        assert not np.array_equal(result[hole], grey[hole])


def test_exif_orientation_is_applied_and_the_mask_is_upright(checkpoint, tmp_path, capsys):
    stored = photo_like(40, 64)  # stored 64 wide x 40 high; EXIF 6 = turn 90 degrees clockwise to view
    image = Image.fromarray(stored)
    exif = image.getexif()
    exif[0x0112] = 6
    image.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    upright = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "phone.jpg")))
    assert upright.shape == (64, 40, 3)
    hole = blob_mask(64, 40, [(10, 30, 5, 25)])
    Image.fromarray(hole.astype(np.uint8) * 255).save(tmp_path / "hole.png")
    assert inpaint(checkpoint, tmp_path / "phone.jpg", tmp_path / "hole.png", tmp_path / "out.png") == 0
    result = np.asarray(Image.open(tmp_path / "out.png"))
    assert result.shape == (64, 40, 3)
    assert np.array_equal(result[~hole], upright[~hole])
    # a mask drawn on the stored (sideways) pixels is refused with a hint
    Image.fromarray(np.rot90(hole, 1).astype(np.uint8) * 255).save(tmp_path / "sideways.png")
    capsys.readouterr()
    assert inpaint(checkpoint, tmp_path / "phone.jpg", tmp_path / "sideways.png", tmp_path / "out2.png") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sideways.png: mask is 64x40 but" in err and "EXIF orientation" in err
    assert not (tmp_path / "out2.png").exists()


def test_folders_pair_by_stem_with_a_progress_bar(checkpoint, tmp_path, capsys):
    photos, masks, out = tmp_path / "photos", tmp_path / "masks", tmp_path / "results"
    photos.mkdir(), masks.mkdir()
    sizes = {"beach": (61, 97), "street": (120, 90), "cat": (32, 32)}
    holes = {}
    for i, (stem, (height, width)) in enumerate(sizes.items()):
        Image.fromarray(photo_like(height, width, seed=i)).save(photos / f"{stem}.{'jpg' if i == 0 else 'png'}")
        holes[stem] = blob_mask(height, width, [(5, 20, 5, 25)])
        Image.fromarray(holes[stem].astype(np.uint8) * 255).save(masks / f"{stem}.png")
    capsys.readouterr()
    assert cli.main(["inpaint", "--checkpoint", str(checkpoint), "--image", str(photos), "--mask", str(masks),
                     "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "3/3" in captured.err and f"wrote 3 images to {out}" in captured.out
    assert sorted(p.name for p in out.iterdir()) == ["beach.png", "cat.png", "street.png"]
    for stem in sizes:
        source = next(photos.glob(f"{stem}.*"))
        expected = np.asarray(Image.open(source).convert("RGB"))
        result = np.asarray(Image.open(out / f"{stem}.png"))
        assert np.array_equal(result[~holes[stem]], expected[~holes[stem]])


@pytest.mark.parametrize(
    "case, expected",
    [
        ("no_mask", "photos/dog.png: no mask named dog.* in"),
        ("no_image", "masks/cat.png: no image named cat.* in"),
        ("bad_mask", "masks/beach.png: mask is all hole"),
        ("image_file_mask_folder", "a folder of masks needs --image to be a folder too"),
        ("out_is_a_file", "exists and is not a folder"),
    ],
)
def test_folder_errors_are_one_line_and_write_nothing(checkpoint, tmp_path, capsys, case, expected):
    photos, masks, out = tmp_path / "photos", tmp_path / "masks", tmp_path / "results"
    photos.mkdir(), masks.mkdir()
    for stem in ("beach", "dog"):
        Image.fromarray(photo_like(24, 36)).save(photos / f"{stem}.png")
        Image.fromarray(blob_mask(24, 36, [(2, 9, 3, 20)]).astype(np.uint8) * 255).save(masks / f"{stem}.png")
    image = photos
    if case == "no_mask":
        (masks / "dog.png").unlink()
    elif case == "no_image":
        Image.fromarray(np.full((24, 36), 255, np.uint8)).save(masks / "cat.png")
    elif case == "bad_mask":
        Image.fromarray(np.full((24, 36), 255, np.uint8)).save(masks / "beach.png")
    elif case == "image_file_mask_folder":
        image = photos / "beach.png"
    elif case == "out_is_a_file":
        out.write_bytes(b"")
    capsys.readouterr()
    assert cli.main(["inpaint", "--checkpoint", str(checkpoint), "--image", str(image), "--mask", str(masks),
                     "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and expected in err, err
    assert not out.is_dir() or not any(out.iterdir())


def test_out_must_be_a_png_name(checkpoint, files, capsys):
    folder, _, _ = files
    assert inpaint(checkpoint, folder / "in.png", folder / "hole.png", folder / "out.jpg") == 2
    assert "out.jpg: results are written as PNG" in capsys.readouterr().err
    assert not (folder / "out.jpg").exists()
