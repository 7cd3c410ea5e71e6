"""Stage: train one (dataset, training mask type, variant) run (Algorithm 1; PC baseline).

    python -m pipeline.train --profile P --dataset D --mask-type T --variant V
    torchrun --standalone --nproc_per_node=G -m pipeline.train ...   # G GPUs, same outputs

Reads ``work/<P>/data/<D>/train/*.png`` (the prepare stage) and params.yaml's ``seed``,
``image_size``, ``model`` and ``train`` (the variant from ``train.variants``).  The mask
type T picks the training mask sampler (:func:`rwgan.masks.random_training_mask`, hole
ratio up to ``train.mask_max_ratio``).

Writes ``work/<P>/runs/<D>/<T>/<V>/``: ``model.pt`` (what evaluation reads),
``last.pt`` (the resumable state), ``losses.csv``, ``loss_curve.png`` and
``samples/step_<n>.png``; the log goes to ``logs/<P>/train-<D>-<T>-<V>.log``.

An interrupted run started again resumes from ``last.pt`` and ends where an
uninterrupted run would; when the params (or the prepared data) changed since, it starts
over.  Every params value is checked before training starts; an error names its key.

Steps per phase: ``epochs * (train images // (batch_size * processes))``, capped by
``max_steps_phase1`` / ``max_steps_phase2`` (PC: ``pconv.epochs`` / ``finetune_epochs``,
capped by ``pconv.max_steps`` / ``max_steps_finetune``).
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from dataclasses import dataclass, fields
from numbers import Real
from pathlib import Path

from pipeline import config, dag
from pipeline.cli_common import run, stage_logger, stage_parser
from rwgan import io
from rwgan.data import InpaintingDataset
from rwgan.errors import RwganError
from rwgan.layers import SIZE_MULTIPLE
from rwgan.masks import random_training_mask
from rwgan.training import PConvWeights, RunOptions, TrainConfig, train
from rwgan.variants import SWITCHES, resolve_variant

MASK_TYPES = ("mixed", "contiguous", "discontiguous")
MIN_IMAGE_SIZE = 16  # as pipeline/params.schema.yaml


class _Section:
    """Typed reads of one params.yaml mapping; every failure names ``<name>.<key>``."""

    def __init__(self, values, name: str = ""):
        if not isinstance(values, dict):
            raise RwganError(f"params.yaml: {name} must be a mapping, got {values!r}")
        self.values, self.name = values, name

    def key(self, key: str) -> str:
        """The dotted params key, e.g. ``train.batch_size``."""
        return f"{self.name}.{key}" if self.name else key

    def get(self, key: str):
        if key not in self.values:
            raise RwganError(f"params.yaml: {self.key(key)} is missing")
        return self.values[key]

    def section(self, key: str) -> "_Section":
        return _Section(self.get(key), self.key(key))

    def fail(self, key: str, expected: str) -> RwganError:
        return RwganError(f"params.yaml: {self.key(key)} must be {expected}, got {self.values.get(key)!r}")

    def integer(self, key: str, minimum: int, optional: bool = False) -> int | None:
        value = self.get(key)
        if optional and value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(key, f"an integer >= {minimum}" + (" or null" if optional else ""))
        return value

    def number(self, key: str, positive: bool = False, maximum: float | None = None) -> float:
        value = self.get(key)
        if (isinstance(value, bool) or not isinstance(value, Real) or not (value > 0 if positive else value >= 0)
                or (maximum is not None and value > maximum)):
            bound = "> 0" if positive else ">= 0"
            raise self.fail(key, bound + (f" and <= {maximum}" if maximum is not None else ""))
        return float(value)

    def betas(self, key: str) -> tuple[float, float]:
        value = self.get(key)
        if (not isinstance(value, list) or len(value) != 2
                or not all(isinstance(b, Real) and not isinstance(b, bool) and 0 <= b < 1 for b in value)):
            raise self.fail(key, "two numbers in [0, 1)")
        return float(value[0]), float(value[1])

    def flag(self, key: str) -> bool:
        value = self.get(key)
        if not isinstance(value, bool):
            raise self.fail(key, "true or false")
        return value

    def choice(self, key: str, options: tuple[str, ...]) -> str:
        value = self.get(key)
        if value not in options:
            raise self.fail(key, f"one of {', '.join(options)}")
        return value


@dataclass(frozen=True)
class RunPlan:
    """A validated training run: what :func:`rwgan.training.train` gets, and where."""

    config: TrainConfig
    options: RunOptions
    dataset: InpaintingDataset
    run_dir: Path
    params: dict  # the params that made the run (recorded in its checkpoints)
    params_hash: str


def plan_run(params: dict, dataset: str, mask_type: str, variant_id: str) -> RunPlan:
    """Validate every value the run reads and build its config; :class:`RwganError` names
    the params key (or the missing input) of the first problem, before any training."""
    if mask_type not in MASK_TYPES:
        raise RwganError(f"--mask-type: expected one of {', '.join(MASK_TYPES)}, got {mask_type!r}")
    root = _Section(params)
    image_size = root.integer("image_size", MIN_IMAGE_SIZE)
    if image_size % SIZE_MULTIPLE:
        raise RwganError(f"params.yaml: image_size must be a multiple of {SIZE_MULTIPLE} (the networks halve "
                         f"the resolution twice), got {image_size}")
    seed = root.integer("seed", 0)
    model, section = root.section("model"), root.section("train")
    variant = resolve_variant(variant_id, section.get("variants"), {k: section.get(k) for k in SWITCHES},
                              where="params.yaml: train")
    pconv = section.section("pconv")
    vgg_resize = model.integer("vgg_resize", MIN_IMAGE_SIZE, optional=True)
    weights = model.section("pconv_loss")
    pconv_weights = PConvWeights(**{field.name: weights.number(field.name) for field in fields(PConvWeights)})
    batch_size = section.integer("batch_size", 2 if variant.model == "pconv" else 1)  # PC: batch norm at 1 x 1
    mask_max_ratio = section.number("mask_max_ratio", positive=True, maximum=1.0)
    mask_types = section.get("mask_types")
    if not isinstance(mask_types, list) or not mask_types or any(t not in MASK_TYPES for t in mask_types):
        raise section.fail("mask_types", f"a non-empty list among {', '.join(MASK_TYPES)}")
    lr = section.number("lr", positive=True)
    schedules = {  # (epochs per phase, step caps per phase, learning rates, betas); both checked
        "region_wise": ((section.integer("epochs_phase1", 0), section.integer("epochs_phase2", 0)),
                        (section.integer("max_steps_phase1", 0, optional=True),
                         section.integer("max_steps_phase2", 0, optional=True)),
                        (lr, lr), section.betas("betas")),
        "pconv": ((pconv.integer("epochs", 0), pconv.integer("finetune_epochs", 0)),
                  (pconv.integer("max_steps", 0, optional=True), pconv.integer("max_steps_finetune", 0, optional=True)),
                  (pconv.number("lr", positive=True), pconv.number("finetune_lr", positive=True)),
                  pconv.betas("betas")),
    }
    epochs, caps, learning_rates, betas = schedules[variant.model]
    options = RunOptions(
        checkpoint_every=section.integer("checkpoint_every", 0),
        sample_every=section.integer("sample_every", 0),
        sample_count=section.integer("sample_count", 1),
        num_workers=section.integer("num_workers", 0),
        device=_device(section),
    )
    amp = section.choice("amp", ("bf16", "none"))
    channels_last, deterministic = section.flag("channels_last"), section.flag("deterministic")
    alpha = section.number("alpha")

    folder = Path(dag.data_dir(params["profile"], dataset)) / "train"
    if not folder.is_dir() or not io.list_images(folder):
        make = dag.command(params, "prepare", dataset=dataset)
        raise RwganError(f"{folder}: no training images (expected from `{make}`)")
    sampler = functools.partial(random_training_mask, size=image_size, kind=mask_type, max_ratio=mask_max_ratio)
    images = InpaintingDataset(folder, image_size, sampler, seed=seed)
    processes = int(os.environ.get("WORLD_SIZE", "1"))
    steps_per_epoch = len(images) // (batch_size * processes)
    if steps_per_epoch == 0:
        raise RwganError(f"params.yaml: train.batch_size ({batch_size} x {processes} processes) must not exceed "
                         f"the {len(images)} training images in {folder}")
    phase_steps = tuple(e * steps_per_epoch if cap is None else min(cap, e * steps_per_epoch)
                        for e, cap in zip(epochs, caps))

    train_config = TrainConfig(
        variant=variant, image_size=image_size, batch_size=batch_size, phase_steps=phase_steps,
        learning_rates=learning_rates, betas=betas, alpha=alpha, pconv_weights=pconv_weights,
        vgg_resize=vgg_resize, seed=seed, amp=amp, channels_last=channels_last, deterministic=deterministic,
    )
    manifest = folder.parent / "manifest.csv"
    recorded = {**dag.train_values(params, variant_id), "dataset": dataset, "mask_type": mask_type}
    fingerprint = {
        "config": train_config.to_dict(), "dataset": dataset, "mask_type": mask_type,
        "mask_max_ratio": mask_max_ratio, "processes": processes,
        "data": io.sha256_file(manifest) if manifest.is_file() else [p.name for p in images.images],
    }
    params_hash = hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()
    run_dir = Path(dag.run_dir(params["profile"], dataset, mask_type, variant_id))
    return RunPlan(train_config, options, images, run_dir, recorded, params_hash)


def _device(section: _Section) -> str:
    value = section.get("device")
    if not isinstance(value, str) or not (value in ("auto", "cpu", "cuda") or value.startswith("cuda:")):
        raise section.fail("device", "auto, cpu, cuda or cuda:N")
    return value


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, help="a dataset prepared by the prepare stage")
    parser.add_argument("--mask-type", required=True, choices=MASK_TYPES, help="training mask sampler")
    parser.add_argument("--variant", required=True, help="an id of params.yaml train.variants")
    args = parser.parse_args(argv)
    params = config.load(args.profile)
    rank = int(os.environ.get("RANK", "0"))
    name = f"{args.dataset}-{args.mask_type}-{args.variant}"
    log = stage_logger(params["profile"], "train", name) if rank == 0 else logging.getLogger(f"{__name__}.rank{rank}")
    plan = plan_run(params, args.dataset, args.mask_type, args.variant)
    train(plan.config, plan.dataset, plan.run_dir, params_hash=plan.params_hash, params=plan.params,
          options=plan.options, log=log)


if __name__ == "__main__":
    run(main)
