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

A profile's mappings merge into the defaults key by key; a profile that must *set* a
mapping whole (drop default keys, e.g. ``evaluate.extra_sets: {}`` with no extra sets)
lists its dotted key under ``replace``::

    profiles:
      smoke:
        replace: [evaluate.extra_sets]
        evaluate: {extra_sets: {}}

Every profile, resolved, is checked against pipeline/params.schema.yaml when the file is
read: a wrong type, a value out of range or an unknown (e.g. misspelt) key anywhere fails
with one line naming the key where it is written, e.g.
``params.yaml: profiles.smoke.train.lamda_style: unknown key``.
"""
from __future__ import annotations

import copy
import functools
import os
from pathlib import Path

import yaml

from pipeline import paths
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
    """The raw file, its layout and every resolved profile checked (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise RwganError(f"{path}: params file not found (run from the repository root)")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise RwganError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, dict) or "defaults" not in raw or "profiles" not in raw:
        raise RwganError(f"{path}: expected top-level keys 'profile', 'defaults' and 'profiles'")
    _check(raw, _schema(), path, lambda where: where)
    for name in raw["profiles"]:
        resolve(raw, name, path)
    return raw


@functools.cache
def _schema() -> dict:
    return yaml.safe_load(SCHEMA_FILE.read_text())


def _check(document: dict, schema: dict, path: Path, source) -> None:
    """Raise the best error of ``document`` against ``schema`` as one line; ``source`` maps the
    error's key path to where it is written in the file."""
    import jsonschema

    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(document))
    if error is None:
        return
    keys = list(error.absolute_path)
    message = error.message
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = error.schema.get("properties", {})
        extra = sorted(k for k in error.instance if k not in allowed)
        keys.append(extra[0])
        message = "unknown key" + (f" (expected one of {', '.join(allowed)})" if allowed else "")
    elif error.validator == "required":
        keys.append(next(k for k in error.validator_value if k not in error.instance))
        message = "missing"
    elif error.validator is None:  # a `false` schema: a key the entry's kind does not take
        message = "not allowed here"
    where = source(".".join(str(k) for k in keys)) or "(top level)"
    raise RwganError(f"{path}: {where}: {message}")


def resolve(raw: dict, profile: str, path: str | os.PathLike = PARAMS_FILE) -> dict:
    """``defaults`` <- ``profiles[profile]`` of the raw file, checked against the schema."""
    override = copy.deepcopy(raw["profiles"][profile] or {})
    params = deep_merge(raw["defaults"], override)
    for dotted in override.pop("replace", []):
        *parents, key = dotted.split(".")
        source, target = override, params
        for part in parents:
            source, target = source.get(part, {}), target.setdefault(part, {})
        if key not in source:
            raise RwganError(f"{path}: profiles.{profile}.replace: {dotted} is not set by the profile")
        target[key] = copy.deepcopy(source[key])
    params.pop("replace", None)
    params["profile"] = profile
    params["workdir"] = paths.work_dir(profile)

    def source(where: str) -> str:
        node = override
        for part in where.split(".") if where else []:
            if isinstance(node, list):
                break  # a list is set whole by whoever sets it
            if not isinstance(node, dict) or part not in node:
                return f"defaults.{where}"
            node = node[part]
        return f"profiles.{profile}.{where}" if where else f"profiles.{profile}"

    check(params, path, source)
    return params


def check(params: dict, path: str | os.PathLike = PARAMS_FILE, source=lambda where: where) -> None:
    """Check resolved ``params`` against the schema's ``$defs/profile``; the error names the key
    (``source`` maps a resolved key path to where the file sets it)."""
    _check(params, {**_schema(), **_schema()["$defs"]["profile"]}, Path(path), source)


def load(profile: str | None = None, path: str | os.PathLike = PARAMS_FILE) -> dict:
    """Resolved parameters of ``profile`` (default: the file's ``profile`` key)."""
    raw = read_params_file(path)
    profile = profile or raw.get("profile")
    profiles = raw["profiles"] or {}
    if profile not in profiles:
        raise RwganError(f"{path}: unknown profile {profile!r} (expected one of {', '.join(sorted(profiles))})")
    return resolve(raw, profile, path)
