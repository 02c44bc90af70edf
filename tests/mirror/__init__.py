"""Tests of reconstruct.mirror: every image and tag of a source as a repo-info tree."""
