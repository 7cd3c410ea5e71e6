"""params.yaml: every profile resolved and checked against pipeline/params.schema.yaml."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from pipeline import config
from rwgan.errors import RwganError

RAW = yaml.safe_load((ROOT / "params.yaml").read_text())


def write(tmp_path, edit) -> Path:
    raw = copy.deepcopy(RAW)
    edit(raw)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.mark.parametrize("profile", sorted(RAW["profiles"]))
def test_every_shipped_profile_resolves(profile):
    params = config.load(profile, ROOT / "params.yaml")
    assert params["profile"] == profile and params["workdir"] == f"work/{profile}"


@pytest.mark.parametrize("edit, message", [
    (lambda r: r["profiles"]["smoke"]["train"].update(lamda_style=0), "profiles.smoke.train.lamda_style: unknown key"),
    (lambda r: r["defaults"]["train"]["variants"]["full"].update(lamda_style=0),
     "defaults.train.variants.full.lamda_style: unknown key"),
    (lambda r: r["profiles"]["smoke"]["data"]["datasets"]["embedded"].update(pth="x"),
     "profiles.smoke.data.datasets.embedded.pth: unknown key"),
    (lambda r: r["defaults"]["data"]["datasets"]["paris"].update(test_photos=[]),
     "defaults.data.datasets.paris.test_photos: unknown key"),  # an embedded key on a local dataset
    (lambda r: r["profiles"]["mini"]["report"]["ablation"].update(paper_datset="celeba"),
     "profiles.mini.report.ablation.paper_datset: unknown key"),
    (lambda r: r["profiles"]["smoke"].update(extra=1), "profiles.smoke.extra: unknown key"),
    (lambda r: r["profiles"]["smoke"]["evaluate"].update(metrics=["L3"]),
     "profiles.smoke.evaluate.metrics.0: 'L3' is not one of"),
    (lambda r: r["defaults"]["masks"].pop("bins"), "defaults.masks.bins: missing"),
    (lambda r: r["profiles"]["demo"]["train"].update(batch_size=0),
     "profiles.demo.train.batch_size: 0 is less than the minimum of 1"),
])
def test_a_bad_key_anywhere_fails_in_one_line_naming_it(tmp_path, edit, message):
    path = write(tmp_path, edit)
    with pytest.raises(RwganError) as error:
        config.load("smoke", path)
    assert str(error.value).startswith(f"{path}: {message}") and "\n" not in str(error.value)


def test_a_profile_replaces_the_sections_it_lists(tmp_path):
    assert set(config.load("smoke", ROOT / "params.yaml")["evaluate"]["extra_sets"]) == {"regular", "sweep"}

    def replace(raw):
        raw["profiles"]["smoke"]["replace"] = ["evaluate.extra_sets"]
        raw["profiles"]["smoke"]["evaluate"]["extra_sets"] = {"sweep": ["full"]}
    params = config.load("smoke", write(tmp_path, replace))
    assert params["evaluate"]["extra_sets"] == {"sweep": ["full"]}  # merged, it would keep `regular`
    assert "replace" not in params and params["evaluate"]["batch_size"] == 4  # the rest still merges

    with pytest.raises(RwganError, match=r"profiles.smoke.replace: report.figures is not set by the profile"):
        config.load("smoke", write(tmp_path, lambda raw: raw["profiles"]["smoke"].update(replace=["report.figures"])))
