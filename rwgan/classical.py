"""Classical inpainting that needs no training: a floor under every results table.

Three diffusion-style methods fill the hole from its border:

- ``"telea"``: fast marching (Telea 2004), ``cv2.inpaint(..., cv2.INPAINT_TELEA)``;
- ``"navier_stokes"``: fluid-dynamics transport (Bertalmio et al. 2001),
  ``cv2.inpaint(..., cv2.INPAINT_NS)``;
- ``"biharmonic"``: the smooth solution of the biharmonic equation,
  ``skimage.restoration.inpaint_biharmonic(..., channel_axis=-1)``.

Both OpenCV methods use a neighbourhood radius of :data:`INPAINT_RADIUS` = 3 pixels
(OpenCV's documented example value) and treat the three channels independently, so
RGB needs no conversion to BGR.  Results are composited like the networks' outputs
(docs/model.md "Conventions"): known pixels come back unchanged.
"""
from __future__ import annotations

import numpy as np

from rwgan.errors import RwganError

# (method key, display name used in tables and figures).
CLASSICAL_METHODS: tuple[tuple[str, str], ...] = (
    ("telea", "Telea"),
    ("navier_stokes", "Navier-Stokes"),
    ("biharmonic", "Biharmonic"),
)
INPAINT_RADIUS = 3


def inpaint_classical(image: np.ndarray, hole: np.ndarray, method: str) -> np.ndarray:
    """Fill ``hole`` in ``image`` with a classical method; the composite, uint8 (H, W, 3).

    Args:
        image: uint8 RGB (H, W, 3); the values under the hole are ignored (painted white
            before the method runs).
        hole: bool (H, W), ``True`` = hole (the :func:`rwgan.io.read_mask` convention);
            at least one pixel must be known.
        method: one of the keys of :data:`CLASSICAL_METHODS`.
    """
    known_methods = [key for key, _ in CLASSICAL_METHODS]
    if method not in known_methods:
        raise RwganError(f"method: unknown classical method {method!r} (expected one of {', '.join(known_methods)})")
    image, hole = np.asarray(image), np.asarray(hole)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise RwganError(f"image: expected uint8 (H, W, 3), got {image.dtype} {image.shape}")
    if hole.dtype != bool or hole.shape != image.shape[:2]:
        raise RwganError(f"hole: expected a bool array of shape {image.shape[:2]}, got {hole.dtype} {hole.shape}")
    if hole.all():
        raise RwganError("hole: covers the whole image (expected some known pixels to fill from)")
    if not hole.any():
        return image.copy()
    import cv2  # here, so that the method list imports without OpenCV and scikit-image
    from skimage.restoration import inpaint_biharmonic

    # OpenCV's fast marching and Navier-Stokes read pixels under the mask near its border
    # (measured: on 64 px faces up to 30 grey levels of difference), so the hole is painted
    # white first, as in the masked inputs the paper shows: no method may see the ground
    # truth it is scored against.
    source = np.where(hole[..., None], np.uint8(255), image)
    if method == "biharmonic":
        filled = inpaint_biharmonic(source, hole, channel_axis=-1)  # float64 on [0, 1]
        filled = np.clip(np.rint(filled * 255), 0, 255).astype(np.uint8)
    else:
        flag = {"telea": cv2.INPAINT_TELEA, "navier_stokes": cv2.INPAINT_NS}[method]
        filled = cv2.inpaint(source, hole.astype(np.uint8), INPAINT_RADIUS, flag)
    return np.where(hole[..., None], filled, image)
