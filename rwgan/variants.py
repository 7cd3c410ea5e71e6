"""Model variants as data: the full model, the ablations and the discriminator variants.

A variant is a small set of switches resolved over the full model's settings, never a
code fork.  The switches (all of :class:`Variant`'s fields but ``name``):

- ``model``: the kind of generator, a name of the registry :mod:`rwgan.kinds`:
  ``region_wise`` (the paper's two-stage generator) or ``pconv`` (the PC baseline, Liu
  et al. 2018, retrained; the region-wise switches do not apply to it);
- ``standard_conv``: rw13-15 become plain convolutions of the same width (Table III);
- ``lambda_correlation``, ``lambda_style``, ``lambda_adversarial``: lambda1..lambda3 of
  eq. 7 (lambda3 applies in the adversarial phase only; Algorithm 1);
- ``correlation_on``, ``style_on``: the stage whose composite each loss judges,
  ``coarse`` (I_c1, SINet) or ``refined`` (I_c2, GPNet).  The paper puts L_c on SINet and
  L_s on GPNet (Sec. III-C/D, Algorithm 1);
- ``adversarial_phase``: whether Algorithm 1's second phase runs.  ``false`` is "w/o L_a"
  (RED): training ends after the reconstruction-only phase.  (A kind says which switch,
  if any, ends its training after phase 1: for ``pconv`` the second phase is Liu et al.'s
  BN-frozen fine-tuning, which always runs.)
- ``discriminators``: a list of ``{kind: region_wise | standard, judges: [coarse,
  refined]}``; every D judges the composites of the stages it lists.  An empty list with
  ``adversarial_phase`` still on is Fig. 8's "no D": the second phase continues the
  reconstruction-only training for the same number of steps.

The variant table (params.yaml ``train.variants``) maps each id to the switches it
overrides.  "L_c and L_s on the same network" (Table III) does not say which network;
the paper's reading of its result ("... cannot restore semantic contents", Sec. IV-C1)
is that SINet loses the correlation guidance, so the shipped table moves L_c onto
GPNet (both losses on ``refined``); ``correlation_on: coarse, style_on: coarse`` is the
other reading.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from numbers import Real

from rwgan.errors import RwganError
from rwgan.kinds import get_model_kind, model_kind_names

STAGES = ("coarse", "refined")
DISCRIMINATOR_KINDS = ("region_wise", "standard")


@dataclass(frozen=True)
class DiscriminatorSpec:
    """One discriminator: ``kind`` (``region_wise`` sees the hole content only, eq. 6;
    ``standard`` sees the whole image) and the stages whose composites it judges."""

    kind: str
    judges: tuple[str, ...]


@dataclass(frozen=True)
class Variant:
    """A resolved variant: its id and every switch (see the module docstring)."""

    name: str
    model: str
    standard_conv: bool
    lambda_correlation: float
    lambda_style: float
    lambda_adversarial: float
    correlation_on: str
    style_on: str
    adversarial_phase: bool
    discriminators: tuple[DiscriminatorSpec, ...]

    def to_dict(self) -> dict:
        """Plain, JSON-able form (stored in checkpoints); inverse of :meth:`from_dict`."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["discriminators"] = [{"kind": d.kind, "judges": list(d.judges)} for d in self.discriminators]
        return data

    @classmethod
    def from_dict(cls, data: dict, where: str = "variant") -> "Variant":
        """Validate a plain dict holding ``name`` and every switch (e.g. from a checkpoint)."""
        missing = [key for key in ("name", *SWITCHES) if key not in data]
        if missing:
            raise RwganError(f"{where}: missing {', '.join(missing)}")
        return _build(data["name"], {key: data[key] for key in SWITCHES}, {key: f"{where}.{key}" for key in SWITCHES})

    def phase1_view(self) -> dict:
        """The switches that shape phase 1 (:data:`PHASE1_SWITCHES`) and their values."""
        return {key: getattr(self, key) for key in PHASE1_SWITCHES}


SWITCHES = tuple(f.name for f in fields(Variant) if f.name != "name")
#: The switches that shape phase 1 (Algorithm 1 with lambda3 = 0); variants equal in
#: these share one phase-1 run.
PHASE1_SWITCHES = ("model", "standard_conv", "lambda_correlation", "lambda_style", "correlation_on", "style_on")


def phase2_runs(variant: Variant) -> bool:
    """Whether ``variant`` trains a phase 2, as its kind says (:meth:`rwgan.kinds.ModelKind.runs_phase2`):
    the adversarial phase (or, without discriminators, more reconstruction-only
    training) unless ``adversarial_phase`` is off, or PC's fine-tuning."""
    return get_model_kind(variant.model).runs_phase2(variant)


