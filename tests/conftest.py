"""Shared test configuration; the service's fixtures live in tests/service/conftest.py."""
