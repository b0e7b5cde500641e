"""``python -m aecodec_training.cli``."""

from . import main

main()
