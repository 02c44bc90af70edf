"""Tests of reconstruct.verify: every digest and size a source can prove, blob by blob."""
