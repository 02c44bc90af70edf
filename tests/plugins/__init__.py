"""The suite's pytest plugins, registered from tests/conftest.py."""
