"""Where containers-storage keeps its images when no root is named: as containers/storage
itself decides (types/options.go), from storage.conf or the defaults.

- storage.conf: `$CONTAINERS_STORAGE_CONF`; else, for a user other than root,
  `$XDG_CONFIG_HOME/containers/storage.conf` (`~/.config/…`); else
  `/etc/containers/storage.conf`, then `/usr/share/containers/storage.conf`;
- its `[storage] graphroot` (root), or `rootless_storage_path` for another user (with `$HOME`,
  `$UID` and `$USER` expanded);
- else `/var/lib/containers/storage` (root) or `$XDG_DATA_HOME/containers/storage`
  (`~/.local/share/containers/storage`).

storage.conf is the machine's own configuration, not the input: it is read only to pick the
default, bounded, and a file that is not TOML is ignored as containers/storage would refuse it.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

ROOT_DEFAULT = Path("/var/lib/containers/storage")
SYSTEM_CONFIGS = (Path("/etc/containers/storage.conf"), Path("/usr/share/containers/storage.conf"))
MAX_CONFIG = 1024 * 1024


def _storage_table(path: Path) -> dict | None:
    try:
        if not path.is_file() or path.stat().st_size > MAX_CONFIG:
            return None
        document = tomllib.loads(path.read_text(errors="replace"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    table = document.get("storage")
    return table if isinstance(table, dict) else None


def _user_config() -> Path:
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "containers" / "storage.conf"


def _expand(text: str) -> str:
    uid = str(os.getuid())
    return (
        text.replace("$HOME", str(Path.home()))
        .replace("$UID", uid)
        .replace("$USER", os.environ.get("USER", uid))
    )


def default_graph_root() -> Path:
    rootless = os.getuid() != 0
    named = os.environ.get("CONTAINERS_STORAGE_CONF")
    candidates = [Path(named)] if named else []
    if rootless and not named:
        candidates.append(_user_config())
    if not named:
        candidates += SYSTEM_CONFIGS
    for path in candidates:
        table = _storage_table(path)
        if table is None:
            continue
        key = "rootless_storage_path" if rootless and path != _user_config() else "graphroot"
        value = table.get(key)
        if isinstance(value, str) and value:
            return Path(_expand(value))
        break  # the first storage.conf found is the one used, defaults for what it omits
    if not rootless:
        return ROOT_DEFAULT
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "containers" / "storage"
