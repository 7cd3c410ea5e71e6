"""The registry of trained generator kinds (a variant's ``model``), in the manner of
torchvision's ``register_model`` / ``get_model``.

A kind is one registry line (:class:`ModelKind`): its name, the builder of its network
(an :class:`rwgan.models.base.InpaintingGenerator`) and the variant switches the builder
takes, its training objective (an :class:`rwgan.objectives.TrainingObjective`), and the
variant switch, if any, that turns its phase 2 off.  Builder and objective may be given
as ``"module:name"`` paths, imported on first use, so that planning runs (the variants,
the DAG) stays free of torch.  Everything else about a kind lives in its own two
modules: ``rwgan/models/<kind>.py`` and ``rwgan/objectives/<kind>.py``
(DEVELOPING.md, "Adding a trained baseline").
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from rwgan.errors import RwganError

if TYPE_CHECKING:
    from rwgan.models.base import InpaintingGenerator
    from rwgan.objectives import TrainingObjective
    from rwgan.variants import Variant


@dataclass(frozen=True)
class ModelKind:
    """One trained generator kind.

    ``network``: ``builder(**{switch: variant's value for each of network_switches}, seed=seed)``
    returns the generator, initial weights drawn from ``seed``; ``objective``: the
    :class:`~rwgan.objectives.TrainingObjective` subclass that trains it; both either the
    object or its ``"module:name"`` path.  ``phase2_switch``: the variant switch whose
    ``false`` ends training after phase 1 (``None``: phase 2 always runs).
    """

    name: str
    network: str | Callable[..., InpaintingGenerator]
    objective: str | type[TrainingObjective]
    network_switches: tuple[str, ...] = ()
    phase2_switch: str | None = None

    def build(self, variant: Variant, seed: int = 0) -> InpaintingGenerator:
        """The network ``variant`` trains, initial weights drawn from ``seed``."""
        builder = _resolve(self.network)
        return builder(**{switch: getattr(variant, switch) for switch in self.network_switches}, seed=seed)

    @property
    def objective_class(self) -> type[TrainingObjective]:
        return _resolve(self.objective)

    def runs_phase2(self, variant: Variant) -> bool:
        """Whether ``variant`` trains a phase 2 (see ``phase2_switch``)."""
        return self.phase2_switch is None or bool(getattr(variant, self.phase2_switch))


def _resolve(reference: Any) -> Any:
    if not isinstance(reference, str):
        return reference
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


_KINDS: dict[str, ModelKind] = {}


def register_model_kind(kind: ModelKind) -> ModelKind:
    """Add ``kind`` to the registry; :class:`RwganError` if its name is taken."""
    if kind.name in _KINDS:
        raise RwganError(f"model kind {kind.name!r}: already registered")
    _KINDS[kind.name] = kind
    return kind


def model_kind_names() -> tuple[str, ...]:
    """The registered kinds, in registration order."""
    return tuple(_KINDS)


def get_model_kind(name: str) -> ModelKind:
    """The registered kind ``name``; :class:`RwganError` naming the known kinds otherwise."""
    if name not in _KINDS:
        raise RwganError(f"model kind {name!r}: unknown (known: {', '.join(_KINDS)})")
    return _KINDS[name]


# The registry: one line per kind.
register_model_kind(ModelKind("region_wise", "rwgan.models.generator:region_wise_generator",
                              "rwgan.objectives.region_wise:RegionWiseObjective",
                              network_switches=("standard_conv",), phase2_switch="adversarial_phase"))
register_model_kind(ModelKind("pconv", "rwgan.models.pconv:pconv_unet", "rwgan.objectives.pconv:PConvObjective"))
