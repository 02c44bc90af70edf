"""Tests of reconstruct.history: history lines, their rules, layer matching."""
