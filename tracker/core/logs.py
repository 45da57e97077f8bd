"""Logging: one line per event, UTC times, and no secrets (tweepy logs headers at DEBUG)."""

from __future__ import annotations

import logging
import os
import re
import time

_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9%._~+/=-]+", re.IGNORECASE)
_AUTH_HEADER = re.compile(r"('Authorization':\s*')[^']*(')", re.IGNORECASE)


def redact(text: str, env_names: tuple[str, ...] = ()) -> str:
    """``text`` without bearer tokens, Authorization header values or the named env vars' values."""
    clean = _AUTH_HEADER.sub(r"\1[REDACTED]\2", _BEARER.sub(r"\1[REDACTED]", text))
    for name in env_names:
        value = os.environ.get(name)
        if value and len(value) >= 4:
            clean = clean.replace(value, "[REDACTED]")
    return clean


class RedactSecrets(logging.Filter):
    """Removes bearer tokens, Authorization headers and the values of named env vars.

    Also from a record's traceback and stack text, which the formatter would append unfiltered.
    """

    def __init__(self, env_names: tuple[str, ...] = ()):
        super().__init__()
        self.env_names = env_names

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        clean = redact(msg, self.env_names)
        if clean != msg:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.env_names)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.env_names)
        return True


# Secret variables every log redacts even before a config names its own: each registered
# source's default names (the registry adds them, tracker/sources/registry.py).
DEFAULT_SECRET_ENV: list[str] = []


def add_default_secret_env(*names: str) -> None:
    DEFAULT_SECRET_ENV.extend(n for n in names if n not in DEFAULT_SECRET_ENV)


def setup_logging(level: str = "INFO", log_file: str | None = None,
                  secret_env: tuple[str, ...] = ()) -> None:
    """Configure the root logger; safe to call more than once. Redacts the values of
    ``secret_env`` and of DEFAULT_SECRET_ENV."""
    secret_env = tuple(dict.fromkeys([*DEFAULT_SECRET_ENV, *secret_env]))
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
