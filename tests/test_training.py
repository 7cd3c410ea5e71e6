"""Training (Algorithm 1, variants, PC), checkpoints and resume, and the train stage's params checks.

Small sizes throughout: 32 x 32 images, batch 2, VGG at the native size.
"""
import copy
import csv
import dataclasses
import functools
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
import torch
import yaml

from conftest import PARAMS_FILE, make_variant
from pipeline import config as pipeline_config
from pipeline import dag as pipeline_dag
from pipeline import paths
from pipeline.train import plan_run
from rwgan import assets, io, kinds
from rwgan.data import InpaintingDataset
from rwgan.errors import RwganError
from rwgan.inference import load_inpainter
from rwgan.layers import seeded_init
from rwgan.losses import correlation_loss, generator_adversarial_loss, hole_label_map
from rwgan.masks import random_training_mask
from rwgan.models import InpaintingGenerator, PConvUNet, composite
from rwgan.objectives import TrainingObjective
from rwgan.training import (
    PConvWeights,
    RunOptions,
    TrainConfig,
    Trainer,
    epoch_batches,
    read_train_state,
    train,
)
from rwgan.variants import PHASE1_SWITCHES, SWITCHES, Variant, resolve_variant

SIZE = 32
needs_vgg = pytest.mark.skipif(not assets.cache_is_complete(assets.cache_dir()),
                               reason="VGG16 weights not in the cache (rwgan fetch-weights)")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tensors this small gain nothing from more threads, and one thread cannot be slowed
    down by oversubscription when the suite shares the CPU with other work."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def params():
    return pipeline_config.load("smoke", PARAMS_FILE)


def variant(params, name):
    section = params["train"]
    return resolve_variant(name, section["variants"], {k: section[k] for k in SWITCHES}, where="params.yaml: train")


def make_config(params, name="full", steps=(2, 2), seed=0, **overrides):
    fields = dict(variant=variant(params, name), image_size=SIZE, batch_size=2, phase_steps=steps,
                  learning_rates=(1e-4, 1e-4), betas=(0.5, 0.9), alpha=0.01,
                  pconv_weights=PConvWeights(**params["model"]["pconv_loss"]),
                  vgg_resize=None, seed=seed)
    fields.update(overrides)
    return TrainConfig(**fields)


def batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(2, 3, SIZE, SIZE, generator=g) * 2 - 1
    mask = torch.ones(2, 1, SIZE, SIZE)
    mask[:, :, 8:24, 4:20] = 0
    return image, mask


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed(before, module):
    """Names of the state entries (parameters and buffers) that differ from ``before``."""
    return {k for k, v in module.state_dict().items() if not torch.equal(before[k], v)}


# --- variants as data ---------------------------------------------------------------------

# What each shipped variant must change relative to the full model (Table III, Fig. 8), and nothing else.
EXPECTED_SWITCHES = {
    "full": {},
    "standard_conv": {"standard_conv": True},
    "no_correlation": {"lambda_correlation": 0.0},
    "same_network_losses": {"correlation_on": "refined"},
    "no_adversarial": {"adversarial_phase": False},
    "no_d": {"discriminators": []},
    "two_region_d": {"discriminators": [{"kind": "region_wise", "judges": ["coarse"]},
                                        {"kind": "region_wise", "judges": ["refined"]}]},
    "gpnet_region_d": {"discriminators": [{"kind": "region_wise", "judges": ["refined"]}]},
    "standard_d": {"discriminators": [{"kind": "standard", "judges": ["coarse", "refined"]}]},
    "standard_plus_region_d": {"discriminators": [{"kind": "standard", "judges": ["coarse", "refined"]},
                                                  {"kind": "region_wise", "judges": ["coarse", "refined"]}]},
    "pconv": {"model": "pconv"},
}


def test_variant_table_lists_the_papers_variants(params):
    assert sorted(params["train"]["variants"]) == sorted(EXPECTED_SWITCHES)


@pytest.mark.parametrize("name", sorted(EXPECTED_SWITCHES))
def test_each_variant_switches_exactly_what_it_names(params, name):
    full = variant(params, "full").to_dict()
    resolved = variant(params, name).to_dict()
    differences = {k: resolved[k] for k in SWITCHES if resolved[k] != full[k]}
    assert differences == EXPECTED_SWITCHES[name]
    assert full["lambda_correlation"] == 1e-5 and full["lambda_style"] == 1e-3 and full["lambda_adversarial"] == 1.0


