"""``python -m aecodec_sdk`` is the ``aecodec`` command."""

from .cli import app

app(prog_name="aecodec")
