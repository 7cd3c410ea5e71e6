"""The interface every trained generator implements (what training, inference and the
registry of kinds, :mod:`rwgan.kinds`, rely on)."""
from __future__ import annotations

from typing import ClassVar

from torch import Tensor, nn


def composite(image: Tensor, prediction: Tensor, mask: Tensor) -> Tensor:
    """``I_c = image * M + prediction * (1 - M)``: known pixels from ``image``, holes from
    ``prediction`` (M: 1 = known).  Known pixels equal ``image`` exactly for finite
    predictions."""
    return image * mask + prediction * (1 - mask)


class InpaintingGenerator(nn.Module):
    """A trained inpainting generator.

    forward(image, mask) -> a NamedTuple of N x 3 x H x W tensors in [-1, 1]:

    - ``image``: the ground truth I_g, N x 3 x H x W in [-1, 1]; its hole pixels never
      affect the result (the generator masks its input itself);
    - ``mask``: M, N x 1 x H x W, 1 = known, 0 = hole; H and W divisible by 4;
    - the output's ``composite`` is the final result I_c = I_g * M + I_p * (1 - M), so its
      known pixels equal ``image``'s exactly; a generator with ``has_first_stage`` also
      gives ``coarse_composite``, its first stage's composite (I_c1, Table III's I_c1 row).
      Other fields are the kind's own, read by its training objective.
    """

    #: Whether the output has ``coarse_composite`` (a first stage of its own).
    has_first_stage: ClassVar[bool] = False
