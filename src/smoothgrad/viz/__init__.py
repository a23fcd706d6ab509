"""Turning attribution maps into displayable arrays by the paper's rules."""

from .maps import abs_grayscale, class_difference, rgb, signed_diverging, times_input

__all__ = ["abs_grayscale", "class_difference", "rgb", "signed_diverging", "times_input"]
