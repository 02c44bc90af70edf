"""Tests of reconstruct.cli: the command line as a user runs it."""
