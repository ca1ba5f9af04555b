"""The physics of defocus: the blur operator A, its adjoint, and synthetic degradations."""
from .defocus import DefocusBlur, disk_psf, synthesize_defocus

__all__ = ["DefocusBlur", "disk_psf", "synthesize_defocus"]
