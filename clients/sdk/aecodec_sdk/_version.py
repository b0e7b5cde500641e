"""The SDK's version, also sent in its User-Agent."""

__version__ = "0.2.0"
