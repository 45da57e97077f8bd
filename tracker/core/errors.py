"""Typed errors. The CLI maps each to one readable line and an exit code."""


class TrackerError(Exception):
    """Base of every error the tracker raises on purpose."""

    exit_code = 1


class InvalidArgument(TrackerError):
    """A value given on the command line (or to a library call) that cannot be used: an unknown
    time zone, an item that is no post or URL. Exit 2, like any usage error."""

    exit_code = 2


class ConfigError(TrackerError):
    """config.yaml is missing or invalid; the message names the path (e.g. accounts[3].handle)."""

    exit_code = 2


class LockHeld(TrackerError):
    """Another tracker process is writing; this run did nothing."""

    exit_code = 3


class RunStopped(TrackerError):
    """A run stopped early (rate limit, usage cap, request budget); cursors are intact, it resumes."""

    exit_code = 4


class RateLimited(RunStopped):
    """HTTP 429 whose reset lies beyond the configured wait bound, or a usage cap."""

    def __init__(self, message: str, reset_at=None):
        super().__init__(message)
        self.reset_at = reset_at


class BudgetExhausted(RunStopped):
    """The run reached x.max_requests_per_run."""


class DatabaseUnavailable(TrackerError):
    """The database cannot be opened for writing; collection goes on into raw, loads wait."""

    exit_code = 5
    reason = "unavailable"


class DatabaseBusy(DatabaseUnavailable):
    """Another process holds the DuckDB file; pages stay in raw and load later."""

    reason = "busy"


class DatabaseDamaged(DatabaseUnavailable):
    """The DuckDB file is not a database DuckDB can read (overwritten, truncated, corrupt):
    pages stay in raw; `tracker rebuild` moves the file aside and rebuilds it from raw."""

    reason = "damaged"


class DatabaseTooNew(DatabaseUnavailable):
    """The DuckDB file was written by a newer DuckDB than the installed one: pages stay in raw;
    upgrading duckdb reads it again (nothing in it is lost)."""

    reason = "newer format"


class StorageError(TrackerError):
    """The data folder cannot be written (disk full, read-only): the run stops, nothing stored is
    damaged, and the first run that can write again resumes."""


class SourceError(TrackerError):
    """The remote API failed in a way retries did not cure (5xx, connection errors, bad bodies)."""


class MalformedPage(TrackerError):
    """A raw page cannot be normalized (invalid JSON, wrong shape); it is quarantined, not loaded."""


class QueryError(TrackerError):
    """A user SQL query failed or tried to write without --write."""
