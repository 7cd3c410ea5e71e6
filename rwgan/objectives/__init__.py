"""Training objectives: how each kind of trained generator learns.

An objective (one module per kind, named in the registry :mod:`rwgan.kinds`) gives the
generator's loss terms and their weights, builds the networks its loss needs besides
the generator (discriminators, the loss network), says what each phase changes, and
what a training sample grid shows.  :class:`rwgan.training.Trainer` runs any objective
the same way: it owns the generator, the optimisers, devices, autocast and DDP, and
calls only the methods below.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Callable, ClassVar, NamedTuple, Sequence

from torch import Tensor, nn

if TYPE_CHECKING:
    from rwgan.training import TrainConfig


class TrainingObjective(ABC):
    """The training of one generator kind (see the module docstring).

    Built by the Trainer from the run's ``config`` right after the generator (so the
    networks it builds draw their initial weights in a fixed order) with ``autocast``, a
    factory of the context the Trainer runs forward passes in.  Images and masks follow
    the generator's conventions (:class:`rwgan.models.base.InpaintingGenerator`);
    ``output`` is the generator's output with every field in float32.
    """

    #: The generator's loss terms that add up to its total.
    terms: ClassVar[tuple[str, ...]]
    #: Whether the kind can train discriminators (``losses.csv`` then has ``loss_discriminator``).
    has_discriminators: ClassVar[bool] = False
    #: The smallest batch the objective can train on, and why (a params error says so).
    min_batch_size: ClassVar[int] = 1
    min_batch_reason: ClassVar[str] = ""

    def __init__(self, config: TrainConfig, autocast: Callable[[], AbstractContextManager]):
        self.config = config
        self.variant = config.variant
        self.autocast = autocast
        #: Networks the Trainer trains after the generator step of each phase where
        #: :meth:`trains_discriminators` holds (one Adam, phase 2's learning rate).
        self.discriminators: list[nn.Module] = []
        #: The frozen loss network, if any.
        self.vgg: nn.Module | None = None

    @classmethod
    def loss_columns(cls) -> tuple[str, ...]:
        """``losses.csv`` columns after ``step`` and ``phase``: the total, each raw term
        (and the discriminators' loss), then each term times its weight."""
        return ("loss_total", *(f"loss_{t}" for t in cls.terms),
                *(("loss_discriminator",) if cls.has_discriminators else ()), *(f"weighted_{t}" for t in cls.terms))

    def networks(self) -> list[nn.Module]:
        """Every network the objective holds (the Trainer moves them to its device)."""
        return [*self.discriminators, *([self.vgg] if self.vgg is not None else [])]

    @abstractmethod
    def loss_weights(self, phase: int) -> dict[str, float]:
        """The weight of each term in ``phase``'s total (0: not computed)."""

    def enter_phase(self, generator: nn.Module, phase: int) -> bool:
        """Per-phase changes to the generator, made before every step of ``phase`` (so
        idempotent); True when they changed which of its parameters train (DDP must wrap
        it again)."""
        return False

    @abstractmethod
    def generator_loss(self, output: NamedTuple, image: Tensor, mask: Tensor, phase: int) -> dict[str, Tensor]:
        """Every term of :attr:`terms` that ``phase`` computes, and ``total``, the weighted sum."""

    def trains_discriminators(self, phase: int) -> bool:
        """Whether ``phase`` updates :attr:`discriminators` after each generator step."""
        return False

    def discriminator_loss(self, image: Tensor, mask: Tensor, output: NamedTuple,
                           discriminators: Sequence[nn.Module]) -> Tensor:
        """The loss the discriminators minimise, given the generator's detached ``output``;
        ``discriminators`` are :attr:`discriminators` as the Trainer runs them (in training
        mode, DDP-wrapped when distributed)."""
        raise NotImplementedError

    @abstractmethod
    def preview(self, output: NamedTuple) -> Tensor:
        """The image a sample grid shows between the input and the final composite."""
