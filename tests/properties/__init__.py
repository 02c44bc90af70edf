"""Property-based tests (hypothesis) across history, render, sources and text."""
