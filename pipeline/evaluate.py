"""Stage: score one method on one dataset's fixed test mask sets (paper Sec. IV, Tables I-IV).

    python -m pipeline.evaluate --profile P --dataset D --method M [--resume | --rescore]

Methods (:mod:`pipeline.methods`): the trained variants (the ids of ``train.variants``,
``pconv`` included), ``ic1`` (the first-stage composite I_c1 of the ``full`` checkpoint,
Table III), the classical ``telea``, ``navier_stokes``, ``biharmonic`` (no checkpoint),
``authors_weights`` (the model.pt of each mask set in the dataset's folder of
``evaluate.authors_weights``) and the external methods of ``evaluate.external`` (a folder of
outputs per dataset, checked by :func:`rwgan.external.checked_outputs`; their known pixels
are pasted back if the declaration says ``composite: true``).  Every method's composites are
scored by the same code (:func:`rwgan.evaluation.score_composites`).

Sets: every method is scored on ``evaluate.sets`` (contiguous, discontiguous: Tables I-III);
a set of ``evaluate.extra_sets`` (regular for Fig. 9, sweep for Fig. 10) only for the
methods listed under it.  Within each bin, mask k (by file name) is paired with test
image k mod n (by file name): :func:`rwgan.evaluation.paired_images`.

Checkpoint: a set of mask type T is inpainted by the variant's model.pt (``runs/<D>/<T>/<variant>/``,
or for a variant without phase 2, RED, its shared ``runs/<D>/<T>/phase1/<group>/``) when
``train.mask_types`` lists T, otherwise by the ``mixed`` run (regular and sweep masks
always use it, as the paper's models trained on irregular masks, Sec. IV-D3).

Writes ``work/<P>/eval/<D>/<M>/``:

- ``composites/<set>/<bin>/<mask stem>.png``: the final composites, uint8 PNG;
- ``per_image.csv``: protocol, set, bin, mask, image, L1, L2, PSNR, SSIM, LPIPS: a row per
  pair under each metric protocol, ``rwgan`` and the paper's ``edgeconnect``
  (:data:`rwgan.metrics.PROTOCOLS`; LPIPS under ``rwgan`` only), values as computed;
- ``summary.csv``: protocol, dataset, method, mask_type, bin, metric, value, n, ci95_low,
  ci95_high, reliable (long form, :func:`rwgan.evaluation.summarize`: per bin each
  per-image mean with its seeded bootstrap 95% interval, FID and KID flagged unreliable
  below :data:`rwgan.uncertainty.MIN_IMAGES`; metric names and scales are
  :data:`rwgan.metrics.METRIC_TABLE`'s; a metric not computed has no row);
- ``timing.json``: median seconds per image at batch 1 (inference on in-memory arrays,
  no file I/O), device, hardware, parameter count, images timed (Table IV); all null, with
  0 images timed, for an external method (its outputs were made elsewhere).

A run starts by deleting the method's previous outputs.  ``--resume`` instead keeps every
composite newer than its checkpoint, mask and test image (to finish an interrupted run:
it cannot see code changes, so the DAG tools never pass it).  ``--rescore`` only
recomputes the two CSVs from the saved composites (no model, no timing; timing.json is
kept), e.g. to score an existing evaluation under a changed metric code.
"""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

from pipeline import config, dag, paths
from pipeline.cli_common import STAGE_LOGGER, run, stage_logger, stage_parser
from pipeline.methods import (
    AUTHORS_WEIGHTS,
    authors_checkpoint,
    checkpoint_variant,
    evaluable,
    exported_sets,
    external,
    kind,
    method_sets,
)
from rwgan import io
from rwgan.errors import RwganError
from rwgan.evaluation import (
    Inpaint,
    Pair,
    classical_inpainter,
    composite_path,
    evaluation_pairs,
    generate_composites,
    hardware_name,
    score_composites,
    summarize,
    time_inference,
)
from rwgan.device import resolve_device
from rwgan.external import checked_outputs, pair_id, save_composites
from rwgan.inference import count_parameters, load_inpainter

