"""Bytes as stored, below every source: the one place files are opened (files.py), digests
(digests.py), content-addressed blob stores (stores.py), decompression (compression.py) and the
one tar reader every archive and the engine's export go through (tar.py). Knows nothing of
images: sources build the model on top of it."""
