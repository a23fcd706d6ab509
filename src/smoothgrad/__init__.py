"""SmoothGrad reproduced: attribution methods, models, data and the pipeline's stages."""

__version__ = "0.1.0"
