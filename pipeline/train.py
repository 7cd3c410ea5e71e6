"""Stage: train one phase of one (dataset, training mask type, variant) (Algorithm 1; PC baseline).

    python -m pipeline.train --profile P --dataset D --mask-type T --variant V --phase 1|2
    torchrun --standalone --nproc_per_node=G -m pipeline.train ...   # G GPUs, same outputs

Phase 1 (reconstruction only; PC's initial training) is shared by the variants whose
phase-1 switches agree (:func:`rwgan.variants.shared_phase1`): ``--phase 1 --variant V``
takes the id of the first of them (``full`` for full, RED and the Fig. 8 variants) and
writes ``work/<P>/runs/<D>/<T>/phase1/<V>/``; RED (``no_adversarial``) *is* that model.
``--phase 2 --variant V`` starts from V's phase-1 ``model.pt`` with fresh optimisers (the
official code) and writes ``work/<P>/runs/<D>/<T>/<V>/``.

Reads ``work/<P>/data/<D>/train/*.png`` (the prepare stage) and params.yaml's ``seed``,
``image_size``, ``model`` and ``train`` (the variant from ``train.variants``).  The mask
type T picks the training mask sampler (:func:`rwgan.masks.random_training_mask`, hole
ratio up to ``train.mask_max_ratio``).

Each run folder holds ``model.pt`` (what evaluation reads), ``last.pt`` (the resumable
state), ``losses.csv``, ``loss_curve.png``, ``samples/step_<n>.png`` and, with
``train.validation.images`` > 0, ``validation.csv`` / ``validation.png`` /
``samples/val_step_<n>.png``: the first ``images`` test images of D, each with a fixed
training-type mask drawn from (seed, index), scored every ``train.validation.every``
steps.  The log goes to ``logs/<P>/{pretrain,train}-<D>-<T>-<V>.log``.

An interrupted run started again resumes from ``last.pt`` and ends where an
uninterrupted run would; when the params (or the prepared data) changed since, it starts
over.  Every params value is checked before training starts (its type and range by the schema
when params.yaml is loaded, :func:`pipeline.config.check`); an error names its key.

Steps per phase: ``epochs * (train images // (batch_size * processes))``, capped by
``max_steps_phase1`` / ``max_steps_phase2`` (PC: ``pconv.epochs`` / ``finetune_epochs``,
capped by ``pconv.max_steps`` / ``max_steps_finetune``).
"""
from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from pipeline import config, dag, paths
from pipeline.cli_common import run, stage_logger, stage_parser
from rwgan import io
from rwgan.data import InpaintingDataset, image_to_tensor, mask_to_tensor
from rwgan.errors import RwganError
from rwgan.kinds import get_model_kind
from rwgan.layers import SIZE_MULTIPLE
from rwgan.masks import random_training_mask
from rwgan.training import PConvWeights, RunOptions, TrainConfig, train
from rwgan.variants import SWITCHES, phase2_runs, resolve_variant, shared_phase1

MASK_TYPES = ("mixed", "contiguous", "discontiguous")


@dataclass(frozen=True)
class RunPlan:
    """A validated training run: what :func:`rwgan.training.train` gets, and where."""

    config: TrainConfig
    options: RunOptions
    dataset: InpaintingDataset
    run_dir: Path
    params: dict  # the params that made the run (recorded in its checkpoints)
    params_hash: str
    phases: tuple[int, ...]
    init_generator: Path | None  # phase 2: the phase-1 model.pt it starts from
    validation: dict | None  # the held-out {"image", "mask"} batch


def held_out_batch(folder: Path, count: int, size: int, mask_type: str, max_ratio: float, seed: int) -> dict | None:
    """The first ``count`` test images of ``folder`` (by name), each with a training-type
    mask drawn from (seed, "validation", index): the same batch for every run of a profile."""
    files = io.list_images(folder)[:count] if count and folder.is_dir() else []
    if not files:
        return None
    holes = [random_training_mask(np.random.default_rng(np.random.SeedSequence([seed, 0x5A11D, k])), size,
                                  kind=mask_type, max_ratio=max_ratio) for k in range(len(files))]
    images = np.stack([io.read_image(path, size) for path in files])
    return {"image": image_to_tensor(images), "mask": mask_to_tensor(np.stack(holes))}


