"""reconstruct: rebuild how a container image was made, offline, from the metadata on disk."""

__version__ = "0.1.0"
