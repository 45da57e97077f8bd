"""Logging: one line per event, UTC times, and no secrets (tweepy logs headers at DEBUG)."""

from __future__ import annotations

import logging
import os
import re
import time

_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9%._~+/=-]+", re.IGNORECASE)
_AUTH_HEADER = re.compile(r"('Authorization':\s*')[^']*(')", re.IGNORECASE)


class RedactSecrets(logging.Filter):
    """Removes bearer tokens, Authorization headers and the values of named env vars."""

    def __init__(self, env_names: tuple[str, ...] = ()):
        super().__init__()
        self.env_names = env_names

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        clean = _AUTH_HEADER.sub(r"\1[REDACTED]\2", _BEARER.sub(r"\1[REDACTED]", msg))
        for name in self.env_names:
            value = os.environ.get(name)
            if value and len(value) >= 4:
                clean = clean.replace(value, "[REDACTED]")
        if clean != msg:
            record.msg, record.args = clean, None
        return True


def setup_logging(level: str = "INFO", log_file: str | None = None,
                  secret_env: tuple[str, ...] = ("X_BEARER_TOKEN",)) -> None:
    """Configure the root logger; safe to call more than once."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_tracker", False):
            root.removeHandler(h)
    handler = logging.FileHandler(log_file) if log_file else logging.StreamHandler()
    handler._tracker = True  # type: ignore[attr-defined]
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                            "%Y-%m-%dT%H:%M:%SZ")
    fmt.converter = time.gmtime
    handler.setFormatter(fmt)
    handler.addFilter(RedactSecrets(secret_env))
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    # tweepy writes request headers (Authorization included) at DEBUG: never let them through.
    logging.getLogger("tweepy").setLevel(max(logging.INFO, root.level))
    logging.getLogger("urllib3").setLevel(max(logging.INFO, root.level))
