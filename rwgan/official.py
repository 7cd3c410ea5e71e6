"""Import the authors' TensorFlow 1 checkpoints into rwgan (``rwgan import-official``).

The official code (github.com/DIG-Beihang/Region-wise-Inpainting, ``inpaint_model.py``,
``inpaint_ops.py``, ``region_conv.py``) builds every generator layer with
``tf.layers.conv2d``: a kernel ``[kh, kw, in, out]`` and a bias ``[out]`` named
``<scope>/<layer>/kernel`` and ``<scope>/<layer>/bias``.  ``standard_conv`` and
``standard_dconv`` (nearest x2, then a 3x3 conv) append ``_1`` to the layer name they are
given; ``region_deconv`` calls ``standard_dconv`` with ``<name>_fusion``, while
``region_conv`` calls ``tf.layers.conv2d`` itself, so rw14 alone has no ``_1``.
SINet lives in the scope ``inpaint_net``, GPNet in ``inpaint_net_1`` (:data:`GENERATOR_LAYERS`):

official layer (``*`` = either scope)    rwgan module                       TF kernel [kh, kw, in, out]
``*/conv1_1``                           ``*.encoder.e1``                   5, 5, 4, 32
``*/conv2_downsample_1``                ``*.encoder.e2``                   3, 3, 32, 64
``*/conv3_1``                           ``*.encoder.e3``                   3, 3, 64, 64
``*/conv4_downsample_1``                ``*.encoder.e4``                   3, 3, 64, 128
``*/conv5_1``, ``*/conv6_1``            ``*.encoder.e5``, ``e6``           3, 3, 128, 128
``*/conv7_atrous_1`` .. ``conv10_..``   ``*.encoder.dilated.0`` .. ``3``   3, 3, 128, 128 (dilation 2..16)
``*/conv11_1``, ``*/conv12_1``          ``*.encoder.e11``, ``e12``         3, 3, 256, 128
``inpaint_net/com_13_fusion_1``         ``semantic.rw13``                  3, 3, 384, 128
``inpaint_net/com_14_fusion``           ``semantic.rw14``                  3, 3, 320, 128
``inpaint_net/com_15_fusion_1``         ``semantic.rw15``                  3, 3, 320, 128
``inpaint_net/conv16_1`` .. ``18_1``    ``semantic.head.0`` .. ``2``       128->32, 32->16, 16->3
``inpaint_net_1/conv13_upsample_1``     ``perceiving.g13``                 3, 3, 256, 64
``inpaint_net_1/conv14_1``              ``perceiving.g14``                 3, 3, 128, 64
``inpaint_net_1/conv15_upsample_1``     ``perceiving.g15``                 3, 3, 128, 32
``inpaint_net_1/conv16_1``              ``perceiving.g16``                 3, 3, 64, 16
``inpaint_net_1/conv17_1``              ``perceiving.g17``                 3, 3, 16, 3

(``*`` = ``inpaint_net`` -> ``semantic``, ``inpaint_net_1`` -> ``perceiving``.)  Each
kernel becomes the module's ``nn.Conv2d`` weight transposed to ``[out, in, kh, kw]``
(both frameworks cross-correlate, so no flip).  rwgan stores every conv as a plain 3x3
(or 5x5) kernel, the upsampling ones included: the region-wise convolution keeps the
code's channel order ``concat(concat(decoder, skip) * m, decoder * (1 - m))`` and its
sub-pixel evaluation (:func:`rwgan.layers.subpixel_kernels`) folds the kernel at run
time, so the official kernels load unchanged.  The result matches the TF graph's outputs
within 2.4e-6 at 256 px (``tests/test_official.py``, with TensorFlow 2.21).

The region-wise discriminator (``RW_discriminator``, scope ``discriminator``) has, per
layer K = 1..6, ``d_convK_w`` ``[5, 5, in, out]``, ``d_convK_bias`` ``[out]`` and the
spectral-norm power-iteration vector ``d_convKu`` ``[1, out]``.  Its convs are mapped in
module order onto :func:`rwgan.models.region_wise_discriminator`'s ``nn.Conv2d``\\ s: the
raw kernel becomes the spectral-norm parametrization's ``original``, and the ``u`` / ``v``
buffers are set to the official code's one power iteration from the stored ``u``
(``v = l2(u W^T)``, ``u' = l2(v W)``), so the D in eval mode divides by exactly the sigma
the TF graph uses.

Optimizer state (``.../Adam``, ``.../Adam_1``, ``beta1_power``, ``beta2_power`` and their
``_N`` copies, ``global_step``) is skipped.  Anything else unmatched is an error: a
missing generator variable, a shape that differs, a variable that is not part of the
model, a partial discriminator, a checkpoint of another model.

:func:`import_official` writes a ``model.pt`` (:func:`rwgan.inference.save_model`; the
variant :func:`official_variant`, image size 256, ``params['import_official']`` recording
the source files' sha256, the dataset and the mask type) that ``rwgan inpaint`` and
:func:`rwgan.inference.load_inpainter` read like any trained model, and, when the
checkpoint has the discriminator, ``<out stem>.discriminator.pt`` (format
:data:`DISCRIMINATOR_FORMAT`, read back by :func:`load_discriminator`).
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable, Mapping, NamedTuple

import numpy as np
import torch
from torch import nn

from rwgan import io
from rwgan.errors import RwganError
from rwgan.models import PatchDiscriminator, RegionWiseGenerator, region_wise_discriminator, region_wise_generator
from rwgan.tfcheckpoint import TFCheckpoint
from rwgan.variants import DiscriminatorSpec, Variant

SINET_SCOPE, GPNET_SCOPE, DISCRIMINATOR_SCOPE = "inpaint_net", "inpaint_net_1", "discriminator"
IMAGE_SIZE = 256  # the official models are trained on 256 x 256 images
DISCRIMINATOR_FORMAT = "rwgan-official-discriminator-v1"
DISCRIMINATOR_LAYERS = 6

_ENCODER = (
    ("conv1_1", "encoder.e1"), ("conv2_downsample_1", "encoder.e2"), ("conv3_1", "encoder.e3"),
    ("conv4_downsample_1", "encoder.e4"), ("conv5_1", "encoder.e5"), ("conv6_1", "encoder.e6"),
    ("conv7_atrous_1", "encoder.dilated.0"), ("conv8_atrous_1", "encoder.dilated.1"),
    ("conv9_atrous_1", "encoder.dilated.2"), ("conv10_atrous_1", "encoder.dilated.3"),
    ("conv11_1", "encoder.e11"), ("conv12_1", "encoder.e12"),
)
_SINET_DECODER = (
    ("com_13_fusion_1", "rw13"), ("com_14_fusion", "rw14"), ("com_15_fusion_1", "rw15"),
    ("conv16_1", "head.0"), ("conv17_1", "head.1"), ("conv18_1", "head.2"),
)
_GPNET_DECODER = (
    ("conv13_upsample_1", "g13"), ("conv14_1", "g14"), ("conv15_upsample_1", "g15"),
    ("conv16_1", "g16"), ("conv17_1", "g17"),
)

#: (official layer scope, rwgan module path) for every generator convolution.
GENERATOR_LAYERS: tuple[tuple[str, str], ...] = (
    *((f"{SINET_SCOPE}/{tf_name}", f"semantic.{path}") for tf_name, path in _ENCODER + _SINET_DECODER),
    *((f"{GPNET_SCOPE}/{tf_name}", f"perceiving.{path}") for tf_name, path in _ENCODER + _GPNET_DECODER),
)

#: Optimizer state in training checkpoints, skipped on import.
OPTIMIZER_STATE = re.compile(r"(/Adam(_\d+)?$)|((^|/)beta[12]_power(_\d+)?$)|(^global_step$)")

_KNOWN_MODELS = (
    (re.compile(r"^inpaint_net/(conv\d+|conv\d+_(downsample|atrous|upsample)|allconv\d+|xconv\d+|pmconv\d+)/kernel$"),
     "DeepFill v1/v2 (JiahuiYu/generative_inpainting)"),
)


def official_variant(with_discriminator: bool = True) -> Variant:
    """The variant an imported model is recorded as: the full model (Table I's "Ours"),
    named ``official``; without a discriminator in the checkpoint, no adversarial phase."""
    discriminators = (DiscriminatorSpec("region_wise", ("coarse", "refined")),) if with_discriminator else ()
    return Variant(name="official", model="region_wise", standard_conv=False, lambda_correlation=1e-5,
                   lambda_style=1e-3, lambda_adversarial=1.0, correlation_on="coarse", style_on="refined",
                   adversarial_phase=with_discriminator, discriminators=discriminators)


def _single_conv(model: nn.Module, path: str) -> nn.Conv2d:
    """The one ``nn.Conv2d`` at or under ``model.<path>``."""
    try:
        module = model.get_submodule(path)
    except AttributeError:
        raise RwganError(f"rwgan generator: no module {path} (the official layer table in rwgan/official.py "
                         "no longer matches rwgan/models/generator.py)") from None
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    if len(convs) != 1:
        raise RwganError(f"rwgan generator: {path} holds {len(convs)} convolutions, expected 1")
    return convs[0]


def generator_targets(generator: nn.Module) -> dict[str, tuple[nn.Conv2d, tuple[int, ...], tuple[int, ...]]]:
    """Official variable name -> (target conv, expected TF shape, tensor kind) for every
    kernel and bias of the generator; checks that every conv of ``generator`` is covered."""
    targets, covered = {}, set()
    for scope, path in GENERATOR_LAYERS:
        conv = _single_conv(generator, path)
        out_channels, in_channels, kh, kw = conv.weight.shape
        targets[f"{scope}/kernel"] = (conv, (kh, kw, in_channels, out_channels), "kernel")
        targets[f"{scope}/bias"] = (conv, (out_channels,), "bias")
        covered.add(id(conv))
    uncovered = [name for name, m in generator.named_modules() if isinstance(m, nn.Conv2d) and id(m) not in covered]
    if uncovered:
        raise RwganError(f"rwgan generator: convolutions {', '.join(uncovered[:3])} have no official counterpart "
                         "(update GENERATOR_LAYERS in rwgan/official.py)")
    return targets


def _discriminator_convs(discriminator: nn.Module) -> list[nn.Conv2d]:
    convs = [m for m in discriminator.modules() if isinstance(m, nn.Conv2d)]
    if len(convs) != DISCRIMINATOR_LAYERS:
        raise RwganError(f"rwgan discriminator: {len(convs)} convolutions, expected {DISCRIMINATOR_LAYERS} "
                         "(d_conv1..d_conv6)")
    return convs


def _spectral_parts(conv: nn.Conv2d) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(raw weight, u buffer, v buffer) of a spectrally normalised conv (the
    parametrization API, or the older ``torch.nn.utils.spectral_norm`` hook)."""
    parametrizations = getattr(conv, "parametrizations", None)
    if parametrizations is not None and "weight" in parametrizations:
        weight = parametrizations["weight"]
        norm = weight[0]
        return weight.original, norm._u, norm._v
    if hasattr(conv, "weight_orig") and hasattr(conv, "weight_u") and hasattr(conv, "weight_v"):
        return conv.weight_orig, conv.weight_u, conv.weight_v
    raise RwganError("rwgan discriminator: a convolution without spectral norm (expected one on every layer)")


def _discriminator_targets(discriminator: nn.Module) -> dict[str, tuple[tuple[int, ...], int]]:
    """Official D variable name -> (expected TF shape, layer index)."""
    targets = {}
    for index, conv in enumerate(_discriminator_convs(discriminator)):
        weight, _, _ = _spectral_parts(conv)
        out_channels, in_channels, kh, kw = weight.shape
        layer = f"{DISCRIMINATOR_SCOPE}/d_conv{index + 1}"
        targets[f"{layer}_w"] = ((kh, kw, in_channels, out_channels), index)
        targets[f"{layer}_bias"] = ((out_channels,), index)
        targets[f"{layer}u"] = ((1, out_channels), index)
    return targets


class OfficialModel(NamedTuple):
    """What :func:`convert` made: the generator (eval mode), the discriminator (eval mode)
    or ``None`` when the checkpoint has none, and the optimizer-state names it skipped."""

    generator: RegionWiseGenerator
    discriminator: PatchDiscriminator | None
    skipped: tuple[str, ...]


def _first(names, count: int = 3) -> str:
    names = sorted(names)
    return ", ".join(names[:count]) + (f" (+{len(names) - count} more)" if len(names) > count else "")


def convert(shapes: Mapping[str, tuple[int, ...]], read: Callable[[str], np.ndarray], where: str) -> OfficialModel:
    """Build rwgan's generator (and discriminator) from official variables.

    ``shapes`` maps every variable of the checkpoint to its shape, ``read(name)`` returns
    one as an array; ``where`` names the source in error messages.  Raises
    :class:`RwganError` (one line) for a checkpoint of another model, missing generator
    variables, a partial discriminator, variables that belong to neither, shape
    mismatches and non-float values.
    """
    generator = region_wise_generator()
    discriminator = region_wise_discriminator()
    g_targets = generator_targets(generator)
    d_targets = _discriminator_targets(discriminator)
    names = set(shapes)
    skipped = tuple(sorted(n for n in names if OPTIMIZER_STATE.search(n)))
    model_names = names - set(skipped)

    present = model_names & set(g_targets)
    if not present:
        for pattern, model in _KNOWN_MODELS:
            if any(pattern.search(n) for n in model_names):
                raise RwganError(f"{where}: a {model} checkpoint, not the Region-wise GAN (none of its "
                                 f"{len(g_targets)} generator variables, e.g. {SINET_SCOPE}/com_13_fusion_1/kernel)")
        raise RwganError(f"{where}: not a Region-wise GAN checkpoint (none of its {len(g_targets)} generator "
                         f"variables, e.g. {SINET_SCOPE}/conv1_1/kernel; it holds {_first(model_names) or 'nothing'})")
    missing = set(g_targets) - present
    if missing:
        raise RwganError(f"{where}: missing {len(missing)} of the {len(g_targets)} generator variables: "
                         f"{_first(missing)}")
    d_present = model_names & set(d_targets)
    if d_present and d_present != set(d_targets):
        raise RwganError(f"{where}: incomplete discriminator, missing {_first(set(d_targets) - d_present)}")
    unexpected = model_names - set(g_targets) - set(d_targets)
    if unexpected:
        raise RwganError(f"{where}: {len(unexpected)} variable(s) that are not part of the Region-wise GAN: "
                         f"{_first(unexpected)}")
    for name in sorted(present | d_present):
        expected = g_targets[name][1] if name in g_targets else d_targets[name][0]
        if tuple(shapes[name]) != expected:
            raise RwganError(f"{where}: {name} has shape {list(shapes[name])}, expected {list(expected)}")

    def value(name: str) -> torch.Tensor:
        array = np.asarray(read(name))
        if array.dtype.kind != "f":
            raise RwganError(f"{where}: {name} is {array.dtype}, expected floating point weights")
        if not np.all(np.isfinite(array)):
            raise RwganError(f"{where}: {name} holds NaN or infinite values")
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))

    with torch.no_grad():
        for name, (conv, _, kind) in g_targets.items():
            tensor = value(name)
            if kind == "kernel":
                conv.weight.copy_(tensor.permute(3, 2, 0, 1))
            else:
                conv.bias.copy_(tensor)
        if d_present:
            for index, conv in enumerate(_discriminator_convs(discriminator)):
                layer = f"{DISCRIMINATOR_SCOPE}/d_conv{index + 1}"
                weight, u_buffer, v_buffer = _spectral_parts(conv)
                kernel = value(f"{layer}_w").permute(3, 2, 0, 1)
                weight.copy_(kernel)
                conv.bias.copy_(value(f"{layer}_bias"))
                u_tf = value(f"{layer}u").reshape(-1).double()
                matrix = kernel.reshape(kernel.shape[0], -1).double()  # (out, in * kh * kw), as torch flattens
                v = matrix.T @ u_tf
                v = v / (v.norm() + 1e-12)
                u = matrix @ v
                u = u / (u.norm() + 1e-12)
                u_buffer.copy_(u.to(u_buffer.dtype))
                v_buffer.copy_(v.to(v_buffer.dtype))
    return OfficialModel(generator.eval(), discriminator.eval() if d_present else None, skipped)


