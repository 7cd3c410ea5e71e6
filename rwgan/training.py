"""Training: any trained generator kind (:mod:`rwgan.kinds`) with its objective
(:mod:`rwgan.objectives`): the region-wise GAN and its variants (Algorithm 1 of the
paper) and the PC baseline (Liu et al. 2018); resumable, deterministic, GPU-ready.

Conventions: images N x 3 x H x W in [-1, 1]; masks M N x 1 x H x W, 1 = known, 0 = hole.

**Schedule.**  Training runs two phases of fixed step counts (:class:`TrainConfig`); the
kind says whether a variant trains phase 2 (:meth:`rwgan.kinds.ModelKind.runs_phase2`)
and its objective what each phase does: the region-wise model's phase 1 is Algorithm 1's
reconstruction phase and phase 2 its adversarial phase (:mod:`rwgan.objectives.region_wise`);
PC's are the initial training and the BN-frozen fine-tuning (:mod:`rwgan.objectives.pconv`).
Each step updates the generator first, with every discriminator frozen (no gradient,
eval mode so spectral norm's power iteration does not advance), then, in the phases
where the objective trains them, the discriminators from the same forward pass's
detached output (Algorithm 1, lines 14-15).

Phase 2 starts with fresh Adam optimisers, as the official code, which restores only the
generator's weights for its second run.  :func:`train` can run both phases or one
(``phases``): a phase-2 run started from a phase-1 ``model.pt`` (``init_generator``) is
step for step the second half of a run of both, which lets several variants share one
phase 1 (RED *is* the phase-1 model; every phase-2 variant starts from it).

**Losses.**  ``losses.csv`` holds each raw term of the objective (``loss_<term>``) and
each term as it enters the total, times its weight (``weighted_<term>``); a term the
objective does not compute stays empty.  ``loss_curve.png`` adds a panel of every
weighted term's share of the total, so an inert term shows at a glance.

**Validation.**  Given a fixed held-out batch (``validation``), the run scores it at its
first step, every ``validate_every`` steps and at the end: hole L1 (mean |I_c - I_g| over
hole pixels on [0, 1]), PSNR and LPIPS of the final composite (:mod:`rwgan.metrics`), in
``validation.csv`` and ``validation.png``, with ``samples/val_step_<n>.png`` grids of the
held-out images.

**Data order.**  Step ``s`` belongs to epoch ``s // steps_per_epoch``; each epoch is a
permutation drawn from (seed, epoch) and every sample's mask from (seed, epoch, index)
(:class:`rwgan.data.InpaintingDataset`), so the batches of a step never depend on how
the run got there: a resumed run sees exactly the batches of an uninterrupted one.
Under ``torchrun`` each of the ``W`` processes takes its slice of a global batch of
``W * batch_size`` (the role of ``DistributedSampler``, resumable mid-epoch); DDP
averages the gradients of the processes' (summed) losses.

**Outputs** of :func:`train` in ``run_dir``: ``last.pt`` (everything needed to resume:
models, optimisers, step, the lr schedule, RNG states, loss history, the params that
made it), ``model.pt`` (final: weights + variant + image size + params hash; what
:func:`rwgan.inference.load_inpainter` reads), ``losses.csv`` (step, phase, raw and
weighted loss terms), ``loss_curve.png``, ``samples/step_<n>.png`` (input | the
objective's preview | output | ground truth per row) and, with validation,
``validation.csv`` / ``validation.png`` / ``samples/val_step_<n>.png``.  All writes are
atomic.  If ``last.pt`` holds another params hash, training starts over (and says so).

**Devices.**  CPU or CUDA; optionally bf16 autocast (:func:`rwgan.device.autocast_dtype`;
losses in float32) and channels-last memory.  With ``deterministic``, ``torch.use_deterministic_algorithms``
(warning, not failing, on the few CUDA kernels that have no deterministic version).
"""
from __future__ import annotations

