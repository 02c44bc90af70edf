"""Test-wide setup: the real-engine fixtures, and no network."""

import ipaddress
import sys

pytest_plugins = ["tests.plugins.engines", "tests.plugins.summary"]


def _refuse_remote_connections(event: str, args: tuple) -> None:
    """Offline by construction: any in-process connection beyond loopback fails the run."""
    if event != "socket.connect" or len(args) < 2 or not isinstance(args[1], tuple):
        return
    host = str(args[1][0])
    try:
        local = host == "localhost" or ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        local = False
    if not local:
        raise RuntimeError(f"test tried to reach the network: {args[1]!r}")


sys.addaudithook(_refuse_remote_connections)
