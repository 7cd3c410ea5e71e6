"""Loading model.pt files and inpainting uint8 arrays."""
import numpy as np
import pytest
import torch

from conftest import make_variant
from rwgan.data import image_to_tensor, mask_to_tensor, tensor_to_image
from rwgan.errors import RwganError
from rwgan.inference import count_parameters, load_inpainter, save_model
from rwgan.models import build_generator

SIZE = 32


def checkpoint(tmp_path, model="region_wise", seed=3):
    variant = make_variant(model)
    generator = build_generator(variant, seed=seed)
    path = tmp_path / f"{model}.pt"
    save_model(path, generator, variant, SIZE, params_hash="abc", params={"seed": seed}, step=7)
    return path, generator.eval()


def inputs(count=3, size=SIZE):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8)
    holes = np.zeros((count, size, size), dtype=bool)
    holes[:, 4:20, 8:28] = True
    holes[-1, :, :6] = True
    return images, holes


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_region_wise_checkpoint_inpaints_like_its_generator(tmp_path):
    path, generator = checkpoint(tmp_path)
    inpainter = load_inpainter(path)
    assert inpainter.model_kind == "region_wise" and inpainter.image_size == SIZE
    images, holes = inputs()
    result = inpainter.inpaint(images, holes, return_coarse=True)
    with torch.no_grad():
        expected = generator(image_to_tensor(images), mask_to_tensor(holes))
    np.testing.assert_array_equal(result.composite, tensor_to_image(expected.composite))
    np.testing.assert_array_equal(result.coarse, tensor_to_image(expected.coarse_composite))
    for output in (result.composite, result.coarse):
        np.testing.assert_array_equal(output[~holes], images[~holes])  # known pixels kept exactly
    assert not np.array_equal(result.composite[holes], images[holes])
    np.testing.assert_array_equal(inpainter.inpaint(images, holes), result.composite)


def test_batches_do_not_change_the_result(tmp_path):
    inpainter = load_inpainter(checkpoint(tmp_path)[0])
    images, holes = inputs(count=5)
    whole = inpainter.inpaint(images, holes)
    inpainter.batch_size = 2
    np.testing.assert_array_equal(inpainter.inpaint(images, holes), whole)


def test_other_sizes_divisible_by_four_work(tmp_path):
    inpainter = load_inpainter(checkpoint(tmp_path)[0])
    images, holes = inputs(count=1, size=48)
    assert inpainter.inpaint(images, holes).shape == (1, 48, 48, 3)
    with pytest.raises(RwganError, match=r"images: height and width must be divisible by 4 .*got 30x30"):
        inpainter.inpaint(*inputs(count=1, size=30))


def test_pconv_checkpoint_inpaints_and_has_no_first_stage(tmp_path):
    path, network = checkpoint(tmp_path, "pconv")
    inpainter = load_inpainter(path)
    images, holes = inputs(count=2)
    result = inpainter.inpaint(images, holes)
    with torch.no_grad():
        image, mask = image_to_tensor(images), mask_to_tensor(holes)
        prediction = network(image, mask).prediction
    np.testing.assert_array_equal(result, tensor_to_image(image * mask + prediction * (1 - mask)))
    np.testing.assert_array_equal(result[~holes], images[~holes])
    with pytest.raises(RwganError, match="pconv model has no first stage"):
        inpainter.inpaint(images, holes, return_coarse=True)


def test_bad_inputs_are_refused(tmp_path):
    inpainter = load_inpainter(checkpoint(tmp_path)[0])
    images, holes = inputs()
    with pytest.raises(RwganError, match="images: expected uint8"):
        inpainter.inpaint(images.astype(np.float32), holes)
    with pytest.raises(RwganError, match="holes: expected bool"):
        inpainter.inpaint(images, holes[:2])


def test_missing_corrupt_and_foreign_files_name_the_file(tmp_path):
    missing = tmp_path / "none.pt"
    with pytest.raises(RwganError, match=f"^{missing}: checkpoint not found"):
        load_inpainter(missing)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint at all")
    with pytest.raises(RwganError, match=f"^{corrupt}: not a readable checkpoint"):
        load_inpainter(corrupt)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(checkpoint(tmp_path)[0].read_bytes()[:5000])
    with pytest.raises(RwganError, match=f"^{truncated}: not a readable checkpoint"):
        load_inpainter(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(RwganError, match=f"^{foreign}: not an rwgan model file"):
        load_inpainter(foreign)


def test_weights_that_do_not_fit_the_variant_are_refused(tmp_path):
    path, _ = checkpoint(tmp_path)
    payload = torch.load(path)
    payload["variant"]["model"] = "pconv"
    torch.save(payload, path)
    with pytest.raises(RwganError, match=f"^{path}: weights do not fit a pconv model"):
        load_inpainter(path)


def test_count_parameters_matches_the_papers_networks():
    assert count_parameters(build_generator(make_variant())) == 4_706_054  # docs/model.md; Table IV: 4.7M
    assert count_parameters(build_generator(make_variant(standard_conv=True))) == 4_706_054
    assert count_parameters(build_generator(make_variant("pconv"))) == 32_865_236