import csv
import io as _stdio
import logging
import math
import os
import random
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable, Iterator, NamedTuple

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from rwgan import io
from rwgan.data import InpaintingDataset, tensor_to_image
from rwgan.device import autocast, autocast_dtype, resolve_device
from rwgan.errors import RwganError
from rwgan.inference import save_model
from rwgan.kinds import get_model_kind
from rwgan.models import composite
from rwgan.variants import Variant, phase2_runs

TRAIN_STATE_FORMAT = "rwgan-train-state-v1"
LAST_CHECKPOINT = "last.pt"
FINAL_MODEL = "model.pt"
#: The held-out scores of ``validation.csv`` and how a plot labels each.
VALIDATION_LABELS = {"hole_l1": "hole L1 (lower is better)", "psnr": "PSNR dB (higher)", "lpips": "LPIPS (lower)"}
VALIDATION_COLUMNS = tuple(VALIDATION_LABELS)
#: ``field(metadata=...)`` of a :class:`TrainConfig` field phase 1 never reads.
_PHASE2_ONLY = {"phases": (2,)}
#: ``field(metadata=...)`` of a :class:`TrainConfig` field that holds one value per phase.
_PER_PHASE = {"per_phase": True}


@dataclass(frozen=True)
class PConvWeights:
    """The PC objective's loss weights (:func:`rwgan.losses.pconv_loss`; Liu et al.: 1, 6, 0.05, 120, 0.1)."""

    valid: float
    hole: float
    perceptual: float
    style: float
    tv: float


@dataclass(frozen=True)
class TrainConfig:
    """Everything that shapes a training trajectory (validated by the caller).

    ``phase_steps``: optimiser steps of phase 1 and phase 2 (phase 2 is skipped for a
    variant whose kind says it has none, e.g. RED); ``learning_rates``: Adam's lr in
    each phase (discriminators use phase 2's); ``betas``: Adam's for every optimiser;
    ``batch_size``: per process; ``alpha``: eq. 6's weight of the real term;
    ``vgg_resize``: side images are resized to before VGG16 for L_c and L_s (224 in the
    official code; ``None`` = native size); ``vgg_weights`` and ``vgg_feature_scale``:
    the loss network of L_c and L_s (:class:`rwgan.vgg.VGGFeatures`); ``pconv_weights``:
    the PC objective's; ``amp``: :data:`rwgan.device.AMP_CHOICES` (``auto``: bf16 on CUDA only); ``seed``: initial
    weights, data order and masks.  Each objective reads the settings of its own
    (:mod:`rwgan.objectives`).
    """

    variant: Variant
    image_size: int
    batch_size: int
    phase_steps: tuple[int, int] = field(metadata=_PER_PHASE)
    learning_rates: tuple[float, float] = field(metadata=_PER_PHASE)
    betas: tuple[float, float]
    alpha: float = field(metadata=_PHASE2_ONLY)
    pconv_weights: PConvWeights
    vgg_resize: int | None
    seed: int
    vgg_weights: str = "torchvision"
    vgg_feature_scale: float = 1.0
    amp: str = "none"  # rwgan.device.AMP_CHOICES
    channels_last: bool = False
    deterministic: bool = False

    @property
    def steps(self) -> tuple[int, int]:
        """Steps actually run per phase: phase 2 is dropped for a variant without one (RED)."""
        return self.phase_steps[0], self.phase_steps[1] if phase2_runs(self.variant) else 0

    def to_dict(self) -> dict:
        data = asdict(self)
        data["variant"] = self.variant.to_dict()
        return data

    def phase1_view(self) -> dict:
        """:meth:`to_dict` restricted to what shapes phase 1 (the fingerprint of a shared
        phase-1 run): the variant's phase-1 switches (:meth:`Variant.phase1_view`), the
        phase-1 value of each per-phase field, and every field but phase 2's own (``alpha``)."""
        data = self.to_dict()
        view = {"variant": self.variant.phase1_view()}
        for item in fields(self):
            if item.name != "variant" and 1 in item.metadata.get("phases", (1, 2)):
                view[item.name] = data[item.name][:1] if item.metadata.get("per_phase") else data[item.name]
        return view


