"""rwgan/device.py: the bf16 detection and the amp switch, and a bf16 training step on the CPU."""
import numpy as np
import pytest
import torch

from benchmarks.train_bench import trainer
from rwgan import device as rwgan_device
from rwgan.device import autocast, autocast_dtype, cpu_has_bf16
from rwgan.errors import RwganError
from rwgan.inference import load_inpainter


def test_cpu_bf16_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16\n")
    assert cpu_has_bf16(cpuinfo)
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 amx_tile\n")
    assert not cpu_has_bf16(cpuinfo)
    assert not cpu_has_bf16(tmp_path / "absent")


def test_amp_choices(monkeypatch):
    assert autocast_dtype("cpu", "none") is None
    assert autocast_dtype("cpu", "auto") is None  # float32 on the CPU unless asked
    monkeypatch.setattr(rwgan_device, "cpu_has_bf16", lambda: True)
    assert autocast_dtype("cpu", "bf16") is torch.bfloat16
    monkeypatch.setattr(rwgan_device, "cpu_has_bf16", lambda: False)
    with pytest.raises(RwganError, match="amp: bf16 requested on a CPU without bf16 units"):
        autocast_dtype("cpu", "bf16")
    with pytest.raises(RwganError, match="amp: expected one of auto, bf16, none, got 'fp16'"):
        autocast_dtype("cpu", "fp16")
    with autocast("cpu", None):
        assert not torch.is_autocast_enabled("cpu")


@pytest.mark.skipif(not cpu_has_bf16(), reason="this CPU has no bf16 units")
def test_bf16_training_step_keeps_losses_float32_and_moves_the_weights():
    steps = trainer(32, 2, torch.device("cpu"), amp="bf16", channels_last=True, profile="smoke")
    image, mask = torch.rand(2, 3, 32, 32) * 2 - 1, (torch.rand(2, 1, 32, 32) > 0.3).float()
    before = [p.detach().clone() for p in steps.generator.parameters()]
    terms, output = steps.generator_losses(image.contiguous(memory_format=torch.channels_last),
                                           mask.contiguous(memory_format=torch.channels_last), phase=1)
    assert all(value.dtype == torch.float32 for value in terms.values())
    assert all(field.dtype == torch.float32 for field in output)
    losses = steps.train_step(image, mask, 1)
    assert all(isinstance(value, float) for value in losses.values())
    assert all(p.dtype == torch.float32 for p in steps.generator.parameters())  # master weights stay float32
    assert any(not torch.equal(a, b) for a, b in zip(before, steps.generator.parameters()))


@pytest.mark.skipif(not cpu_has_bf16(), reason="this CPU has no bf16 units")
def test_bf16_inference_keeps_known_pixels_and_stays_close(checkpoint):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    holes = np.zeros((2, 32, 32), dtype=bool)
    holes[:, 8:20, 10:24] = True
    fp32 = load_inpainter(checkpoint).inpaint(images, holes)
    bf16 = load_inpainter(checkpoint, amp="bf16").inpaint(images, holes)
    assert np.array_equal(bf16[~holes], images[~holes])
    difference = np.abs(bf16.astype(int) - fp32.astype(int))[holes]
    assert 0 < difference.max() <= 16  # bf16 rounds (8 significant bits), within 16 of 255 levels here
