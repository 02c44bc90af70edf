"""Tests with hostile inputs: every broken or malicious one ends in a one-line error."""
