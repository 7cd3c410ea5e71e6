"""`rwgan inpaint`: a user's own image and mask, and every kind of bad input."""
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from rwgan import cli
from rwgan.inference import build_generator, load_inpainter, save_model
from rwgan.variants import DiscriminatorSpec, Variant

SIZE = 32


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    variant = Variant(name="full", model="region_wise", standard_conv=False, lambda_correlation=1e-5,
                      lambda_style=1e-3, lambda_adversarial=1.0, correlation_on="coarse", style_on="refined",
                      adversarial_phase=True, discriminators=(DiscriminatorSpec("region_wise", ("coarse", "refined")),))
    path = tmp_path_factory.mktemp("ckpt") / "model.pt"
    save_model(path, build_generator(variant, seed=1), variant, SIZE, params_hash="x", params={}, step=1)
    return path


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