def checkpoint_mask_type(params: dict, set_name: str) -> str:
    """The training mask type whose run inpaints ``set_name``: the set's own type if trained, else ``mixed``."""
    trained = dag.train_mask_types(params)
    for mask_type in (set_name, "mixed"):
        if mask_type in trained:
            return mask_type
    raise RwganError(
        f"params.yaml: train.mask_types lists neither {set_name!r} nor 'mixed', so no run can inpaint "
        f"the {set_name!r} masks (got {trained})"
    )


def checkpoint_path(params: dict, dataset: str, method: str, set_name: str) -> Path:
    """The model.pt that inpaints ``set_name`` for a trained ``method`` (``ic1`` reads ``full``'s)
    or for the authors' weights."""
    if method == AUTHORS_WEIGHTS:
        return authors_checkpoint(params, dataset, set_name)
    variant = checkpoint_variant(params, method)
    mask_type = checkpoint_mask_type(params, set_name)
    path = Path(dag.variant_checkpoint(params, dataset, mask_type, variant))
    if not path.is_file():
        make = dag.variant_command(params, dataset, mask_type, variant)
        raise RwganError(f"{path}: checkpoint not found (expected from `{make}`)")
    return path


def _validate(params: dict, method: str) -> dict:
    """The ``evaluate`` section (its values checked by the schema), given ``method`` is known."""
    if method not in evaluable(params):
        raise RwganError(f"--method: unknown method {method!r} (known: {', '.join(evaluable(params))})")
    return params["evaluate"]


def _inputs(params: dict, dataset: str, sets: list[str]) -> list[Pair]:
    """Every (set, bin, mask, test image) pair; missing folders name the stage that makes them."""
    test_dir = Path(paths.data_dir(params["profile"], dataset)) / "test"
    images = io.list_images(test_dir) if test_dir.is_dir() else []
    if not images:
        make = dag.command(params, "prepare", dataset=dataset)
        raise RwganError(f"{test_dir}: no test images (expected from `{make}`)")
    masks_root = Path(paths.masks_dir(params["profile"]))
    for set_name in sets:
        if not (masks_root / set_name / "manifest.csv").is_file():
            raise RwganError(
                f"{masks_root / set_name}: mask set not found (expected from `{dag.command(params, 'masks')}` "
                f"with {set_name!r} in masks.sets)"
            )
    return evaluation_pairs(masks_root, sets, images)


def _trained_inpainter(path: Path, device: str, first_stage: bool, amp: str) -> tuple[Inpaint, int]:
    """(inpaint function, generator parameter count) of the checkpoint at ``path``, run in
    ``amp`` (params.yaml ``evaluate.amp``, :data:`rwgan.device.AMP_CHOICES`); with
    ``first_stage``, the function returns I_c1 (the full forward runs, so the count and
    the timing are the whole generator's)."""
    inpainter = load_inpainter(path, device=device, amp=amp)
    if first_stage:
        def inpaint(images, holes):
            return inpainter.inpaint(images, holes, return_coarse=True).coarse
    else:
        inpaint = inpainter.inpaint
    return inpaint, count_parameters(inpainter.model)


def evaluate(params: dict, dataset: str, method: str, resume: bool = False, rescore: bool = False) -> Path:
    """Run the stage for (``dataset``, ``method``) (see the module docstring); returns the output folder."""
    section = _validate(params, method)
    try:
        device = str(resolve_device(section["device"]))
    except RwganError as exc:
        raise RwganError(f"params.yaml: evaluate.{exc}") from None
    sets = method_sets(params, method)
    pairs = _inputs(params, dataset, sets)
    out = Path(paths.eval_dir(params["profile"], dataset, method))
    composites = out / "composites"
    log = logging.getLogger(STAGE_LOGGER)
    log.info("%s on %s: %d pairs in sets %s, device %s", method, dataset, len(pairs), ", ".join(sets), device)
    if rescore:
        missing = [path for path in (composite_path(composites, pair) for pair in pairs) if not path.is_file()]
        if missing:
            raise RwganError(f"{missing[0]}: composite not found ({len(missing)} missing; run without --rescore)")
    else:
        if not resume and out.exists():
            log.info("removing the previous outputs in %s", out)
            shutil.rmtree(out)
        timing = _inpaint_sets(params, dataset, method, pairs, composites, device, resume)
        io.write_json(out / "timing.json", timing)

    per_image, per_bin = score_composites(
        pairs, composites, params["image_size"], section["metrics"], section["batch_size"],
        kid_subset_size=section.get("kid_subset_size"), device=device,
    )
    summary = summarize(per_image, per_bin, dataset, method)
    io.write_text(out / "per_image.csv", per_image.to_csv(index=False))
    io.write_text(out / "summary.csv", summary.to_csv(index=False))
    log.info("wrote %s (%d images, %d summary rows)", out, len(per_image), len(summary))
    return out