def shared_phase1(variants: dict[str, Variant]) -> dict[str, str]:
    """Each variant id -> the id of the phase-1 run it starts from: the first variant
    (in ``variants``' order) with the same :data:`PHASE1_SWITCHES`.  With the paper's
    table, full, no_adversarial (RED) and the five discriminator variants of Fig. 8 share
    ``full``'s phase 1; standard_conv, no_correlation, same_network_losses and pconv each
    have their own."""
    first: dict[tuple, str] = {}
    return {name: first.setdefault(tuple(v.phase1_view().values()), name) for name, v in variants.items()}


def resolve_variant(name: str, table: dict, base: dict, where: str = "train") -> Variant:
    """The variant ``name`` of ``table`` (id -> overridden switches) over ``base`` (the
    full model's switches).

    ``where`` prefixes every error so it names the offending key: ``base`` keys are
    ``<where>.<switch>``, the table is ``<where>.variants``.  Raises :class:`RwganError`
    for an unknown id (listing the known ones), an unknown or missing switch, or a bad
    value (negative lambda, unknown stage or kind, malformed discriminator list).
    """
    if not isinstance(table, dict) or not table:
        raise RwganError(f"{where}.variants: expected a mapping of variant ids to switches, got {table!r}")
    if name not in table:
        raise RwganError(f"{where}.variants: unknown variant {name!r} (known: {', '.join(sorted(table))})")
    overrides = table[name] or {}
    if not isinstance(overrides, dict):
        raise RwganError(f"{where}.variants.{name}: expected a mapping of switches, got {overrides!r}")
    for key in overrides:
        if key not in SWITCHES:
            raise RwganError(f"{where}.variants.{name}.{key}: unknown switch (expected one of {', '.join(SWITCHES)})")
    missing = [key for key in SWITCHES if key not in base]
    if missing:
        raise RwganError(f"{where}: missing {', '.join(f'{where}.{key}' for key in missing)}")
    values = {key: overrides.get(key, base[key]) for key in SWITCHES}
    origins = {key: f"{where}.variants.{name}.{key}" if key in overrides else f"{where}.{key}" for key in SWITCHES}
    return _build(name, values, origins)


def _build(name: str, values: dict, origins: dict) -> Variant:
    def fail(key: str, expected: str) -> RwganError:
        return RwganError(f"{origins[key]} must be {expected}, got {values[key]!r}")

    def choice(key: str, options: tuple[str, ...]) -> str:
        if values[key] not in options:
            raise fail(key, f"one of {', '.join(options)}")
        return values[key]

    def flag(key: str) -> bool:
        if not isinstance(values[key], bool):
            raise fail(key, "true or false")
        return values[key]

    def weight(key: str) -> float:
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, Real) or not value >= 0:
            raise fail(key, ">= 0")
        return float(value)

    return Variant(
        name=name,
        model=choice("model", model_kind_names()),
        standard_conv=flag("standard_conv"),
        lambda_correlation=weight("lambda_correlation"),
        lambda_style=weight("lambda_style"),
        lambda_adversarial=weight("lambda_adversarial"),
        correlation_on=choice("correlation_on", STAGES),
        style_on=choice("style_on", STAGES),
        adversarial_phase=flag("adversarial_phase"),
        discriminators=_discriminators(values["discriminators"], origins["discriminators"]),
    )


def _discriminators(value, origin: str) -> tuple[DiscriminatorSpec, ...]:
    expected = f"a list of {{kind: {' | '.join(DISCRIMINATOR_KINDS)}, judges: [{', '.join(STAGES)}]}}"
    if not isinstance(value, (list, tuple)):
        raise RwganError(f"{origin} must be {expected}, got {value!r}")
    specs = []
    for index, entry in enumerate(value):
        if not isinstance(entry, dict) or set(entry) != {"kind", "judges"}:
            raise RwganError(f"{origin}[{index}] must be {expected}, got {entry!r}")
        kind, judges = entry["kind"], entry["judges"]
        if kind not in DISCRIMINATOR_KINDS:
            raise RwganError(f"{origin}[{index}].kind must be one of {', '.join(DISCRIMINATOR_KINDS)}, got {kind!r}")
        if (not isinstance(judges, (list, tuple)) or not judges or len(set(judges)) != len(judges)
                or any(stage not in STAGES for stage in judges)):
            raise RwganError(
                f"{origin}[{index}].judges must be a non-empty list of distinct stages among "
                f"{', '.join(STAGES)}, got {judges!r}"
            )
        specs.append(DiscriminatorSpec(kind, tuple(judges)))
    return tuple(specs)
