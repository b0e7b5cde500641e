"""One task per model family: what it trains on, its loss, its validation and served figures, its manifest
text. The trainer runs any of them (``tasks/base.py`` says what it asks)."""

from .base import At, ImageTask, Settings, Task, load_data, make_settings, to_uint8
from .photo_denoising import PhotoDenoisingTask
from .rate_distortion import RateDistortionTask
from .reconstruction import DenoisingTask, ReconstructionTask, SparseTask
from .variational import VariationalTask

__all__ = [
    "At",
    "DenoisingTask",
    "ImageTask",
    "PhotoDenoisingTask",
    "RateDistortionTask",
    "ReconstructionTask",
    "Settings",
    "SparseTask",
    "Task",
    "VariationalTask",
    "load_data",
    "make_settings",
    "to_uint8",
]