def schedule(section: dict, model: str) -> tuple[tuple, tuple, tuple[float, float], list]:
    """(epochs per phase, step caps per phase, learning rates per phase, Adam betas) of a
    ``model`` run of params.yaml's ``train`` ``section``: the section's own, unless the kind
    has a schedule section of its own (PC's initial training and fine-tuning, ``train.pconv``)."""
    lr, pconv = float(section["lr"]), section["pconv"]
    own = {
        "pconv": ((pconv["epochs"], pconv["finetune_epochs"]), (pconv["max_steps"], pconv["max_steps_finetune"]),
                  (float(pconv["lr"]), float(pconv["finetune_lr"])), pconv["betas"]),
    }
    return own.get(model, ((section["epochs_phase1"], section["epochs_phase2"]),
                           (section["max_steps_phase1"], section["max_steps_phase2"]), (lr, lr), section["betas"]))


def scheduled_steps(section: dict, model: str, train_images: int, processes: int = 1) -> tuple[int, int]:
    """Optimiser steps of phase 1 and phase 2 of a ``model`` run of params.yaml's ``train``
    ``section`` on ``train_images`` images (see the module docstring)."""
    epochs, caps, _, _ = schedule(section, model)
    steps_per_epoch = train_images // (section["batch_size"] * processes)
    return tuple(e * steps_per_epoch if cap is None else min(cap, e * steps_per_epoch) for e, cap in zip(epochs, caps))