def _inpaint_sets(
    params: dict, dataset: str, method: str, pairs: list[Pair], composites: Path, device: str, resume: bool
) -> dict:
    """Save the composites of every set, each with its checkpoint; returns the timing.json
    content, measured on the first set."""
    section, image_size = params["evaluate"], params["image_size"]
    log = logging.getLogger(STAGE_LOGGER)
    if kind(params, method) == "external":
        return _external_composites(params, dataset, method, pairs, composites)
    timing = None
    for set_name in dict.fromkeys(pair.set for pair in pairs):
        in_set = [pair for pair in pairs if pair.set == set_name]
        if kind(params, method) == "classical":
            inpaint, parameters, stamp, method_device = classical_inpainter(method), 0, 0.0, "cpu"
        else:
            checkpoint = checkpoint_path(params, dataset, method, set_name)
            log.info("%s masks: checkpoint %s", set_name, checkpoint)
            inpaint, parameters = _trained_inpainter(checkpoint, device, first_stage=kind(params, method) == "first_stage",
                                                    amp=params["evaluate"]["amp"])
            stamp, method_device = checkpoint.stat().st_mtime, device
        made = generate_composites(
            inpaint, in_set, composites, image_size, section["batch_size"], method,
            reuse_newer_than=stamp if resume else None,
        )
        log.info("%s masks: %d composites generated, %d reused", set_name, made, len(in_set) - made)
        if timing is None:
            timing = _timing(inpaint, in_set, image_size, section["timing"], method_device, parameters)
            log.info("timing: %.4f s per image on %s", timing["seconds_per_image"], timing["hardware"])
    return timing


def _external_composites(params: dict, dataset: str, method: str, pairs: list[Pair], composites: Path) -> dict:
    """Save an external method's checked outputs as its composites; returns its (untimed) timing.json."""
    spec = external(params)[method]
    folder = Path(spec["outputs"][dataset])
    size = (params["image_size"], params["image_size"])
    ids = [pair_id(pair) for pair in pairs]
    others = [pair_id(pair) for pair in _inputs(params, dataset, exported_sets(params))]  # may be there too
    outputs = checked_outputs(folder, pairs, ids, size, spec.get("composite", False),
                              f"params.yaml evaluate.external.{method}.outputs.{dataset}", optional_ids=others)
    save_composites(pairs, outputs, composites, size)
    logging.getLogger(STAGE_LOGGER).info("%d outputs of %s from %s", len(outputs), method, folder)
    return {"seconds_per_image": None, "device": None, "hardware": None, "parameters": None, "n_images_timed": 0}


def _timing(inpaint: Inpaint, pairs: list[Pair], image_size: int, timing: dict, device: str, parameters: int) -> dict:
    """timing.json (Table IV): median seconds per image at batch 1 over ``timing.repeats`` pairs."""
    repeats = min(timing["repeats"], len(pairs))
    seconds = time_inference(inpaint, pairs, image_size, timing["warmup"], repeats, device)
    return {
        "seconds_per_image": seconds,
        "device": device,
        "hardware": hardware_name(device),
        "parameters": int(parameters),
        "n_images_timed": repeats,
    }


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, help="a dataset prepared by the prepare stage")
    parser.add_argument("--method", required=True, help="a variant id of train.variants, ic1, telea, navier_stokes, "
                        "biharmonic, authors_weights or an id of evaluate.external")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="keep composites newer than their checkpoint, mask and image")
    mode.add_argument("--rescore", action="store_true", help="only recompute the metrics from the saved composites")
    args = parser.parse_args(argv)
    params = config.load(args.profile)
    stage_logger(params["profile"], "evaluate", f"{args.dataset}-{args.method}")
    evaluate(params, args.dataset, args.method, resume=args.resume, rescore=args.rescore)


if __name__ == "__main__":
    run(main)