def convert_checkpoint(checkpoint: TFCheckpoint, verify: bool = True) -> OfficialModel:
    """:func:`convert` on an open TF checkpoint (only model tensors are read; ``verify``
    checks their CRC-32C)."""
    return convert(checkpoint.shapes, lambda name: checkpoint.read(name, verify=verify), str(checkpoint.index_path))


def discriminator_path(out: str | os.PathLike) -> Path:
    """Where :func:`import_official` puts the discriminator beside ``out``:
    ``model.pt`` -> ``model.discriminator.pt``."""
    out = Path(out)
    return out.with_name(f"{out.stem}.discriminator.pt")


class ImportResult(NamedTuple):
    """Paths written by :func:`import_official` and what they hold."""

    model: Path
    discriminator: Path | None
    provenance: dict
    skipped: int


_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def import_official(checkpoint: str | os.PathLike, out: str | os.PathLike, *, dataset: str, mask_type: str,
                    discriminator_out: str | os.PathLike | None = None, image_size: int = IMAGE_SIZE,
                    verify: bool = True) -> ImportResult:
    """Convert the official checkpoint at ``checkpoint`` (prefix, ``.index`` file or folder)
    into ``out`` (a ``model.pt``), and its discriminator, if it has one, into
    ``discriminator_out`` (default :func:`discriminator_path`).

    ``dataset`` (e.g. ``celebahq``, ``paris``, ``places2``) and ``mask_type``
    (``contiguous``, ``discontiguous``, ...) say what the authors trained it on; they are
    recorded, with each source file's name and sha256, in ``params['import_official']``
    of ``model.pt`` (and in the discriminator file); ``params_hash`` is the sha256 of that
    record, ``step`` the number after ``.ckpt-`` in the prefix (0 if none).  Nothing is
    written unless the whole checkpoint maps; files are written atomically, the
    discriminator first, ``model.pt`` last.
    """
    for label, value in (("dataset", dataset), ("mask type", mask_type)):
        if not isinstance(value, str) or not _LABEL.match(value):
            raise RwganError(f"{label}: expected a name like celebahq or contiguous (letters, digits, _ . -), "
                             f"got {value!r}")
    tf_checkpoint = TFCheckpoint(checkpoint)
    model = convert_checkpoint(tf_checkpoint, verify=verify)
    step_match = re.search(r"-(\d+)$", tf_checkpoint.prefix.name)
    step = int(step_match.group(1)) if step_match else 0
    d_out = None
    if model.discriminator is not None:
        d_out = Path(discriminator_out) if discriminator_out is not None else discriminator_path(out)
    provenance = {
        "source": "DIG-Beihang/Region-wise-Inpainting (TensorFlow 1)",
        "checkpoint": tf_checkpoint.prefix.name,
        "files": {path.name: io.sha256_file(path) for path in tf_checkpoint.files},
        "dataset": dataset,
        "mask_type": mask_type,
        "global_step": step,
        "tensors": len(tf_checkpoint),
        "skipped_optimizer_state": len(model.skipped),
        "discriminator": d_out.name if d_out is not None else None,
    }
    params_hash = io.sha256_json(provenance)
    variant = official_variant(model.discriminator is not None)
    from rwgan.inference import save_model  # late: inference imports the models package too

    if d_out is not None:
        payload = {"format": DISCRIMINATOR_FORMAT, "kind": "region_wise", "params_hash": params_hash,
                   "params": {"import_official": provenance}, "state_dict": model.discriminator.state_dict()}
        with io.atomic_path(d_out) as tmp:
            torch.save(payload, tmp)
    save_model(out, model.generator, variant, image_size, params_hash, {"import_official": provenance}, step)
    return ImportResult(Path(out), d_out, provenance, len(model.skipped))


def load_discriminator(path: str | os.PathLike) -> PatchDiscriminator:
    """The region-wise discriminator of a file written by :func:`import_official` (eval
    mode); :class:`RwganError` naming the file if it is missing or not such a file."""
    path = Path(path)
    if not path.is_file():
        raise RwganError(f"{path}: discriminator file not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many exception types for a damaged file
        raise RwganError(f"{path}: not a readable discriminator file ({exc.__class__.__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != DISCRIMINATOR_FORMAT:
        raise RwganError(f"{path}: not an imported discriminator (expected format {DISCRIMINATOR_FORMAT})")
    discriminator = region_wise_discriminator()
    try:
        discriminator.load_state_dict(payload["state_dict"])
    except (RuntimeError, KeyError) as exc:
        raise RwganError(f"{path}: weights do not fit the region-wise discriminator "
                         f"({str(exc).splitlines()[0]})") from None
    return discriminator.eval()
