"""Reads the login the TypeScript CLI stored (``simutrador auth login``): ``credentials.json`` in
$SIMUTRADOR_CONFIG_DIR, else $XDG_CONFIG_HOME/simutrador, else ~/.config/simutrador, keyed by server URL
(client/cli/credentials.ts). Read-only: the Python runner never writes it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Mapping, Optional
from urllib.parse import urlsplit


def config_dir(env: Mapping[str, str] = os.environ) -> Path:
    explicit = env.get("SIMUTRADOR_CONFIG_DIR", "")
    if explicit:
        return Path(explicit)
    xdg = env.get("XDG_CONFIG_HOME", "")
    return (Path(xdg) if xdg else Path.home() / ".config") / "simutrador"


def normalise_server(url: str) -> str:
    """The key the CLI stores a login under: ``new URL(url).toString()`` without trailing slashes."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    default = {"http": 80, "https": 443}.get(scheme)
    netloc = host if port is None or port == default else f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}{':' + parts.password if parts.password else ''}@{netloc}"
    text = f"{scheme}://{netloc}{parts.path or '/'}"
    if parts.query:
        text += f"?{parts.query}"
    return text.rstrip("/")


def stored_api_key(servers: list[str], env: Mapping[str, str] = os.environ) -> Optional[str]:
    """The API key stored for the first of ``servers`` that has a login."""
    try:
        data = json.loads((config_dir(env) / "credentials.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    entries = data.get("servers") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        return None
    for server in servers:
        entry = entries.get(normalise_server(server))
        if isinstance(entry, dict) and isinstance(entry.get("api_key"), str):
            return str(entry["api_key"])
    return None
