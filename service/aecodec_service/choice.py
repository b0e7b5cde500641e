"""Which model serves a request: the one ``?model=`` names, or the endpoint's default; decided here only.

/encode and /compare choose by the image: a 28x28 grey image (a digit) goes to ``AECODEC_DEFAULT_MODEL``,
anything else to the photo codec (``AECODEC_DEFAULT_PHOTO_MODEL``, else the first any-size codec served).
/denoise, /sample and /interpolate have one default each. A route that reads images calls
``choose_and_read``: the model is admitted (or refused with 503) before the body is read, and when the
default depends on the image, every model it could turn out to be is admitted first. A name may be a
preset's (``<model>-q<k>``, runtime/registry.py): its runtime says so (``ModelRuntime.preset``).
"""

from __future__ import annotations

import io

from fastapi import Request
from PIL import Image

from .bodies import Items, read_images
from .core.config import Settings
from .core.errors import echo
from .runtime.errors import ModelNotFound, Overloaded, UnsupportedByModel
from .runtime.registry import ModelRegistry
from .runtime.sessions import ModelRuntime

_BY_IMAGE = ("encode",)  # endpoints whose default depends on the image (/compare asks for "encode")
_GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}


def photo_model(registry: ModelRegistry, settings: Settings) -> str | None:
    """The model for an image that is not a digit: ``default_photo_model`` if served, else the first served
    any-size codec (by name), else ``default_model``."""
    if settings.default_photo_model and registry.find(settings.default_photo_model) is not None:
        return settings.default_photo_model
    for name in sorted(registry.models):
        m = registry.models[name].manifest
        if m.kind == "codec" and not m.input.fixed_size:
            return name
    return settings.default_model


def _is_digit(image: bytes) -> bool:
    """A 28x28 grey image, from the header alone (not an image: the chosen model's decoding says why)."""
    try:
        with Image.open(io.BytesIO(image)) as img:
            return img.size == (28, 28) and img.mode in _GREY_MODES
    except Exception:
        return False


def default_name(endpoint: str, registry: ModelRegistry, settings: Settings, image: bytes | None = None) -> str | None:
    """The endpoint's default model name; for /encode, the one for this (first) image."""
    if endpoint in _BY_IMAGE:
        return settings.default_model if image is not None and _is_digit(image) else photo_model(registry, settings)
    vae = settings.default_vae_model
    return {"denoise": settings.default_denoise_model, "sample": vae, "interpolate": vae}.get(endpoint)


def _candidates(endpoint: str, registry: ModelRegistry, settings: Settings) -> list[ModelRuntime]:
    """Every model the default could be before the image is seen."""
    names = {settings.default_model, photo_model(registry, settings)} if endpoint in _BY_IMAGE else set()
    found = (registry.find(n) for n in sorted(n for n in names if n))
    return [rt for rt in found if rt is not None]


def resolve(request: Request, endpoint: str, name: str | None, image: bytes | None = None) -> ModelRuntime:
    """The model a request names (or the endpoint's default for ``image``), checked to support the endpoint."""
    registry: ModelRegistry = request.app.state.registry
    if not registry.models:
        raise Overloaded("no model is loaded yet; retry shortly (see /readyz)", kind="not-ready", retry_after_s=2)
    if name is None:
        default = default_name(endpoint, registry, request.app.state.settings, image)
        found = registry.find(default) if default else registry.first_of_kind(endpoint)
        if found is None:
            raise ModelNotFound(f"no default model for /{endpoint} is loaded; pass ?model= (see GET /models)")
    else:
        found = registry.find(name)
        if found is None:
            raise ModelNotFound(f"no model named {echo(name)}; served models: {', '.join(sorted(registry.models))}")
    if endpoint not in found.endpoints:
        able = [n for n, m in sorted(registry.models.items()) if endpoint in m.endpoints]
        raise UnsupportedByModel(
            f"model {found.name!r} is a {found.manifest.kind} model and does not support /{endpoint}; "
            f"models that do: {', '.join(able) or 'none loaded'}"
        )
    request.state.model = found.name
    return found


async def choose_and_read(request: Request, endpoint: str, name: str | None) -> tuple[ModelRuntime, Items]:
    """The model and the request's images: admitted before the body is read, chosen by the image if need be."""
    svc = request.app.state.service
    if name is not None or endpoint not in _BY_IMAGE:
        rt = resolve(request, endpoint, name)
        svc.pipeline.admit(rt)  # a full model is refused now, before the body is read
        return rt, await read_images(request, svc.settings.max_batch_items)
    for candidate in _candidates(endpoint, svc.registry, svc.settings):
        svc.pipeline.admit(candidate)
    items = await read_images(request, svc.settings.max_batch_items)
    rt = resolve(request, endpoint, None, items.blobs[0])
    svc.pipeline.admit(rt)
    return rt, items
