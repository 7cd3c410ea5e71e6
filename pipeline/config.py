"""params.yaml: the one source of parameters, resolved per profile.

Layout of params.yaml::

    profile: demo          # the profile `snakemake` and `dvc repro` run by default
    defaults: {...}        # every parameter, with the paper's values where it has one
    profiles:
      smoke: {...}         # overrides merged (recursively) over `defaults`
      demo: {...}
      paper: {...}

``load(profile)`` returns ``defaults`` deep-merged with ``profiles[profile]`` plus
``profile`` and ``workdir`` (``work/<profile>``, where that profile's data, masks,
checkpoints and evaluations live, so that profiles never overwrite each other).
"""
from __future__ import annotations

import copy
import os
from pathlib import Path

import yaml

from rwgan.errors import RwganError

PARAMS_FILE = Path(os.environ.get("RWGAN_PARAMS", "params.yaml"))
SCHEMA_FILE = Path(__file__).with_name("params.schema.yaml")


def deep_merge(base: dict, override: dict) -> dict:
    """Return ``base`` with ``override`` merged in; nested dicts merge, everything else replaces."""
    merged = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def read_params_file(path: str | os.PathLike = PARAMS_FILE) -> dict:
    path = Path(path)
    if not path.is_file():
        raise RwganError(f"{path}: params file not found (run from the repository root)")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise RwganError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, dict) or "defaults" not in raw or "profiles" not in raw:
        raise RwganError(f"{path}: expected top-level keys 'profile', 'defaults' and 'profiles'")
    validate(raw, path)
    return raw


def validate(raw: dict, path: str | os.PathLike = PARAMS_FILE) -> None:
    """Check the layout of params.yaml against pipeline/params.schema.yaml (one-line error naming the key)."""
    import jsonschema

    schema = yaml.safe_load(SCHEMA_FILE.read_text())
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(raw))
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        raise RwganError(f"{path}: {where}: {error.message}")


def load(profile: str | None = None, path: str | os.PathLike = PARAMS_FILE) -> dict:
    """Resolved parameters of ``profile`` (default: the file's ``profile`` key)."""
    raw = read_params_file(path)
    profile = profile or raw.get("profile")
    profiles = raw["profiles"] or {}
    if profile not in profiles:
        raise RwganError(f"{path}: unknown profile {profile!r} (expected one of {', '.join(sorted(profiles))})")
    params = deep_merge(raw["defaults"], profiles[profile] or {})
    params["profile"] = profile
    params["workdir"] = str(Path("work") / profile)
    return params
