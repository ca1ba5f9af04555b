"""scoredeblur: defocus deblurring with a score-based diffusion prior."""
from scoredeblur.api import DeblurResult, deblur
from scoredeblur.engine.loading import get_model
from scoredeblur.version import __version__

__all__ = ["deblur", "DeblurResult", "get_model", "__version__"]
