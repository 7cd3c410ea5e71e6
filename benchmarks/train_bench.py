"""Training speed: one step of each phase of Algorithm 1 for the full model (images/s).

Phase 1 is a generator update on L_r + lambda1 L_c + lambda2 L_s; phase 2 adds the
adversarial term and the discriminator update (:class:`rwgan.training.Trainer`).  The
hyper-parameters are params.yaml's paper profile (VGG at 224, Adam, the paper's
lambdas); the batch is ``cpu_train_batch`` on CPU and ``gpu_train_batch`` on CUDA,
where training runs in bf16 autocast with channels-last memory (the pipeline's GPU
settings).  Inputs are seeded random images with training masks: the content does not
change the cost.
"""
from __future__ import annotations

import functools
from pathlib import Path

import torch

from benchmarks.harness import Settings, measure
from benchmarks.inference_bench import random_inputs
from pipeline import config
from rwgan.training import PConvWeights, Trainer, TrainConfig
from rwgan.variants import SWITCHES, resolve_variant

PARAMS_FILE = Path(__file__).resolve().parents[1] / "params.yaml"
PHASES = (1, 2)


def trainer(image_size: int, batch_size: int, device: torch.device, amp: str = "none", channels_last: bool = False,
            profile: str = "paper", params_file: Path = PARAMS_FILE) -> Trainer:
    """A :class:`Trainer` of the ``full`` variant with ``profile``'s hyper-parameters, in
    ``amp`` (:data:`rwgan.device.AMP_CHOICES`) and, with ``channels_last``, channels-last memory."""
    params = config.load(profile, path=params_file)
    section, model = params["train"], params["model"]
    variant = resolve_variant("full", section["variants"], {key: section[key] for key in SWITCHES},
                              where="params.yaml: train")
    train_config = TrainConfig(
        variant=variant, image_size=image_size, batch_size=batch_size, phase_steps=(1, 1),
        learning_rates=(section["lr"], section["lr"]), betas=tuple(section["betas"]), alpha=section["alpha"],
        pconv_weights=PConvWeights(**model["pconv_loss"]), vgg_resize=model["vgg_resize"], seed=params["seed"],
        amp=amp, channels_last=channels_last,
    )
    return Trainer(train_config, device)


def run(settings: Settings, device: torch.device) -> dict:
    """Seconds per step and images/s of each phase on ``device``."""
    on_cuda = device.type == "cuda"
    batch = settings.gpu_train_batch if on_cuda else settings.cpu_train_batch
    steps = trainer(settings.image_size, batch, device, amp="bf16" if on_cuda else "none", channels_last=on_cuda)
    image, mask = random_inputs(batch, settings.image_size, device)
    results = {"device": device.type, "image_size": settings.image_size, "batch": batch,
               "precision": "bf16 autocast, channels-last" if on_cuda else "fp32"}
    for phase in PHASES:
        timing = measure(functools.partial(steps.train_step, image, mask, phase), settings.warmup,
                         settings.train_repeats, device)
        results[f"phase{phase}"] = {"s_per_step": timing.median_s, "images_per_s": batch / timing.median_s,
                                    "timing": timing.to_dict()}
    return results
