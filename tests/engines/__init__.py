"""Tests of the engine fixtures themselves (tests/plugins/engines/): they made what they claim."""
