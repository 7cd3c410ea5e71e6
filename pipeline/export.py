"""Stage: export one dataset's fixed test pairs, for methods run outside rwgan (issue 12).

    python -m pipeline.export --profile P --dataset D

Writes ``work/<P>/export/<D>/`` in the layout of :mod:`rwgan.external` (``image/``,
``mask/``, ``masked/``, ``truth/``, ``manifest.csv``, ``export.json``): every pair of the
mask sets the evaluate stage scores (``evaluate.sets`` and ``evaluate.extra_sets``), paired as
it pairs them (:func:`rwgan.evaluation.evaluation_pairs`).  A method's outputs, one
``<pair id>.png`` per pair, are then scored on exactly rwgan's pairs, by ``rwgan score`` or,
declared in ``evaluate.external``, by the evaluate stage.
"""
from __future__ import annotations

import logging
from pathlib import Path

from pipeline import paths
from pipeline.cli_common import dataset_stage_main, replacing_folder, run
from pipeline.methods import exported_sets
from rwgan.external import export_testset


def export(params: dict, dataset: str, log: logging.Logger) -> Path:
    """Run the stage for ``dataset``; returns the export folder."""
    profile = params["profile"]
    final = Path(paths.export_dir(profile, dataset))
    sets = exported_sets(params)
    with replacing_folder(final) as folder:
        count = export_testset(paths.masks_dir(profile), Path(paths.data_dir(profile, dataset)) / "test", sets,
                               folder, dataset=dataset, progress=False)
    log.info("exported %d pairs of %s to %s", count, ", ".join(sets), final)
    return final


def main(argv: list[str] | None = None) -> None:
    dataset_stage_main(__doc__.split("\n\n")[0], "export", export, argv)


if __name__ == "__main__":
    run(main)
