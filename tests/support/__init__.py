"""Shared test machinery: data paths, machine needs, CLI runner, fake engine, hostile inputs."""
