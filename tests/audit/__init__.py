"""Tests of reconstruct.audit: findings in an image's history and config."""
