"""Connection URLs parse into one immutable object; the scheme picks the adapter, ``+`` a variant."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from vecbridge.errors import InvalidURLError

_SCHEME = re.compile(r"[a-z][a-z0-9-]*(\+[a-z][a-z0-9-]*)?")
_SECRET = re.compile(r"(key|token|secret|password)", re.IGNORECASE)


def _is_secret(option: str) -> bool:
    """Query options holding a credential (``api_key``, ``token``), masked like the password;
    ``*_env`` options name an environment variable and are shown."""
    return bool(_SECRET.search(option)) and not option.endswith("_env")


@dataclass(frozen=True, slots=True)
class URL:
    """``backend+driver://user:password@host:port/path?key=value``."""

    backend: str
    driver: str | None = None
    username: str | None = None
    password: str | None = None
    host: str | None = None
    port: int | None = None
    path: str = ""
    query: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def scheme(self) -> str:
        return f"{self.backend}+{self.driver}" if self.driver else self.backend

    @classmethod
    def parse(cls, text: str) -> URL:
        if not isinstance(text, str) or "://" not in text:
            raise InvalidURLError(f"{text!r} is not a URL like 'memory://' or 'qdrant://host:6333'")
        scheme = text.split("://", 1)[0].lower()
        if not _SCHEME.fullmatch(scheme):
            raise InvalidURLError(f"{text!r}: {scheme!r} is not a valid scheme")
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError as exc:
            raise InvalidURLError(f"{text!r}: {exc}") from None
        backend, _, driver = scheme.partition("+")
        try:
            query = dict(parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query)))
        except ValueError as exc:
            raise InvalidURLError(f"{text!r}: bad query string: {exc}") from None
        return cls(
            backend=backend,
            driver=driver or None,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            host=parts.hostname or None,
            port=port,
            path=unquote(parts.path),
            query=MappingProxyType(query),
        )

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.query.get(key, default)

    def render(self, hide_password: bool = True) -> str:
        """The URL as text; the password is masked unless asked for (URLs end up in logs and reports)."""
        auth = ""
        if self.username is not None:
            auth = quote(self.username, safe="")
            if self.password is not None:
                auth += ":" + ("***" if hide_password else quote(self.password, safe=""))
            auth += "@"
        host = self.host or ""
        if self.port is not None:
            host += f":{self.port}"
        query = "&".join(
            f"{quote(k)}={'***' if hide_password and _is_secret(k) else quote(v)}" for k, v in self.query.items()
        )
        return f"{self.scheme}://{auth}{host}{quote(self.path)}" + (f"?{query}" if query else "")

    def __str__(self) -> str:
        return self.render()
