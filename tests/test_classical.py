"""rwgan.classical: the no-training inpainting references (Telea, Navier-Stokes, biharmonic)."""
import numpy as np
import pytest

from rwgan.classical import CLASSICAL_METHODS, inpaint_classical
from rwgan.errors import RwganError

METHODS = [key for key, _ in CLASSICAL_METHODS]


def _square_hole(size=48, start=12, stop=30):
    hole = np.zeros((size, size), dtype=bool)
    hole[start:stop, start + 4 : stop + 4] = True
    return hole


def _textured_image(size=48, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def test_display_names():
    assert CLASSICAL_METHODS == (
        ("telea", "Telea"),
        ("navier_stokes", "Navier-Stokes"),
        ("biharmonic", "Biharmonic"),
    )


@pytest.mark.parametrize("method", METHODS)
def test_known_pixels_unchanged_and_hole_filled(method):
    image, hole = _textured_image(), _square_hole()
    zeroed = image.copy()
    zeroed[hole] = 0
    result = inpaint_classical(zeroed, hole, method)
    assert result.dtype == np.uint8 and result.shape == image.shape
    np.testing.assert_array_equal(result[~hole], image[~hole])
    # The hole is filled from the random border, not left at the input's zeros:
    # its mean is near the texture's mean (127.5).
    assert 80 < result[hole].mean() < 175
    assert (result[hole] != 0).mean() > 0.9


def _thin_strokes(size=48):
    """Thin holes (1-2 px lines and dots), where OpenCV reads pixels under its mask's border."""
    hole = np.zeros((size, size), dtype=bool)
    hole[10, 5:40] = hole[20:22, 8:30] = hole[5:45, 33] = True
    hole[np.random.default_rng(3).random((size, size)) < 0.05] = True
    return hole


@pytest.mark.parametrize("hole", [_square_hole(), _thin_strokes()], ids=["square", "thin"])
@pytest.mark.parametrize("method", METHODS)
def test_hole_content_is_ignored(method, hole):
    """No method may see the ground truth under the hole it is scored on."""
    image = _textured_image(seed=1)
    other = image.copy()
    other[hole] = 255 - other[hole]
    np.testing.assert_array_equal(inpaint_classical(image, hole, method), inpaint_classical(other, hole, method))


@pytest.mark.parametrize("method", METHODS)
def test_constant_image_stays_constant(method):
    image = np.full((40, 40, 3), (30, 140, 220), dtype=np.uint8)
    hole = _square_hole(40, 8, 28)
    image[hole] = 0
    error = inpaint_classical(image, hole, method).astype(int) - [30, 140, 220]
    # OpenCV's Telea adds a first-order gradient term estimated on 8-bit values: a few
    # levels of error; the other two reproduce constants to rounding.
    assert np.abs(error).max() <= (3 if method == "telea" else 1)


def test_biharmonic_reproduces_a_linear_ramp():
    # A linear function solves the biharmonic equation: the fill equals the ramp.
    ramp = np.tile(np.linspace(20, 230, 48)[None, :, None], (48, 1, 3))
    image = np.rint(ramp).astype(np.uint8)
    hole = _square_hole()
    damaged = image.copy()
    damaged[hole] = 0
    result = inpaint_classical(damaged, hole, "biharmonic")
    assert np.abs(result.astype(int) - image.astype(int)).max() <= 1


def test_no_hole_returns_a_copy():
    image = _textured_image()
    result = inpaint_classical(image, np.zeros(image.shape[:2], dtype=bool), "telea")
    np.testing.assert_array_equal(result, image)
    assert result is not image


def test_unknown_method_lists_the_known_ones():
    with pytest.raises(RwganError, match="telea, navier_stokes, biharmonic"):
        inpaint_classical(_textured_image(), _square_hole(), "patchmatch")


def test_shape_mismatch():
    with pytest.raises(RwganError, match="hole: expected a bool array of shape"):
        inpaint_classical(_textured_image(48), _square_hole(40), "telea")


@pytest.mark.parametrize(
    "image, hole, message",
    [
        (np.zeros((48, 48, 3), np.float32), _square_hole(), "image: expected uint8"),
        (np.zeros((48, 48), np.uint8), _square_hole(), "image: expected uint8"),
        (_textured_image(), _square_hole().astype(np.uint8), "hole: expected a bool array"),
        (_textured_image(), np.ones((48, 48), bool), "hole: covers the whole image"),
    ],
)
def test_bad_input(image, hole, message):
    with pytest.raises(RwganError, match=message):
        inpaint_classical(image, hole, "biharmonic")
