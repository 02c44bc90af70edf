"""The one error a reader raises for input it cannot read as asked.

Kept apart from `sources/` so that the blob layer, which sources build on, can raise it too.
"""


class SourceError(Exception):
    """Input that cannot be read as asked; the message is one line for the user."""
