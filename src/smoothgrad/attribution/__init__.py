"""Gradient-based attribution methods behind one interface: `method.attribute(x, target)`."""

from .base import Attribution
from .gradient import Gradient
from .guided_backprop import GuidedBackprop
from .integrated_gradients import IntegratedGradients
from .smoothgrad import SmoothGrad

__all__ = ["Attribution", "Gradient", "GuidedBackprop", "IntegratedGradients", "SmoothGrad"]
