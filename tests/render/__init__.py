"""Tests of reconstruct.render: the output formats, and the bundled sample rendered as the seed."""