def test_variant_round_trips_through_a_plain_dict(params):
    original = variant(params, "standard_plus_region_d")
    assert Variant.from_dict(original.to_dict()) == original


@pytest.mark.parametrize("table, base_override, message", [
    ({"full": {}}, {"lambda_correlation": -1},
     "params.yaml: train.lambda_correlation must be >= 0, got -1"),
    ({"full": {"lambda_style": -0.5}}, {}, "params.yaml: train.variants.full.lambda_style must be >= 0, got -0.5"),
    ({"full": {"style_on": "middle"}}, {}, "params.yaml: train.variants.full.style_on must be one of coarse, refined"),
    ({"full": {"lambda3": 1}}, {}, "params.yaml: train.variants.full.lambda3: unknown switch"),
    ({"full": {"discriminators": [{"kind": "patch", "judges": ["coarse"]}]}}, {},
     "params.yaml: train.variants.full.discriminators[0].kind must be one of region_wise, standard"),
    ({"full": {"discriminators": [{"kind": "standard", "judges": []}]}}, {},
     "params.yaml: train.variants.full.discriminators[0].judges must be a non-empty list"),
    ({"full": {"standard_conv": "yes"}}, {}, "params.yaml: train.variants.full.standard_conv must be true or false"),
])
def test_bad_switches_name_their_key(params, table, base_override, message):
    section = params["train"]
    base = {**{k: section[k] for k in SWITCHES}, **base_override}
    with pytest.raises(RwganError, match="^" + message.replace("[", r"\[").replace("]", r"\]")):
        resolve_variant("full", table, base, where="params.yaml: train")


def test_unknown_variant_lists_the_known_ids(params):
    with pytest.raises(RwganError, match=r"unknown variant 'fancy' \(known: full, gpnet_region_d, no_adversarial"):
        variant(params, "fancy")


# --- the trainer: what each step updates ---------------------------------------------------

@needs_vgg
@pytest.mark.parametrize("name, discriminators, rw_generator", [
    ("full", [(True, ("coarse", "refined"))], True),
    ("standard_conv", [(True, ("coarse", "refined"))], False),
    ("no_d", [], True),
    ("two_region_d", [(True, ("coarse",)), (True, ("refined",))], True),
    ("gpnet_region_d", [(True, ("refined",))], True),
    ("standard_d", [(False, ("coarse", "refined"))], True),
    ("standard_plus_region_d", [(False, ("coarse", "refined")), (True, ("coarse", "refined"))], True),
])
def test_trainer_builds_the_networks_a_variant_names(params, name, discriminators, rw_generator):
    trainer = Trainer(make_config(params, name))
    built = [(d.region_wise, spec.judges) for d, spec in zip(trainer.discriminators, trainer.variant.discriminators)]
    assert built == discriminators
    semantic = trainer.generator.semantic
    assert [semantic.rw13.region_wise, semantic.rw14.region_wise, semantic.rw15.region_wise] == [rw_generator] * 3


@needs_vgg
def test_phase1_step_updates_both_generator_stages_and_no_discriminator(params):
    trainer = Trainer(make_config(params))
    generator, discriminator = snapshot(trainer.generator), snapshot(trainer.discriminators[0])
    losses = trainer.train_step(*batch(), phase=1)
    terms = {"reconstruction", "correlation", "style"}  # lambda3 = 0: no L_adv, no D loss
    assert set(losses) == terms | {"total"} | {f"weighted_{t}" for t in terms}
    variant = trainer.variant
    assert losses["weighted_correlation"] == pytest.approx(variant.lambda_correlation * losses["correlation"])
    assert losses["weighted_style"] == pytest.approx(variant.lambda_style * losses["style"])
    assert losses["total"] == pytest.approx(sum(losses[f"weighted_{t}"] for t in terms), rel=1e-5)
    updated = changed(generator, trainer.generator)
    assert any(k.startswith("semantic.") for k in updated) and any(k.startswith("perceiving.") for k in updated)
    assert changed(discriminator, trainer.discriminators[0]) == set()


