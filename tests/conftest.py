"""Shared test setup: every module in ``tests/servers/`` is a plugin providing one session-scoped
fixture that starts a real engine (or reads its URL from the environment) and yields its URL."""

import pkgutil
from pathlib import Path

pytest_plugins = [f"servers.{module.name}" for module in pkgutil.iter_modules([str(Path(__file__).parent / "servers")])]
