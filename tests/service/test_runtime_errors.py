"""The runtime's domain errors: one status and title per class, item naming, retry hints."""

from __future__ import annotations

import pytest
from aecodec_service.runtime import errors


def test_each_class_carries_its_status_and_title() -> None:
    expected = {
        errors.BadRequestInput: 422,
        errors.MalformedBody: 400,
        errors.UnsupportedMediaType: 415,
        errors.BadImage: 422,
        errors.BadPayload: 422,
        errors.UnknownPayloadModel: 422,
        errors.ModelNotFound: 404,
        errors.ModelVersionMismatch: 409,
        errors.TooLarge: 413,
        errors.Overloaded: 503,
        errors.ModelTimeout: 504,
    }
    for cls, status in expected.items():
        assert cls.status == status, cls
        assert cls.title and cls.title != errors.DomainError.title, cls


def test_for_item_names_the_index_and_keeps_the_class() -> None:
    exc = errors.Overloaded("queue full; retry shortly", retry_after_s=2.0)
    named = exc.for_item(3)
    assert isinstance(named, errors.Overloaded)
    assert named.item_index == 3 and named.detail == "item 3: queue full; retry shortly"
    assert named.retry_after_s == 2.0 and named.kind == "queue-full"
    assert exc.item_index is None and exc.detail == "queue full; retry shortly"  # the original is untouched


def test_kind_defaults_per_class_and_can_be_named() -> None:
    assert errors.BadPayload("x").kind == "corrupt-payload"
    assert errors.BadImage("x", kind="image-too-large").kind == "image-too-large"
    with pytest.raises(errors.BadRequestInput):
        raise errors.BadImage("not an image")