@dataclass(frozen=True)
class RunOptions:
    """Bookkeeping that does not change the trajectory: checkpoint and sample cadence
    (steps; 0 = only at the end / never), samples per grid, loader workers, device
    (``auto`` = CUDA when available), whether to show a progress bar, and the steps
    between validations (0: only at the first and last step)."""

    checkpoint_every: int = 500
    sample_every: int = 500
    validate_every: int = 0
    sample_count: int = 4
    num_workers: int = 0
    device: str = "auto"
    progress: bool = True


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def configure_determinism(enabled: bool) -> None:
    """``enabled``: deterministic algorithms (warn-only for kernels without one) and no
    cuDNN autotuning; otherwise cuDNN may autotune (faster on fixed-size inputs)."""
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(enabled, warn_only=True)
    torch.backends.cudnn.deterministic = enabled
    torch.backends.cudnn.benchmark = not enabled


def _map_output(output: NamedTuple, function: Callable[[Tensor], Tensor]) -> NamedTuple:
    """``output`` with ``function`` applied to every field."""
    return type(output)(*(function(value) for value in output))


class Trainer:
    """The generator, its objective's networks, the optimisers and one training step.

    The variant's kind (:mod:`rwgan.kinds`) builds the generator (initial weights from
    ``config.seed``) and then its objective, which builds the networks its loss needs
    (discriminator k from ``config.seed + 1 + k``).  ``distributed``: wrap the trained
    networks in ``DistributedDataParallel`` (the process group must be initialised).
    """

    def __init__(self, config: TrainConfig, device: torch.device | str = "cpu", distributed: bool = False):
        self.config = config
        self.variant = variant = config.variant
        self.device = torch.device(device)
        self.amp_dtype = autocast_dtype(self.device, config.amp)
        self.memory_format = torch.channels_last if config.channels_last else torch.contiguous_format

        kind = get_model_kind(variant.model)
        self.generator = kind.build(variant, seed=config.seed)
        self.objective = kind.objective_class(config, self._autocast)
        self.discriminators = self.objective.discriminators
        for module in (self.generator, *self.objective.networks()):
            module.to(self.device, memory_format=self.memory_format)
        self.phase: int | None = None
        self.g_optimizer = self._generator_optimizer(1)
        d_parameters = [p for d in self.discriminators for p in d.parameters()]
        self.d_optimizer = (torch.optim.Adam(d_parameters, lr=config.learning_rates[1], betas=config.betas)
                            if d_parameters else None)
        self.distributed = distributed
        self._generator = self._wrap(self.generator)
        self._discriminators = [self._wrap(d) for d in self.discriminators]

    def _wrap(self, module: nn.Module) -> nn.Module:
        """``module`` itself, or under DDP its ``DistributedDataParallel`` wrapper (used for
        the forward passes whose gradients train it)."""
        if not self.distributed:
            return module
        return DistributedDataParallel(module, device_ids=[self.device] if self.device.type == "cuda" else None)

    def _generator_optimizer(self, phase: int) -> torch.optim.Adam:
        return torch.optim.Adam(self.generator.parameters(), lr=self.config.learning_rates[phase - 1],
                                betas=self.config.betas)

    @property
    def loss_columns(self) -> tuple[str, ...]:
        return self.objective.loss_columns()

    def _autocast(self):
        return autocast(self.device, self.amp_dtype)

    def _to_device(self, image: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        return (image.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format),
                mask.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format))

    def set_phase(self, phase: int) -> None:
        """Enter ``phase``: a fresh generator optimiser when the phase changes (the official
        phase 2 restores only the generator's weights), ``phase``'s learning rate, and the
        objective's changes for the phase (e.g. PC's frozen encoder batch norms)."""
        if self.phase is not None and self.phase != phase:
            self.g_optimizer = self._generator_optimizer(phase)
        self.phase = phase
        for group in self.g_optimizer.param_groups:
            group["lr"] = self.config.learning_rates[phase - 1]
        if self.objective.enter_phase(self.generator, phase):
            self._generator = self._wrap(self.generator)  # DDP must learn which parameters get gradients

    # --- steps -------------------------------------------------------------------------
    def generator_losses(self, image: Tensor, mask: Tensor, phase: int) -> tuple[dict[str, Tensor], NamedTuple]:
        """The objective's loss terms of the generator (``total`` included) and the
        generator's output (every field float32)."""
        with self._autocast():
            output = self._generator(image, mask)
        output = _map_output(output, Tensor.float)
        return self.objective.generator_loss(output, image, mask, phase), output

    def generator_step(self, image: Tensor, mask: Tensor, phase: int) -> tuple[dict[str, float], NamedTuple]:
        """One generator update with every discriminator frozen; returns the loss terms
        (raw, ``weighted_<term>`` and ``total``) and the detached output (for
        :meth:`discriminator_step`)."""
        image, mask = self._to_device(image, mask)
        for discriminator in self.discriminators:
            discriminator.eval().requires_grad_(False)
        self.generator.train()
        terms, output = self.generator_losses(image, mask, phase)
        self.g_optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        self.g_optimizer.step()
        losses = {name: float(value.detach()) for name, value in terms.items()}
        losses.update({f"weighted_{name}": weight * losses[name]
                       for name, weight in self.objective.loss_weights(phase).items() if name in losses})
        return losses, _map_output(output, Tensor.detach)

    def discriminator_step(self, image: Tensor, mask: Tensor, output: NamedTuple) -> dict[str, float]:
        """One update of every discriminator on the objective's loss, given the generator's
        detached ``output`` for ``image`` and ``mask``."""
        image, mask = self._to_device(image, mask)
        for discriminator in self.discriminators:
            discriminator.train().requires_grad_(True)
        loss = self.objective.discriminator_loss(image, mask, output, self._discriminators)
        self.d_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.d_optimizer.step()
        return {"discriminator": float(loss.detach())}

    def train_step(self, image: Tensor, mask: Tensor, phase: int) -> dict[str, float]:
        """One step of ``phase``: the generator update, then (where the objective trains
        them) the discriminators' update.  Returns every loss term."""
        self.set_phase(phase)
        terms, output = self.generator_step(image, mask, phase)
        if self.objective.trains_discriminators(phase):
            terms.update(self.discriminator_step(image, mask, output))
        return terms

    @torch.no_grad()
    def predict(self, image: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """(the objective's preview, final composite) in eval mode, e.g. I_c1 and I_c2.
        ``image``, ``mask`` already on the device."""
        self.generator.eval()
        output = self.generator(image, mask)
        self.generator.train()
        return self.objective.preview(output).float(), output.composite.float()

    @torch.no_grad()
    def validate(self, image: Tensor, mask: Tensor, lpips: nn.Module) -> dict[str, float]:
        """Mean hole L1 (|I_c - I_g| over hole pixels, on [0, 1]), PSNR and LPIPS of the
        final composites of a held-out batch (see "Validation" in the module docstring)."""
        from rwgan.metrics import pixel_metrics

        image, mask = self._to_device(image, mask)
        _, output = self.predict(image, mask)
        hole = (1 - mask).expand_as(image)
        hole_l1 = ((output - image).abs() * hole).sum() / 2 / hole.sum().clamp(min=1)
        scores = pixel_metrics(tensor_to_image(output), tensor_to_image(image), lpips=lpips, device=self.device)
        return {"hole_l1": float(hole_l1), "psnr": float(scores["PSNR"].mean()), "lpips": float(scores["LPIPS"].mean())}

    @torch.no_grad()
    def sample_grid(self, image: Tensor, mask: Tensor) -> np.ndarray:
        """uint8 grid, one row per image: input (holes white) | the objective's preview
        (I_c1 for the region-wise model, PC's raw prediction) | output | ground truth."""
        image, mask = self._to_device(image, mask)
        preview, output = self.predict(image, mask)
        columns = [composite(image, torch.ones_like(image), mask), preview, output, image]
        tiles = [tensor_to_image(column.float()) for column in columns]
        gap = 2
        rows = []
        for k in range(image.shape[0]):
            row = [np.pad(tile[k], ((0, gap), (0, gap), (0, 0)), constant_values=255) for tile in tiles]
            rows.append(np.concatenate(row, axis=1))
        return np.concatenate(rows, axis=0)

    # --- state -------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "phase": self.phase,
            "generator": self.generator.state_dict(),
            "discriminators": [d.state_dict() for d in self.discriminators],
            "g_optimizer": self.g_optimizer.state_dict(),
            "d_optimizer": self.d_optimizer.state_dict() if self.d_optimizer is not None else None,
        }

    def load_state_dict(self, state: dict) -> None:
        self.set_phase(state.get("phase") or 1)
        self.generator.load_state_dict(state["generator"])
        for discriminator, saved in zip(self.discriminators, state["discriminators"], strict=True):
            discriminator.load_state_dict(saved)
        self.g_optimizer.load_state_dict(state["g_optimizer"])
        if self.d_optimizer is not None:
            self.d_optimizer.load_state_dict(state["d_optimizer"])


