"""scoredeblur: defocus deblurring with a score-based diffusion prior."""
__version__ = "0.1.0"

from .api import deblur, get_model  # noqa: E402

__all__ = ["deblur", "get_model", "__version__"]