@needs_vgg
def test_phase2_generator_step_freezes_the_discriminator_and_its_step_freezes_the_generator(params):
    trainer = Trainer(make_config(params))
    image, mask = batch()
    generator, discriminator = snapshot(trainer.generator), snapshot(trainer.discriminators[0])
    losses, output = trainer.generator_step(image, mask, phase=2)
    assert "adversarial" in losses
    assert changed(generator, trainer.generator)
    assert changed(discriminator, trainer.discriminators[0]) == set()  # weights and spectral-norm vectors

    generator = snapshot(trainer.generator)
    trainer.discriminator_step(image, mask, output)
    assert changed(generator, trainer.generator) == set()
    updated = changed(discriminator, trainer.discriminators[0])
    assert any(k.endswith("parametrizations.weight.original") for k in updated)


@needs_vgg
def test_pconv_finetuning_freezes_the_encoder_batch_norms_only(params):
    trainer = Trainer(make_config(params, "pconv"))
    assert isinstance(trainer.generator, PConvUNet) and trainer.discriminators == []
    encoder_norms = {k for k in trainer.generator.state_dict() if k.startswith("encoder.") and ".norm." in k}
    before = snapshot(trainer.generator)
    trainer.train_step(*batch(), phase=1)
    assert encoder_norms & changed(before, trainer.generator)  # initial training updates them
    assert trainer.g_optimizer.param_groups[0]["lr"] == 1e-4

    before = snapshot(trainer.generator)
    trainer.train_step(*batch(1), phase=2)
    updated = changed(before, trainer.generator)
    assert not encoder_norms & {k for k in updated if not k.endswith("num_batches_tracked")}
    assert any(k.startswith("decoder.") for k in updated)


@needs_vgg
def test_loss_switches_change_the_generator_objective(params):
    image, mask = batch()
    terms = {}
    for name in ("full", "no_correlation", "same_network_losses"):
        trainer = Trainer(make_config(params, name))
        with torch.no_grad():
            terms[name], output = trainer.generator_losses(image, mask, phase=1)
        composites = {"coarse": output.coarse_composite, "refined": output.composite}
        features = {stage: trainer.objective.vgg(composites[stage])["pool2"] for stage in composites}
        target = trainer.objective.vgg(image)["pool2"]
        terms[name]["expected_coarse"] = correlation_loss(features["coarse"], target)
        terms[name]["expected_refined"] = correlation_loss(features["refined"], target)
    full, same = terms["full"], terms["same_network_losses"]
    assert torch.allclose(full["correlation"], full["expected_coarse"], rtol=1e-5)
    assert torch.allclose(same["correlation"], same["expected_refined"], rtol=1e-5)
    assert not torch.allclose(full["correlation"], full["expected_refined"], rtol=1e-3)
    assert torch.allclose(full["total"], full["reconstruction"] + 1e-5 * full["correlation"] + 1e-3 * full["style"])
    ablated = terms["no_correlation"]
    assert "correlation" not in ablated
    assert torch.allclose(ablated["total"], ablated["reconstruction"] + 1e-3 * ablated["style"])


@needs_vgg
@pytest.mark.parametrize("name, region_wise, judges", [
    ("gpnet_region_d", True, ["refined"]),
    ("standard_d", False, ["coarse", "refined"]),
])
def test_discriminator_variants_judge_the_stages_they_name(params, name, region_wise, judges):
    trainer = Trainer(make_config(params, name))
    discriminator = trainer.discriminators[0].eval()  # as in the generator step: no power iteration
    image, mask = batch()
    with torch.no_grad():
        terms, output = trainer.generator_losses(image, mask, phase=2)
        composites = {"coarse": output.coarse_composite, "refined": output.composite}
        scores = [discriminator(composites[stage], mask) for stage in judges]
    label = hole_label_map(mask, scores[0].shape[-2:]) if region_wise else torch.ones_like(scores[0][:, :1])
    assert torch.allclose(terms["adversarial"], generator_adversarial_loss(scores, label), rtol=1e-5)


