"""Networks: parameter counts, shapes, mask handling, and the layers against hand-computed values."""
import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils import parametrize

from conftest import make_variant
from rwgan import kinds
from rwgan.errors import RwganError
from rwgan.layers import GeneratorConv, RegionWiseConv2d
from rwgan.models import (
    GlobalPerceivingNet,
    InpaintingGenerator,
    PartialConv2d,
    SemanticInferringNet,
    build_generator,
    composite,
    pconv_unet,
    region_wise_discriminator,
    region_wise_generator,
    standard_discriminator,
)
from rwgan.objectives import TrainingObjective
from rwgan.variants import Variant, phase2_runs


def count(module):
    return sum(p.numel() for p in module.parameters())


def random_batch(size, seed=0, batch=1):
    """Image in [-1, 1] and a binary mask M (1 = known) with roughly 40% hole."""
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(batch, 3, size, size, generator=g) * 2 - 1
    mask = (torch.rand(batch, 1, size, size, generator=g) > 0.4).float()
    return image, mask


def refill_hole(image, mask, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.where(mask.bool(), image, torch.rand(image.shape, generator=g) * 2 - 1)


@pytest.fixture(scope="module")
def generator():
    return region_wise_generator(seed=0).eval()


@pytest.fixture(scope="module")
def pconv():
    return pconv_unet(seed=0).eval()


# --- parameter counts (docs/model.md) -------------------------------------------------

def test_generator_parameter_counts():
    assert count(SemanticInferringNet()) == 2_830_083
    assert count(SemanticInferringNet(standard_conv=True)) == 2_830_083
    assert count(GlobalPerceivingNet()) == 1_875_971
    assert count(region_wise_generator()) == 4_706_054
    assert count(region_wise_generator(standard_conv=True)) == 4_706_054


def test_discriminator_parameter_counts():
    assert count(region_wise_discriminator()) == 5_946_816
    assert count(standard_discriminator()) == 5_946_816


def test_pconv_parameter_count(pconv):
    assert count(pconv) == 32_865_236  # partial convs with bias + batch-norm affine parameters
    conv_only = sum(p.numel() for name, p in pconv.named_parameters() if ".conv." in name)
    assert round(conv_only / 1e6, 2) == 32.85  # docs/model.md's figure counts the convolutions alone


# --- the registry of kinds and the interface every trained generator implements ------------

def test_an_unknown_kind_is_one_line_naming_the_known_ones():
    with pytest.raises(RwganError, match=r"^model kind 'unet': unknown \(known: region_wise, pconv\)$"):
        kinds.get_model_kind("unet")
    with pytest.raises(RwganError, match=r"^variant.model must be one of region_wise, pconv, got 'unet'$"):
        Variant.from_dict({**make_variant().to_dict(), "model": "unet"})
    with pytest.raises(RwganError, match="^model kind 'pconv': already registered$"):
        kinds.register_model_kind(kinds.ModelKind("pconv", pconv_unet, TrainingObjective))


@pytest.mark.parametrize("kind", kinds.model_kind_names())
def test_each_kind_builds_its_network_and_names_its_objective(kind):
    registered = kinds.get_model_kind(kind)
    network = build_generator(make_variant(kind), seed=2)
    assert isinstance(network, InpaintingGenerator)
    again = build_generator(make_variant(kind), seed=2).state_dict()
    assert all(torch.equal(value, again[name]) for name, value in network.state_dict().items())  # seeded
    objective = registered.objective_class
    assert issubclass(objective, TrainingObjective) and objective.terms
    columns = objective.loss_columns()
    assert columns[0] == "loss_total" and {f"weighted_{t}" for t in objective.terms} <= set(columns)


def test_the_region_wise_builder_takes_the_standard_conv_switch():
    plain = build_generator(make_variant(standard_conv=True)).semantic
    assert not plain.rw13.region_wise and build_generator(make_variant()).semantic.rw13.region_wise


def test_a_kind_says_which_switch_ends_training_after_phase_1():
    red = dataclasses.replace(make_variant(), adversarial_phase=False)
    assert phase2_runs(make_variant()) and not phase2_runs(red)  # RED: the adversarial phase is off
    assert phase2_runs(dataclasses.replace(make_variant("pconv"), adversarial_phase=False))  # PC fine-tunes always


@pytest.mark.parametrize("kind", kinds.model_kind_names())
@pytest.mark.parametrize("size", [32, 64])
def test_every_kind_keeps_the_output_contract(kind, size):
    """forward(image, mask) -> a NamedTuple of N x 3 x H x W images in [-1, 1] whose
    ``composite`` keeps the known pixels exactly, and ``coarse_composite`` (the first
    stage) exactly where the generator says it has one; hole content never matters."""
    network = build_generator(make_variant(kind), seed=0).eval()
    image, mask = random_batch(size, batch=2)
    with torch.inference_mode():
        output = network(image, mask)
        refilled = network(refill_hole(image, mask), mask)
    assert "composite" in output._fields
    assert ("coarse_composite" in output._fields) == network.has_first_stage == (kind == "region_wise")
    for name, value in output._asdict().items():
        assert value.shape == (2, 3, size, size), name
        assert value.min() >= -1 and value.max() <= 1, name
        assert torch.equal(value, getattr(refilled, name)), name
    known = mask.bool().expand_as(image)
    composites = [output.composite] + ([output.coarse_composite] if network.has_first_stage else [])
    for value in composites:
        assert torch.equal(value[known], image[known])
    assert not torch.equal(output.composite[~known], image[~known])


def test_pconv_prediction_is_tanh_bounded_and_composed_with_the_input(pconv):
    image, mask = random_batch(64)
    with torch.inference_mode():
        output = pconv(image, mask)
    assert output.prediction.abs().max() < 1  # tanh, not a clamp (module docstring)
    assert torch.equal(output.composite, composite(image, output.prediction, mask))


def test_full_size_generator_and_discriminator_shapes(generator):
    image, mask = random_batch(256)
    with torch.inference_mode():
        outputs = generator(image, mask)
        patches = region_wise_discriminator()(outputs.composite, mask)
    assert all(output.shape == (1, 3, 256, 256) for output in outputs)
    assert patches.shape == (1, 256, 4, 4)


# --- mask handling -----------------------------------------------------------------

def test_composite_hand_values():
    image = torch.tensor([0.5, -0.25]).view(1, 1, 1, 2)
    prediction = torch.tensor([0.1, 0.9]).view(1, 1, 1, 2)
    mask = torch.tensor([1.0, 0.0]).view(1, 1, 1, 2)
    assert torch.equal(composite(image, prediction, mask), torch.tensor([0.5, 0.9]).view(1, 1, 1, 2))


def test_region_wise_discriminator_sees_only_the_hole():
    image, mask = random_batch(64)
    known_changed = torch.where(mask.bool(), -image, image)
    with torch.no_grad():
        region_wise = region_wise_discriminator().eval()
        standard = standard_discriminator().eval()
        assert torch.equal(region_wise(image, mask), region_wise(known_changed, mask))
        assert not torch.equal(standard(image, mask), standard(known_changed, mask))


def test_discriminator_convs_are_spectrally_normalised():
    convs = [m for m in region_wise_discriminator().modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 6
    for conv in convs:
        assert parametrize.is_parametrized(conv, "weight")
        (norm,) = conv.parametrizations.weight
        assert type(norm).__name__ == "_SpectralNorm" and norm.n_power_iterations == 1
        assert conv.stride == (2, 2) and conv.kernel_size == (5, 5) and conv.padding == (0, 0)  # SAME pads by hand


@pytest.mark.parametrize("size, before, after", [(256, 1, 2), (64, 1, 2), (2, 1, 2), (129, 2, 2), (5, 2, 2)])
def test_tf_same_padding_puts_the_odd_pixel_after(size, before, after):
    from rwgan.layers import tf_same_padding

    assert tf_same_padding(size, 5, 2) == (before, after)
    assert (size + before + after - 5) // 2 + 1 == -(-size // 2)  # TF's output size ceil(size / 2)


def test_discriminator_matches_a_tf_same_conv_with_leaky_relu_after_every_layer():
    """Layer by layer against a hand-made TF 'SAME' conv: pad (1, 2) on even sizes, (2, 2) on odd
    ones, LeakyReLU 0.2 after the last conv too (the official L1 mode)."""
    discriminator = region_wise_discriminator(seed=3).eval()
    for size in (64, 100):  # even feature sizes only, and odd ones too (100 -> 50 -> 25 -> 13 -> 7 -> 4 -> 2)
        image, mask = random_batch(size)
        x = torch.cat([image * (1 - mask), mask], dim=1)
        with torch.no_grad():
            expected = x
            for layer in discriminator.layers:
                weight = layer.conv.weight  # the spectrally normalised kernel (eval: no power iteration)
                pads = []
                for extent in (expected.shape[-1], expected.shape[-2]):
                    total = max((-(-extent // 2) - 1) * 2 + 5 - extent, 0)
                    pads += [total // 2, total - total // 2]
                expected = F.leaky_relu(F.conv2d(F.pad(expected, pads), weight, layer.conv.bias, stride=2), 0.2)
            actual = discriminator(image, mask)
        torch.testing.assert_close(actual, expected)
        assert actual.shape[-2:] == (-(-size // 64),) * 2
        assert (actual < 0).any()  # the last LeakyReLU lets negative scores through, scaled


def test_patch_grid_is_4_at_256_2_at_128_and_1_at_64():
    discriminator = region_wise_discriminator().eval()
    with torch.no_grad():
        for size, grid in ((256, 4), (128, 2), (96, 2), (64, 1)):
            assert discriminator(*random_batch(size)).shape[-2:] == (grid, grid)


@pytest.mark.parametrize("build", [lambda: region_wise_generator(seed=5), lambda: region_wise_discriminator(seed=5)])
def test_convolutions_start_glorot_uniform_with_zero_bias(build):
    """TF1's tf.layers.conv2d defaults: kernel ~ U(-l, l), l = sqrt(6 / (fan_in + fan_out)), bias 0."""
    network = build()
    convs = [m for m in network.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs
    for conv in convs:
        weight = conv.parametrizations.weight.original if parametrize.is_parametrized(conv, "weight") else conv.weight
        out_channels, in_channels, kh, kw = weight.shape
        limit = (6 / ((in_channels + out_channels) * kh * kw)) ** 0.5
        assert torch.all(conv.bias == 0)
        assert weight.abs().max() <= limit
        if weight.numel() >= 2000:  # uniform: the largest draw comes close to the bound, the std is l / sqrt(3)
            assert weight.abs().max() > 0.95 * limit
            assert abs(weight.std().item() - limit / 3**0.5) < 0.05 * limit


# --- region-wise convolution (eq. 1) -------------------------------------------------

def test_region_wise_conv_equals_two_filter_sets():
    torch.manual_seed(0)
    layer = RegionWiseConv2d(decoder_channels=2, skip_channels=1, out_channels=2)
    decoder, skip = torch.randn(1, 2, 6, 6), torch.randn(1, 1, 6, 6)
    mask_6 = (torch.rand(1, 1, 6, 6) > 0.5).float()
    mask = mask_6.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)  # full resolution, 12 x 12
    weight, bias = layer.conv.conv.weight, layer.conv.conv.bias
    known = torch.cat([decoder, skip], dim=1) * mask_6
    missing = decoder * (1 - mask_6)
    pad = lambda x: F.pad(x, (1, 1, 1, 1), mode="reflect")  # noqa: E731
    expected = F.elu(F.conv2d(pad(known), weight[:, :3]) + F.conv2d(pad(missing), weight[:, 3:]) + bias.view(1, -1, 1, 1))
    with torch.no_grad():
        torch.testing.assert_close(layer(decoder, skip, mask), expected)


def test_region_wise_conv_filters_known_and_hole_differently():
    torch.manual_seed(0)
    layer = RegionWiseConv2d(decoder_channels=4, skip_channels=3, out_channels=5)
    decoder = torch.randn(1, 4, 1, 1).expand(1, 4, 8, 8)  # the same features everywhere
    skip = torch.zeros(1, 3, 8, 8)
    mask = torch.ones(1, 1, 8, 8)
    mask[..., 4:] = 0  # right half is hole
    with torch.no_grad():
        out = layer(decoder, skip, mask)
        known_value, hole_value = out[0, :, 4, 1], out[0, :, 4, 6]
        assert not torch.allclose(known_value, hole_value)
        # deep in the hole only W_hat acts, on the decoder features; the skip is not seen there
        weight, bias = layer.conv.conv.weight, layer.conv.conv.bias
        w_hat_only = F.elu(weight[:, 7:].sum(dim=(2, 3)) @ decoder[0, :, 0, 0] + bias)
        torch.testing.assert_close(hole_value, w_hat_only)
        other_skip = layer(decoder, torch.randn(1, 3, 8, 8), mask)
        assert torch.equal(other_skip[..., 6], out[..., 6])


def test_region_wise_conv_upsamples_after_the_split():
    torch.manual_seed(0)
    layer = RegionWiseConv2d(decoder_channels=2, skip_channels=2, out_channels=3, upsample=True)
    decoder, skip = torch.randn(1, 2, 4, 4), torch.randn(1, 2, 4, 4)
    mask = (torch.rand(1, 1, 4, 4) > 0.5).float()
    fused = torch.cat([torch.cat([decoder, skip], dim=1) * mask, decoder * (1 - mask)], dim=1)
    with torch.no_grad():
        out = layer(decoder, skip, mask)
        torch.testing.assert_close(out, layer.conv(F.interpolate(fused, scale_factor=2, mode="nearest")))
    assert out.shape == (1, 3, 8, 8)


def test_standard_conv_ablation_ignores_the_mask():
    torch.manual_seed(0)
    layer = RegionWiseConv2d(decoder_channels=2, skip_channels=1, out_channels=2, region_wise=False)
    decoder, skip = torch.randn(1, 2, 6, 6), torch.randn(1, 1, 6, 6)
    with torch.no_grad():
        a = layer(decoder, skip, torch.ones(1, 1, 6, 6))
        b = layer(decoder, skip, torch.zeros(1, 1, 6, 6))
        torch.testing.assert_close(a, layer.conv(torch.cat([decoder, skip, decoder], dim=1)))
    assert torch.equal(a, b)


def test_generator_conv_pads_reflect_or_zero_by_feature_size():
    torch.manual_seed(0)
    layer = GeneratorConv(2, 2, dilation=16)
    weight, bias = layer.conv.weight, layer.conv.bias
    small, large = torch.randn(1, 2, 16, 16), torch.randn(1, 2, 17, 17)
    with torch.no_grad():
        torch.testing.assert_close(layer(small), F.elu(F.conv2d(small, weight, bias, padding=16, dilation=16)))
        reflected = F.pad(large, (16,) * 4, mode="reflect")
        torch.testing.assert_close(layer(large), F.elu(F.conv2d(reflected, weight, bias, dilation=16)))


# --- partial convolution -------------------------------------------------------------

def test_partial_conv_hand_computed():
    layer = PartialConv2d(1, 1, 3, stride=1, padding=1)
    with torch.no_grad():
        layer.weight.fill_(1.0)
        layer.bias.fill_(0.5)
    x = torch.arange(1.0, 10.0).view(1, 1, 3, 3)
    mask = torch.tensor([[1.0, 0, 1], [0, 0, 0], [1, 0, 0]]).view(1, 1, 3, 3)
    # valid pixels: x=1 at (0,0), x=3 at (0,2), x=7 at (2,0); each window: sum(valid x) * 9 / count + 0.5
    expected = torch.tensor([[9.5, 18.5, 27.5], [36.5, 33.5, 27.5], [63.5, 63.5, 0.0]]).view(1, 1, 3, 3)
    expected_mask = torch.tensor([[1.0, 1, 1], [1, 1, 1], [1, 1, 0]]).view(1, 1, 3, 3)
    with torch.no_grad():
        out, new_mask = layer(x, mask)
    torch.testing.assert_close(out, expected)
    assert torch.equal(new_mask, expected_mask)


def test_partial_conv_shared_mask_equals_per_channel_mask():
    torch.manual_seed(0)
    layer = PartialConv2d(3, 4, 5, stride=2, padding=2)
    x = torch.randn(2, 3, 10, 10)
    mask = (torch.rand(2, 1, 10, 10) > 0.7).float()
    with torch.no_grad():
        shared, shared_mask = layer(x, mask)
        per_channel, per_channel_mask = layer(x, mask.expand(-1, 3, -1, -1))
    torch.testing.assert_close(shared, per_channel)
    assert torch.equal(shared_mask, per_channel_mask)
    assert shared.shape == (2, 4, 5, 5) and shared_mask.shape == (2, 1, 5, 5)


def test_freeze_encoder_bn_keeps_encoder_statistics():
    model = pconv_unet(seed=1)
    model.freeze_encoder_bn()
    model.train()
    encoder_norm, decoder_norm = model.encoder[1].norm, model.decoder[0].norm
    before = encoder_norm.running_mean.clone(), decoder_norm.running_mean.clone()
    image, mask = random_batch(64, batch=2)
    model(image, mask)
    assert model.training and not encoder_norm.training and decoder_norm.training
    assert torch.equal(encoder_norm.running_mean, before[0])
    assert not torch.equal(decoder_norm.running_mean, before[1])
    assert not encoder_norm.weight.requires_grad and decoder_norm.weight.requires_grad


# --- determinism and input checks ------------------------------------------------------

def test_builders_are_seeded_and_leave_global_rng_alone():
    state = torch.random.get_rng_state()
    a, b, c = (region_wise_discriminator(seed=s).state_dict() for s in (3, 3, 4))
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


@pytest.mark.parametrize("network", ["generator", "pconv", "discriminator"])
@pytest.mark.parametrize("image_shape, mask_shape, message", [
    ((1, 3, 62, 64), (1, 1, 62, 64), "divisible by 4"),
    ((1, 3, 64, 64), (1, 3, 64, 64), "mask"),
    ((3, 64, 64), (1, 1, 64, 64), "image"),
])
def test_bad_inputs_raise(request, network, image_shape, mask_shape, message):
    model = region_wise_discriminator() if network == "discriminator" else request.getfixturevalue(network)
    with pytest.raises(RwganError, match=message):
        model(torch.zeros(image_shape), torch.ones(mask_shape))
