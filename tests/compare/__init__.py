"""Tests of reconstruct.compare: comparing images, and which image another starts from."""