# --- data order --------------------------------------------------------------------------
def epoch_order(dataset_size: int, seed: int, epoch: int) -> np.ndarray:
    """The permutation of sample indices of ``epoch``, drawn from (seed, epoch) alone."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(epoch,)))
    return rng.permutation(dataset_size)


def epoch_batches(dataset_size: int, seed: int, epoch: int, batch_size: int, rank: int = 0,
                  world_size: int = 1) -> np.ndarray:
    """Sample indices of every step of ``epoch`` for process ``rank``, shape (steps per
    epoch, ``batch_size``): row j is its slice of the epoch's j-th global batch of
    ``batch_size * world_size`` (an incomplete last global batch is dropped)."""
    global_batch = batch_size * world_size
    steps = dataset_size // global_batch
    order = epoch_order(dataset_size, seed, epoch)[:steps * global_batch]
    return order.reshape(steps, world_size, batch_size)[:, rank]


# --- checkpoints and logs -----------------------------------------------------------------
def _rng_state() -> dict:
    _, keys, position, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "position": int(position),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    saved = state["numpy"]
    np.random.set_state(("MT19937", saved["keys"].numpy().astype(np.uint32), saved["position"],
                         saved["has_gauss"], saved["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _save(path: Path, payload: dict) -> None:
    with io.atomic_path(path) as tmp:
        torch.save(payload, tmp)


def write_step_csv(path: Path, columns: tuple[str, ...], rows: list[dict]) -> None:
    """``step, phase, <columns>`` per row (``losses.csv``, ``validation.csv``); a value
    missing (a term not computed) or NaN is left empty."""
    buffer = _stdio.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("step", "phase", *columns))
    for row in rows:
        writer.writerow((row["step"], row["phase"], *(_csv_number(row.get(c)) for c in columns)))
    io.write_text(path, buffer.getvalue())


def _csv_number(value: float | None) -> str:
    return "" if value is None or math.isnan(value) else repr(value)


def _has_values(history: list[dict], column: str) -> bool:
    return any(not math.isnan(row.get(column, math.nan)) for row in history)


def plot_losses(path: Path, columns: tuple[str, ...], history: list[dict], phase1_steps: int) -> None:
    """One panel per raw loss term against the step, then one of each weighted term's
    share of the total (log scale); a dashed line where phase 2 starts."""
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure state

    raw = [c for c in columns if c.startswith("loss_") and _has_values(history, c)] or [columns[0]]
    weighted = [c for c in columns if c.startswith("weighted_") and _has_values(history, c)]
    panels = len(raw) + bool(weighted)
    fig = Figure(figsize=(7, 1.8 * panels))
    axes = fig.subplots(panels, 1, sharex=True, squeeze=False)[:, 0]
    steps = [row["step"] for row in history]
    for axis, column in zip(axes, raw):
        values = [row.get(column, math.nan) for row in history]
        axis.plot(steps, values, linewidth=0.8)
        if all(v > 0 for v in values if not math.isnan(v)):
            axis.set_yscale("log")
        axis.set_ylabel(column.removeprefix("loss_"), fontsize=8)
    if weighted:
        axis = axes[-1]
        for column in weighted:
            shares = [row.get(column, math.nan) / row["loss_total"] if row.get("loss_total") else math.nan
                      for row in history]
            axis.plot(steps, [v if v > 0 else math.nan for v in shares], linewidth=0.8,
                      label=column.removeprefix("weighted_"))
        axis.set_yscale("log")
        axis.set_ylabel("share of total", fontsize=8)
        axis.legend(fontsize=7, loc="lower right")
    for axis in axes:
        if steps and steps[0] <= phase1_steps < steps[-1]:
            axis.axvline(phase1_steps + 0.5, color="grey", linestyle="--", linewidth=0.8)
    axes[-1].set_xlabel("step")
    fig.tight_layout()
    with io.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)


def plot_validation(path: Path, rows: list[dict], phase1_steps: int) -> None:
    """Held-out hole L1, PSNR and LPIPS against the step; a dashed line where phase 2 starts."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 1.8 * len(VALIDATION_COLUMNS)))
    axes = fig.subplots(len(VALIDATION_COLUMNS), 1, sharex=True, squeeze=False)[:, 0]
    steps = [row["step"] for row in rows]
    for axis, column in zip(axes, VALIDATION_COLUMNS):
        axis.plot(steps, [row[column] for row in rows], marker="o", markersize=2.5, linewidth=0.8)
        axis.set_ylabel(VALIDATION_LABELS[column], fontsize=8)
        if steps and steps[0] < phase1_steps < steps[-1]:
            axis.axvline(phase1_steps, color="grey", linestyle="--", linewidth=0.8)
    axes[0].set_title("held-out validation", fontsize=9)
    axes[-1].set_xlabel("step")
    fig.tight_layout()
    with io.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)


