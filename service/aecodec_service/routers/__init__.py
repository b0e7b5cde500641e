"""One router per resource; ``main.create_app`` includes them all."""

from __future__ import annotations

from . import admin, decode, denoise, encode, health, interpolate, models, sample

ALL = [health.router, encode.router, decode.router, denoise.router, sample.router, interpolate.router]
ALL += [models.router, admin.router]
HOT = [encode.router, decode.router, denoise.router]  # POST routes served by core/fastpath.py
