"""rwgan: Region-wise Generative Adversarial Image Inpainting (Ma et al., IEEE T-Cybernetics 2022).

A library with no knowledge of the pipeline: layers and networks (:mod:`rwgan.models`),
losses, masks, metrics, data, training and inference.  See README.md.
"""

__version__ = "0.1.0"