def read_train_state(path: str | os.PathLike, device: str | torch.device = "cpu") -> dict:
    """The content of a ``last.pt`` (see the module docstring); RwganError if unreadable."""
    path = Path(path)
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises many exception types for a damaged file
        raise RwganError(f"{path}: not a readable checkpoint ({exc.__class__.__name__}); delete it to start over") \
            from None
    if not isinstance(state, dict) or state.get("format") != TRAIN_STATE_FORMAT:
        raise RwganError(f"{path}: not an rwgan training state (expected format {TRAIN_STATE_FORMAT})")
    return state


# --- the loop -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Process:
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


@contextmanager
def _processes(device_request: str) -> Iterator[tuple[_Process, torch.device]]:
    """This process and its device.  Under ``torchrun`` (``WORLD_SIZE > 1``) it joins the
    process group (NCCL on CUDA, else Gloo) for the block, on the GPU ``LOCAL_RANK``."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    device = resolve_device(device_request)
    if world_size <= 1:
        yield _Process(), device
        return
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        yield _Process(dist.get_rank(), dist.get_world_size()), device
    finally:
        if owns:
            dist.destroy_process_group()


def train(
    config: TrainConfig,
    dataset: InpaintingDataset,
    run_dir: str | os.PathLike,
    *,
    params_hash: str,
    params: dict | None = None,
    options: RunOptions = RunOptions(),
    phases: tuple[int, ...] = (1, 2),
    init_generator: str | os.PathLike | None = None,
    validation: dict[str, Tensor] | None = None,
    log: logging.Logger | None = None,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
) -> Path:
    """Train ``config`` on ``dataset`` into ``run_dir`` (resuming from its ``last.pt``
    when that was made with the same ``params_hash``); returns the path of ``model.pt``.

    ``phases``: ``(1, 2)``, ``(1,)`` or ``(2,)``.  A run of phase 2 alone starts at step
    ``phase_steps[0]`` from the generator weights of ``init_generator`` (a phase-1
    ``model.pt``) with fresh optimisers and discriminators, and sees the batches a run of
    both phases would.  ``dataset`` yields ``{"image", "mask"}`` of ``config.image_size``
    and has ``set_epoch``; ``validation`` (``{"image", "mask"}`` tensors) is the held-out
    batch scored every ``options.validate_every`` steps; ``params`` (JSON-able) is
    recorded in the checkpoints beside ``params_hash``.  ``on_step(step, losses)`` is
    called after every completed step, after that step's checkpoint, if any.  Raises
    :class:`RwganError` when the dataset holds fewer images than one (global) batch, a
    checkpoint is unreadable, or ``init_generator`` is missing or does not fit.
    """
    log = log or logging.getLogger(__name__)
    run_dir, params = Path(run_dir), params or {}
    if tuple(phases) not in ((1, 2), (1,), (2,)):
        raise RwganError(f"phases: expected (1, 2), (1,) or (2,), got {phases!r}")
    with _processes(options.device) as (process, device):
        global_batch = config.batch_size * process.world_size
        if len(dataset) < global_batch:
            raise RwganError(f"training data: {len(dataset)} images, fewer than one batch of {global_batch}")
        steps_per_epoch = len(dataset) // global_batch
        phase1, phase2 = config.steps
        begin = 0 if phases[0] == 1 else phase1
        total = phase1 if phases[-1] == 1 else phase1 + phase2
        configure_determinism(config.deterministic)
        seed_everything(config.seed)
        trainer = Trainer(config, device, distributed=process.world_size > 1)
        if phases[0] == 2:
            _load_generator(trainer, init_generator)
        columns = trainer.loss_columns
        sample_batch = _fixed_samples(dataset, min(options.sample_count, len(dataset)))
        last_path = run_dir / LAST_CHECKPOINT

        step, history, validations = begin, [], []
        if last_path.is_file():
            state = read_train_state(last_path, device)
            if state["params_hash"] == params_hash:
                trainer.load_state_dict(state["trainer"])
                _set_rng_state(state["rng"])
                step, history, validations = state["step"], state["history"], state.get("validation", [])
                log.info("resuming %s from step %d of %d", last_path, step, total)
            else:
                log.warning("%s was made by other params (hash %s, now %s): starting over",
                            last_path, state["params_hash"][:12], params_hash[:12])
                if process.is_main:
                    for stale in (run_dir / "samples").glob("*step_*.png"):
                        stale.unlink()
        log.info("training %s (%s) on %s: phases %s, steps %d..%d (phase 1 ends at %d), batch %d x %d processes, "
                 "%d steps per epoch", config.variant.name, config.variant.model, device,
                 "+".join(map(str, phases)), begin, total, phase1, config.batch_size, process.world_size,
                 steps_per_epoch)
        lpips = None
        if validation is not None and process.is_main:
            from rwgan.metrics import LPIPS

            lpips = LPIPS().to(device)

        def validate(at_step: int) -> None:
            """Score the held-out set at ``at_step`` (once per step) and (re)write validation.csv / .png,
            also when a resumed run has nothing left to score (the workflow tool may have removed them)."""
            if lpips is None:
                return
            if not any(row["step"] == at_step for row in validations):
                scores = trainer.validate(validation["image"], validation["mask"], lpips)
                validations.append({"step": at_step, "phase": 1 if at_step <= phase1 else 2, **scores})
                log.info("validation at step %d: %s", at_step, ", ".join(f"{k}={v:.4g}" for k, v in scores.items()))
                io.save_png(run_dir / "samples" / f"val_step_{at_step}.png", trainer.sample_grid(**validation))
            write_step_csv(run_dir / "validation.csv", VALIDATION_COLUMNS, validations)
            plot_validation(run_dir / "validation.png", validations, phase1)

        def save_state(at_step: int) -> None:
            if history:
                log.info("step %d: %s", at_step, ", ".join(f"{k}={v:.4g}" for k, v in history[-1].items()
                                                           if k.startswith(("loss_", "weighted_"))))
            if process.is_main:
                write_step_csv(run_dir / "losses.csv", columns, history)
                _save(last_path, {
                    "format": TRAIN_STATE_FORMAT, "params_hash": params_hash, "params": params,
                    "config": config.to_dict(), "step": at_step, "phase": 1 if at_step < phase1 else 2,
                    "phases": list(phases),
                    "schedule": {"phase_steps": [phase1, phase2], "learning_rates": list(config.learning_rates)},
                    "data": {"seed": config.seed, "dataset_size": len(dataset), "steps_per_epoch": steps_per_epoch,
                             "batch_size": config.batch_size, "world_size": process.world_size},
                    "trainer": trainer.state_dict(), "rng": _rng_state(), "history": history,
                    "validation": validations,
                })
                plot_losses(run_dir / "loss_curve.png", columns, history, phase1)
            if process.world_size > 1:
                dist.barrier()

        if process.is_main and step == begin:
            validate(step)
        progress = tqdm(total=total - begin, initial=step - begin, desc=f"train {config.variant.name}", unit="step",
                        disable=not (options.progress and process.is_main))
        started, first_step = time.perf_counter(), step
        for batch in _batches(dataset, config, process, step, total, options.num_workers, device):
            phase = 1 if step < phase1 else 2
            losses = trainer.train_step(batch["image"], batch["mask"], phase)
            step += 1
            history.append({"step": step, "phase": phase,
                            **{k if k.startswith("weighted_") else f"loss_{k}": v for k, v in losses.items()}})
            progress.update()
            progress.set_postfix(phase=phase, loss=f"{losses['total']:.4g}")
            if options.validate_every and step % options.validate_every == 0 and process.is_main:
                validate(step)
            if options.checkpoint_every and step % options.checkpoint_every == 0 and step < total:
                save_state(step)
            if options.sample_every and step % options.sample_every == 0 and process.is_main:
                io.save_png(run_dir / "samples" / f"step_{step}.png", trainer.sample_grid(**sample_batch))
            if on_step is not None:
                on_step(step, losses)
        progress.close()
        if step > first_step:
            seconds = time.perf_counter() - started
            log.info("%d steps in %.1f s (%.3f s/step)", step - first_step, seconds, seconds / (step - first_step))
        if process.is_main:
            validate(step)
        save_state(step)
        model_path = run_dir / FINAL_MODEL
        if process.is_main:
            save_model(model_path, trainer.generator, config.variant, config.image_size, params_hash, params, step)
            log.info("wrote %s", model_path)
        return model_path


def _load_generator(trainer: Trainer, path: str | os.PathLike | None) -> None:
    """Phase 2 alone: the generator weights of the phase-1 ``model.pt`` at ``path``."""
    if path is None:
        raise RwganError("init_generator: a phase-2 run needs the phase-1 model.pt to start from")
    path = Path(path)
    if not path.is_file():
        raise RwganError(f"{path}: phase-1 model not found (expected from the phase-1 run)")
    try:
        payload = torch.load(path, map_location=trainer.device, weights_only=True)
        trainer.generator.load_state_dict(payload["state_dict"])
    except Exception as exc:  # unreadable file, or weights of another network
        raise RwganError(f"{path}: not a phase-1 model of {trainer.variant.name} "
                         f"({str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__})") from None


def _fixed_samples(dataset: InpaintingDataset, count: int) -> dict[str, Tensor]:
    """The first ``count`` samples with their epoch-0 masks: the rows of every sample grid."""
    dataset.set_epoch(0)
    items = [dataset[k] for k in range(count)]
    return {"image": torch.stack([item["image"] for item in items]),
            "mask": torch.stack([item["mask"] for item in items])}


def _batches(dataset, config: TrainConfig, process: _Process, start: int, total: int, num_workers: int,
             device: torch.device):
    """Batches of steps ``start .. total - 1`` (see "Data order" in the module docstring)."""
    steps_per_epoch = len(dataset) // (config.batch_size * process.world_size)
    step = start
    while step < total:
        epoch, position = divmod(step, steps_per_epoch)
        last = min(total, (epoch + 1) * steps_per_epoch)
        rows = epoch_batches(len(dataset), config.seed, epoch, config.batch_size, process.rank, process.world_size)
        indices = rows[position:position + last - step].reshape(-1).tolist()
        dataset.set_epoch(epoch)  # before the loader's workers copy the dataset
        loader = DataLoader(dataset, batch_size=config.batch_size, sampler=indices, num_workers=num_workers,
                            pin_memory=device.type == "cuda")
        for batch in loader:
            yield batch
        step = last
