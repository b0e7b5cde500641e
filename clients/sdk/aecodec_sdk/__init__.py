"""Python client for the aecodec service."""