def test_schedule_of_the_variants(params):
    assert make_config(params, "full", steps=(5, 3)).steps == (5, 3)
    assert make_config(params, "no_adversarial", steps=(5, 3)).steps == (5, 0)  # RED: no adversarial phase
    assert make_config(params, "no_d", steps=(5, 3)).steps == (5, 3)
    assert make_config(params, "pconv", steps=(5, 3)).steps == (5, 3)  # PC: fine-tuning


@needs_vgg
def test_same_seed_gives_identical_losses_and_another_seed_does_not(params):
    def losses(seed):
        trainer = Trainer(make_config(params, seed=seed))
        return [trainer.train_step(*batch(step), phase=phase) for step, phase in ((0, 1), (1, 2))]

    first = losses(0)
    assert losses(0) == first
    assert losses(1) != first


def test_epoch_batches_split_a_seeded_permutation_among_processes():
    whole = epoch_batches(10, seed=3, epoch=2, batch_size=4)
    assert whole.shape == (2, 4) and len(set(whole.ravel())) == 8
    np.testing.assert_array_equal(epoch_batches(10, 3, 2, 4), whole)
    assert not np.array_equal(epoch_batches(10, 3, 1, 4), whole)
    ranks = [epoch_batches(10, 3, 2, 2, rank=r, world_size=2) for r in (0, 1)]
    np.testing.assert_array_equal(np.concatenate(ranks, axis=1), whole)


# --- the loop: outputs, kill and resume ------------------------------------------------------

