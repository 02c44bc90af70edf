"""Tests of reconstruct.sources: the reader of every transport, archives to engines."""