def plan_run(params: dict, dataset: str, mask_type: str, variant_id: str, phase: int = 1) -> RunPlan:
    """Validate every value the run reads and build its config; :class:`RwganError` names
    the params key (or the missing input) of the first problem, before any training."""
    if mask_type not in MASK_TYPES:
        raise RwganError(f"--mask-type: expected one of {', '.join(MASK_TYPES)}, got {mask_type!r}")
    if phase not in (1, 2):
        raise RwganError(f"--phase: expected 1 or 2, got {phase!r}")
    # Types and ranges are the schema's (pipeline.config.check); what follows are the checks
    # across values that it cannot state.
    image_size, seed, model, section = params["image_size"], params["seed"], params["model"], params["train"]
    if image_size % SIZE_MULTIPLE:
        raise RwganError(f"params.yaml: image_size must be a multiple of {SIZE_MULTIPLE} (the networks halve "
                         f"the resolution twice), got {image_size}")
    variant = resolve_variant(variant_id, section["variants"], {k: section[k] for k in SWITCHES},
                              where="params.yaml: train")
    group = shared_phase1(dag.resolved_variants(params))[variant_id]
    if phase == 1 and group != variant_id:
        raise RwganError(f"--variant {variant_id} --phase 1: {variant_id} shares the phase 1 of {group} "
                         f"(run --variant {group} --phase 1)")
    if phase == 2 and not phase2_runs(variant):
        raise RwganError(f"--variant {variant_id} --phase 2: {variant_id} has no phase 2 (its model is the phase 1 "
                         f"of {group})")
    vgg_weights = model["vgg_weights"]
    feature_scale = float(model["torchvision_feature_scale"]) if vgg_weights == "torchvision" else 1.0
    pconv_weights = PConvWeights(**{f.name: float(model["pconv_loss"][f.name]) for f in fields(PConvWeights)})
    batch_size = section["batch_size"]
    objective = get_model_kind(variant.model).objective_class
    if batch_size < objective.min_batch_size:
        raise RwganError(f"params.yaml: train.batch_size must be >= {objective.min_batch_size} for {variant_id} "
                         f"({objective.min_batch_reason}), got {batch_size}")
    mask_max_ratio = float(section["mask_max_ratio"])
    _, _, learning_rates, betas = schedule(section, variant.model)
    betas = tuple(float(b) for b in betas)
    options = RunOptions(
        checkpoint_every=section["checkpoint_every"], sample_every=section["sample_every"],
        sample_count=section["sample_count"], num_workers=section["num_workers"], device=section["device"],
        validate_every=section["validation"]["every"],
    )
    amp, channels_last, deterministic = section["amp"], section["channels_last"], section["deterministic"]
    alpha, vgg_resize = float(section["alpha"]), model["vgg_resize"]

    folder = Path(paths.data_dir(params["profile"], dataset)) / "train"
    if not folder.is_dir() or not io.list_images(folder):
        make = dag.command(params, "prepare", dataset=dataset)
        raise RwganError(f"{folder}: no training images (expected from `{make}`)")
    sampler = functools.partial(random_training_mask, size=image_size, kind=mask_type, max_ratio=mask_max_ratio)
    images = InpaintingDataset(folder, image_size, sampler, seed=seed)
    processes = int(os.environ.get("WORLD_SIZE", "1"))
    if len(images) < batch_size * processes:
        raise RwganError(f"params.yaml: train.batch_size ({batch_size} x {processes} processes) must not exceed "
                         f"the {len(images)} training images in {folder}")
    phase_steps = scheduled_steps(section, variant.model, len(images), processes)

    train_config = TrainConfig(
        variant=variant, image_size=image_size, batch_size=batch_size, phase_steps=phase_steps,
        learning_rates=learning_rates, betas=betas, alpha=alpha, pconv_weights=pconv_weights,
        vgg_resize=vgg_resize, seed=seed, vgg_weights=vgg_weights, vgg_feature_scale=feature_scale, amp=amp,
        channels_last=channels_last, deterministic=deterministic,
    )
    manifest = folder.parent / "manifest.csv"
    recorded = {**dag.train_values(params, variant_id), "dataset": dataset, "mask_type": mask_type, "phase": phase}
    validation_count = section["validation"]["images"]
    validation = held_out_batch(folder.parent / "test", validation_count, image_size, mask_type, mask_max_ratio, seed)
    fingerprint = {
        "config": train_config.to_dict(), "dataset": dataset, "mask_type": mask_type,
        "mask_max_ratio": mask_max_ratio, "processes": processes, "validation": validation_count,
        "data": io.sha256_file(manifest) if manifest.is_file() else [p.name for p in images.images],
    }
    profile = params["profile"]
    if phase == 1:  # only what shapes phase 1: variants sharing it get one hash
        fingerprint["config"] = train_config.phase1_view()
        run_dir, init = Path(paths.phase1_dir(profile, dataset, mask_type, variant_id)), None
    else:
        init = Path(paths.phase1_checkpoint(profile, dataset, mask_type, group))
        if not init.is_file():
            make = dag.command(params, "train", dataset=dataset, mask_type=mask_type, variant=group, phase="1")
            raise RwganError(f"{init}: phase-1 model not found (expected from `{make}`)")
        fingerprint["phase1"] = io.sha256_file(init)
        run_dir = Path(paths.run_dir(profile, dataset, mask_type, variant_id))
    params_hash = io.sha256_json(fingerprint)
    return RunPlan(train_config, options, images, run_dir, recorded, params_hash, (phase,), init, validation)


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, help="a dataset prepared by the prepare stage")
    parser.add_argument("--mask-type", required=True, choices=MASK_TYPES, help="training mask sampler")
    parser.add_argument("--variant", required=True, help="an id of params.yaml train.variants")
    parser.add_argument("--phase", type=int, default=1, choices=(1, 2),
                        help="1: the (shared) reconstruction phase; 2: the variant's adversarial phase / fine-tuning")
    args = parser.parse_args(argv)
    params = config.load(args.profile)
    rank = int(os.environ.get("RANK", "0"))
    name = f"{args.dataset}-{args.mask_type}-{args.variant}"
    stage = "pretrain" if args.phase == 1 else "train"
    log = stage_logger(params["profile"], stage, name) if rank == 0 else logging.getLogger(f"{__name__}.rank{rank}")
    plan = plan_run(params, args.dataset, args.mask_type, args.variant, args.phase)
    train(plan.config, plan.dataset, plan.run_dir, params_hash=plan.params_hash, params=plan.params,
          options=plan.options, phases=plan.phases, init_generator=plan.init_generator, validation=plan.validation,
          log=log)


if __name__ == "__main__":
    run(main)