def write_images(folder, count=4, size=SIZE):
    rng = np.random.default_rng(0)
    for k in range(count):
        io.save_png(folder / f"img{k}.png", rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
    return folder


def dataset(folder):
    return InpaintingDataset(folder, SIZE, functools.partial(random_training_mask, size=SIZE), seed=0)


OPTIONS = RunOptions(checkpoint_every=2, sample_every=2, sample_count=2, progress=False)


class Killed(Exception):
    pass


def kill_after(step):
    def on_step(done, losses):
        if done == step:
            raise Killed
    return on_step


@pytest.fixture(scope="module")
def uninterrupted(params, tmp_path_factory):
    """4 steps (2 per phase) of the full model, never stopped; 6 images make epochs of 3 steps, so the
    checkpoint at step 2 falls mid-epoch."""
    if not assets.cache_is_complete(assets.cache_dir()):
        pytest.skip("VGG16 weights not in the cache (rwgan fetch-weights)")
    root = tmp_path_factory.mktemp("uninterrupted")
    images = write_images(root / "images", count=6)
    model = train(make_config(params), dataset(images), root / "run", params_hash="h", params={"note": "test"},
                  options=OPTIONS)
    return root, model


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_a_run_writes_its_outputs(uninterrupted):
    root, model = uninterrupted
    run = root / "run"
    assert model == run / "model.pt"
    rows = read_csv(run / "losses.csv")
    assert [(r["step"], r["phase"]) for r in rows] == [("1", "1"), ("2", "1"), ("3", "2"), ("4", "2")]
    assert rows[0]["loss_discriminator"] == "" and float(rows[3]["loss_discriminator"]) > 0
    assert all(math.isfinite(float(r["loss_total"])) for r in rows)
    assert (run / "loss_curve.png").stat().st_size > 0
    grid = io.read_image(run / "samples" / "step_4.png")
    assert grid.shape == (2 * (SIZE + 2), 4 * (SIZE + 2), 3)
    state = read_train_state(run / "last.pt")
    assert state["step"] == 4 and state["params"] == {"note": "test"}
    assert tuple(state["config"]["phase_steps"]) == (2, 2)
    inpainter = load_inpainter(model)
    assert inpainter.variant.name == "full" and inpainter.image_size == SIZE


@needs_vgg
@pytest.mark.parametrize("kill_at", [2, 3])  # at a checkpoint, and one step after it
def test_kill_and_resume_ends_where_an_uninterrupted_run_does(params, uninterrupted, tmp_path, kill_at):
    reference_root, reference_model = uninterrupted
    images = write_images(tmp_path / "images", count=6)
    with pytest.raises(Killed):
        train(make_config(params), dataset(images), tmp_path / "run", params_hash="h", params={"note": "test"},
              options=OPTIONS, on_step=kill_after(kill_at))
    assert read_train_state(tmp_path / "run" / "last.pt")["step"] == 2
    train(make_config(params), dataset(images), tmp_path / "run", params_hash="h", params={"note": "test"},
          options=OPTIONS)

    resumed = read_train_state(tmp_path / "run" / "last.pt")
    reference = read_train_state(reference_root / "run" / "last.pt")
    for part in ("generator", "discriminators", "g_optimizer", "d_optimizer"):
        assert_equal_state(resumed["trainer"][part], reference["trainer"][part])
    assert_equal_state(torch.load(tmp_path / "run" / "model.pt")["state_dict"],
                       torch.load(reference_model)["state_dict"])
    assert read_csv(tmp_path / "run" / "losses.csv") == read_csv(reference_root / "run" / "losses.csv")


def assert_equal_state(a, b):
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_equal_state(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_equal_state(x, y)
    else:
        assert a == b


@needs_vgg
def test_phase1_then_phase2_from_its_model_equals_one_run_of_both(params, uninterrupted, tmp_path):
    """The shared phase 1: a phase-2 run started from a phase-1 model.pt (weights only, fresh
    optimisers and discriminators) ends with the weights of the uninterrupted two-phase run."""
    reference_root, reference_model = uninterrupted
    images = write_images(tmp_path / "images", count=6)
    phase1 = train(make_config(params), dataset(images), tmp_path / "phase1", params_hash="h1", options=OPTIONS,
                   phases=(1,))
    assert [r["phase"] for r in read_csv(tmp_path / "phase1" / "losses.csv")] == ["1", "1"]
    start = torch.load(phase1)["state_dict"]
    final = train(make_config(params), dataset(images), tmp_path / "phase2", params_hash="h2", options=OPTIONS,
                  phases=(2,), init_generator=phase1)
    rows = read_csv(tmp_path / "phase2" / "losses.csv")
    assert [(r["step"], r["phase"]) for r in rows] == [("3", "2"), ("4", "2")]  # continues the step count
    assert rows == read_csv(reference_root / "run" / "losses.csv")[2:]
    assert_equal_state(torch.load(final)["state_dict"], torch.load(reference_model)["state_dict"])
    assert not all(torch.equal(start[k], v) for k, v in torch.load(final)["state_dict"].items())
    with pytest.raises(RwganError, match="phase-1 model not found"):
        train(make_config(params), dataset(images), tmp_path / "x", params_hash="h", options=OPTIONS,
              phases=(2,), init_generator=tmp_path / "missing.pt")


@needs_vgg
def test_phase2_starts_with_a_fresh_generator_optimiser(params):
    """The official phase 2 restores only the generator's weights: Adam's moments start afresh."""
    trainer = Trainer(make_config(params))
    image, mask = batch()
    trainer.train_step(image, mask, phase=1)
    trainer.train_step(image, mask, phase=1)
    assert trainer.g_optimizer.state_dict()["state"][0]["step"] == 2
    phase1_optimizer = trainer.g_optimizer
    trainer.train_step(image, mask, phase=2)
    assert trainer.g_optimizer is not phase1_optimizer
    assert trainer.g_optimizer.state_dict()["state"][0]["step"] == 1
    trainer.train_step(image, mask, phase=2)
    assert trainer.g_optimizer.state_dict()["state"][0]["step"] == 2  # kept within the phase


def test_red_is_the_shared_phase1_model_of_full(params):
    """RED (no_adversarial) and the Fig. 8 variants share full's phase 1; RED has no phase 2."""
    groups = pipeline_dag.resolved_variants(params)
    from rwgan.variants import shared_phase1

    shared = shared_phase1(groups)
    assert {v for v, g in shared.items() if g == "full"} == {
        "full", "no_adversarial", "no_d", "two_region_d", "gpnet_region_d", "standard_d", "standard_plus_region_d"}
    assert all(shared[v] == v for v in ("standard_conv", "no_correlation", "same_network_losses", "pconv"))
    red = pipeline_dag.variant_checkpoint(params, "embedded", "mixed", "no_adversarial")
    assert red == paths.phase1_checkpoint(params["profile"], "embedded", "mixed", "full")
    jobs = pipeline_dag.jobs_of(params)
    full_phase2 = [j for j in jobs if j.stage == "train" and j.key["variant"] == "full"][0]
    assert red in full_phase2.deps and "--phase 2" in full_phase2.cmd
    assert not [j for j in jobs if j.stage == "train" and j.key["variant"] == "no_adversarial"]
    assert len([j for j in jobs if j.stage == "pretrain"]) == 5


@needs_vgg
def test_validation_scores_a_held_out_batch(params, tmp_path):
    images = write_images(tmp_path / "images", count=6)
    held_out = {"image": batch(seed=5)[0], "mask": batch(seed=5)[1]}
    options = RunOptions(checkpoint_every=0, sample_every=0, validate_every=1, progress=False)
    train(make_config(params, steps=(2, 0)), dataset(images), tmp_path / "run", params_hash="h", options=options,
          phases=(1,), validation=held_out)
    rows = read_csv(tmp_path / "run" / "validation.csv")
    assert [r["step"] for r in rows] == ["0", "1", "2"]  # before training, then every step
    assert all(0 < float(r["hole_l1"]) < 1 and float(r["psnr"]) > 0 and 0 <= float(r["lpips"]) < 1 for r in rows)
    assert (tmp_path / "run" / "validation.png").is_file() and (tmp_path / "run" / "samples" / "val_step_2.png").is_file()
    # A workflow tool forcing the job removes its declared outputs but not last.pt: the finished run
    # resumes at its last step and must write them again, from the stored scores.
    for output in ("validation.csv", "validation.png", "model.pt"):
        (tmp_path / "run" / output).unlink()
    train(make_config(params, steps=(2, 0)), dataset(images), tmp_path / "run", params_hash="h", options=options,
          phases=(1,), validation=held_out)
    assert read_csv(tmp_path / "run" / "validation.csv") == rows
    assert (tmp_path / "run" / "validation.png").is_file() and (tmp_path / "run" / "model.pt").is_file()


@needs_vgg
def test_changed_params_start_over(params, tmp_path, caplog):
    images = write_images(tmp_path / "images")
    config = make_config(params, "no_adversarial", steps=(2, 2))
    train(config, dataset(images), tmp_path / "run", params_hash="old", options=OPTIONS)
    with caplog.at_level("INFO", logger="rwgan.training"):
        train(config, dataset(images), tmp_path / "run", params_hash="new", options=OPTIONS)
    assert "starting over" in caplog.text
    assert read_train_state(tmp_path / "run" / "last.pt")["params_hash"] == "new"
    assert len(read_csv(tmp_path / "run" / "losses.csv")) == 2  # RED: phase 1 only


class ToyOutput(NamedTuple):
    prediction: torch.Tensor
    composite: torch.Tensor


class ToyGenerator(InpaintingGenerator):
    """A one-convolution generator: a new kind's model file."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(4, 3, 3, padding=1)

    def forward(self, image, mask):
        prediction = torch.tanh(self.conv(torch.cat([image * mask, mask], dim=1)))
        return ToyOutput(prediction, composite(image, prediction, mask))


def toy_generator(*, seed=0):
    with seeded_init(seed):
        return ToyGenerator()


class ToyObjective(TrainingObjective):
    """Hole L1: a new kind's objective."""

    terms = ("hole",)

    def loss_weights(self, phase):
        return {"hole": 2.0}

    def generator_loss(self, output, image, mask, phase):
        hole = ((output.prediction - image).abs() * (1 - mask)).sum()
        return {"hole": hole, "total": 2.0 * hole}

    def preview(self, output):
        return output.prediction


@pytest.fixture
def toy_kind(monkeypatch):
    """The registry with one more kind, registered by one line; restored afterwards."""
    monkeypatch.setattr(kinds, "_KINDS", dict(kinds._KINDS))
    kinds.register_model_kind(kinds.ModelKind("toy", toy_generator, ToyObjective))
    return Variant.from_dict(make_variant("toy").to_dict())  # a registered kind is a valid ``model``


def test_a_new_kind_trains_and_inpaints_from_its_model_its_objective_and_one_registry_line(params, toy_kind, tmp_path):
    images = write_images(tmp_path / "images", count=4)
    config = make_config(params, steps=(2, 1), variant=toy_kind)
    model = train(config, dataset(images), tmp_path / "run", params_hash="h", options=OPTIONS)
    rows = read_csv(tmp_path / "run" / "losses.csv")
    assert list(rows[0]) == ["step", "phase", "loss_total", "loss_hole", "weighted_hole"]
    assert [r["phase"] for r in rows] == ["1", "1", "2"]  # no phase-2 switch: phase 2 runs
    assert all(float(r["weighted_hole"]) == 2.0 * float(r["loss_hole"]) == float(r["loss_total"]) for r in rows)
    inpainter = load_inpainter(model)
    assert isinstance(inpainter.model, ToyGenerator) and inpainter.model_kind == "toy"
    image = np.full((1, SIZE, SIZE, 3), 200, dtype=np.uint8)
    hole = np.zeros((1, SIZE, SIZE), dtype=bool)
    hole[:, 8:16, 8:16] = True
    filled = inpainter.inpaint(image, hole)
    np.testing.assert_array_equal(filled[~hole], image[~hole])
    with pytest.raises(RwganError, match="a toy model has no first stage"):
        inpainter.inpaint(image, hole, return_coarse=True)


def test_the_phase1_view_holds_what_phase_1_reads(params):
    full = make_config(params, "full", steps=(5, 3))
    view = full.phase1_view()
    assert view["phase_steps"] == (5,) and view["learning_rates"] == (1e-4,) and "alpha" not in view
    assert view["variant"] == {k: getattr(full.variant, k) for k in PHASE1_SWITCHES}
    assert set(view) == {f.name for f in dataclasses.fields(TrainConfig)} - {"alpha"}
    for other in ("no_adversarial", "standard_d", "two_region_d"):  # differ in phase 2 only
        assert make_config(params, other, steps=(5, 7), alpha=0.5).phase1_view() == view
    for other in ("standard_conv", "no_correlation", "same_network_losses", "pconv"):
        assert make_config(params, other, steps=(5, 3)).phase1_view() != view
    assert make_config(params, "full", steps=(4, 3)).phase1_view() != view


def test_fewer_images_than_a_batch_is_refused(params, tmp_path):
    images = write_images(tmp_path / "images", count=1)
    with pytest.raises(RwganError, match="1 images, fewer than one batch of 2"):
        train(make_config(params), dataset(images), tmp_path / "run", params_hash="h", options=OPTIONS)


# --- the stage: params checked before training ----------------------------------------------

@pytest.fixture
def stage_params(params, tmp_path, monkeypatch):
    """The smoke profile at 32 px, run from a scratch folder holding its training images."""
    monkeypatch.chdir(tmp_path)
    write_images(tmp_path / "work" / "smoke" / "data" / "embedded" / "train", count=5)
    resolved = copy.deepcopy(params)
    resolved["image_size"] = SIZE
    return resolved


def test_plan_of_the_smoke_profile(stage_params):
    plan = plan_run(stage_params, "embedded", "mixed", "full")
    assert plan.config.phase_steps == (2, 2)  # capped by max_steps_phase1/2 (2 steps per epoch of 5 images)
    assert plan.config.learning_rates == (1e-4, 1e-4) and plan.config.betas == (0.5, 0.9)
    assert plan.run_dir == Path("work/smoke/runs/embedded/mixed/phase1/full") and plan.phases == (1,)
    assert plan.params["variant"] == {} and plan.params["mask_type"] == "mixed"
    assert plan.config.vgg_weights == "torchvision" and plan.config.vgg_feature_scale == 57.6
    pconv = plan_run(stage_params, "embedded", "mixed", "pconv").config
    assert pconv.learning_rates == (2e-4, 5e-5) and pconv.betas == (0.9, 0.999)
    assert plan_run(stage_params, "embedded", "mixed", "full").params_hash == plan.params_hash
    stage_params["train"]["lambda_style"] = 0.5
    assert plan_run(stage_params, "embedded", "mixed", "full").params_hash != plan.params_hash
    stage_params["train"]["lambda_style"] = 1e-3
    stage_params["train"]["alpha"] = 0.001  # a phase-2 value: phase 1 is the same run
    assert plan_run(stage_params, "embedded", "mixed", "full").params_hash == plan.params_hash


def test_plan_steps_come_from_epochs_without_caps(stage_params):
    stage_params["train"].update(max_steps_phase1=None, max_steps_phase2=None, epochs_phase1=3, epochs_phase2=1)
    assert plan_run(stage_params, "embedded", "mixed", "full").config.phase_steps == (6, 2)


@pytest.mark.parametrize("edit, message", [
    (lambda p: p["train"].update(lambda_correlation=-1), "train.lambda_correlation: -1 is less than the minimum of 0"),
    (lambda p: p["train"]["variants"]["full"].update(lambda_style=-2),
     "train.variants.full.lambda_style: -2 is less than the minimum of 0"),
    (lambda p: p.update(image_size=8), "image_size: 8 is less than the minimum of 16"),
    (lambda p: p["train"].update(batch_size=0), "train.batch_size: 0 is less than the minimum of 1"),
    (lambda p: p["train"].update(lr=0), "train.lr: 0 is less than or equal to the minimum of 0"),
    (lambda p: p["train"].update(betas=[0.5]), r"train.betas: \[0.5\] is too short"),
    (lambda p: p["train"].update(amp="fp8"), "train.amp: 'fp8' is not one of"),
    (lambda p: p["train"].pop("alpha"), "train.alpha: missing"),
    (lambda p: p["train"]["pconv"].update(epochs=-1), "train.pconv.epochs: -1 is less than the minimum of 0"),
    (lambda p: p["model"].update(vgg_resize=3), "model.vgg_resize: 3 is less than the minimum of 16"),
    (lambda p: p["model"]["pconv_loss"].update(hole=-6), "model.pconv_loss.hole: -6 is less than the minimum of 0"),
    (lambda p: p["train"].update(mask_max_ratio=1.5), "train.mask_max_ratio: 1.5 is greater than the maximum of 1"),
    (lambda p: p["train"].update(mask_types=["irregular"]), "train.mask_types.0: 'irregular' is not one of"),
    (lambda p: p["train"].update(lamda_style=0), "train.lamda_style: unknown key"),
])
def test_bad_params_values_are_named_by_the_schema(stage_params, edit, message):
    edit(stage_params)
    with pytest.raises(RwganError, match="^params.yaml: " + message):
        pipeline_config.check(stage_params)


@pytest.mark.parametrize("edit, message", [
    (lambda p: p.update(image_size=30), "params.yaml: image_size must be a multiple of 4"),
    (lambda p: p["train"].update(batch_size=6), r"params.yaml: train.batch_size \(6 x 1 processes\) must not exceed"),
])
def test_bad_params_stop_before_training_naming_the_key(stage_params, edit, message):
    edit(stage_params)
    with pytest.raises(RwganError, match="^" + message):
        plan_run(stage_params, "embedded", "mixed", "full")


def test_pconv_needs_two_images_per_batch(stage_params):
    stage_params["train"]["batch_size"] = 1
    plan_run(stage_params, "embedded", "mixed", "full")
    with pytest.raises(RwganError, match="params.yaml: train.batch_size must be >= 2 for pconv"):
        plan_run(stage_params, "embedded", "mixed", "pconv")


def test_unknown_variant_and_missing_dataset_are_named(stage_params):
    with pytest.raises(RwganError, match="params.yaml: train.variants: unknown variant 'best'"):
        plan_run(stage_params, "embedded", "mixed", "best")
    with pytest.raises(RwganError, match=r"work/smoke/data/celebahq/train: no training images \(expected from "
                                         r"`python -m pipeline.prepare --profile smoke --dataset celebahq`\)"):
        plan_run(stage_params, "celebahq", "mixed", "full")
    with pytest.raises(RwganError, match="--mask-type: expected one of mixed, contiguous, discontiguous"):
        plan_run(stage_params, "embedded", "random", "full")


def test_every_shipped_profile_and_variant_plans_cleanly(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for profile in yaml.safe_load(PARAMS_FILE.read_text())["profiles"]:
        params = pipeline_config.load(profile, PARAMS_FILE)
        dataset_name = params["datasets"][0]
        write_images(Path(f"work/{profile}/data/{dataset_name}/train"), count=params["train"]["batch_size"],
                     size=params["image_size"])
        for name in params["train"]["variants"]:
            group = pipeline_dag.phase1_group(params, name)
            if group == name:
                plan = plan_run(params, dataset_name, "mixed", name, phase=1)
                assert plan.config.variant.name == name and plan.config.image_size == params["image_size"]
