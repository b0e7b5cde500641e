from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ImageMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMAGE_MODE_UNSPECIFIED: _ClassVar[ImageMode]
    IMAGE_MODE_L: _ClassVar[ImageMode]
    IMAGE_MODE_RGB: _ClassVar[ImageMode]
    IMAGE_MODE_RGBA: _ClassVar[ImageMode]
    IMAGE_MODE_LA: _ClassVar[ImageMode]

class Quantizer(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    QUANTIZER_UNSPECIFIED: _ClassVar[Quantizer]
    QUANTIZER_UNIFORM_TABLE: _ClassVar[Quantizer]
IMAGE_MODE_UNSPECIFIED: ImageMode
IMAGE_MODE_L: ImageMode
IMAGE_MODE_RGB: ImageMode
IMAGE_MODE_RGBA: ImageMode
IMAGE_MODE_LA: ImageMode
QUANTIZER_UNSPECIFIED: Quantizer
QUANTIZER_UNIFORM_TABLE: Quantizer

class LatentCode(_message.Message):
    __slots__ = ("format_version", "model", "model_version", "latent_shape", "quantizer", "bits", "width", "height", "mode", "data", "icc_profile", "alpha")
    FORMAT_VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    LATENT_SHAPE_FIELD_NUMBER: _ClassVar[int]
    QUANTIZER_FIELD_NUMBER: _ClassVar[int]
    BITS_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    ICC_PROFILE_FIELD_NUMBER: _ClassVar[int]
    ALPHA_FIELD_NUMBER: _ClassVar[int]
    format_version: int
    model: str
    model_version: bytes
    latent_shape: _containers.RepeatedScalarFieldContainer[int]
    quantizer: Quantizer
    bits: int
    width: int
    height: int
    mode: ImageMode
    data: bytes
    icc_profile: bytes
    alpha: bytes
    def __init__(self, format_version: _Optional[int] = ..., model: _Optional[str] = ..., model_version: _Optional[bytes] = ..., latent_shape: _Optional[_Iterable[int]] = ..., quantizer: _Optional[_Union[Quantizer, str]] = ..., bits: _Optional[int] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., mode: _Optional[_Union[ImageMode, str]] = ..., data: _Optional[bytes] = ..., icc_profile: _Optional[bytes] = ..., alpha: _Optional[bytes] = ...) -> None: ...

class Payload(_message.Message):
    __slots__ = ("code", "crc32")
    CODE_FIELD_NUMBER: _ClassVar[int]
    CRC32_FIELD_NUMBER: _ClassVar[int]
    code: bytes
    crc32: int
    def __init__(self, code: _Optional[bytes] = ..., crc32: _Optional[int] = ...) -> None: ...

class CompactCode(_message.Message):
    __slots__ = ("check", "data", "width", "height", "mode", "latent_shape", "icc_profile", "alpha", "quality")
    CHECK_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    LATENT_SHAPE_FIELD_NUMBER: _ClassVar[int]
    ICC_PROFILE_FIELD_NUMBER: _ClassVar[int]
    ALPHA_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    check: int
    data: bytes
    width: int
    height: int
    mode: ImageMode
    latent_shape: _containers.RepeatedScalarFieldContainer[int]
    icc_profile: bytes
    alpha: bytes
    quality: int
    def __init__(self, check: _Optional[int] = ..., data: _Optional[bytes] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., mode: _Optional[_Union[ImageMode, str]] = ..., latent_shape: _Optional[_Iterable[int]] = ..., icc_profile: _Optional[bytes] = ..., alpha: _Optional[bytes] = ..., quality: _Optional[int] = ...) -> None: ...
