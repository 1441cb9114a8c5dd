"""Accounting backends: SQL (SQLAlchemy, SQLite by default) and read-only CSV."""

from .base import Accounting, Grant
from .policy import Policy, parse_volume

__all__ = ["Accounting", "Grant", "Policy", "open_accounting", "parse_volume"]


def open_accounting(url: str, **kwargs) -> Accounting:
    """Open the backend for ``url``: a ``.csv`` path is the CSV backend, anything else SQL.

    A plain filesystem path (no ``://``) ending in something else is an SQLite file.
    """
    if url.endswith(".csv") and "://" not in url:
        from .csv import CSVAccounting

        return CSVAccounting(url)
    from .sql import SQLAccounting

    return SQLAccounting(url, **kwargs)


def unavailable(reason: str) -> Accounting:
    """An accounting that answers every call with ``Unavailable(reason)``.

    Used when the configured backend cannot be opened at start: the server still
    starts and every API call says why, instead of the extension vanishing.
    """
    from ..errors import Unavailable

    class UnavailableAccounting:
        read_only = True

        def __getattr__(self, name):
            if name.startswith("_") or name == "close":
                if name == "close":
                    return lambda: None
                raise AttributeError(name)

            def fail(*args, **kwargs):
                raise Unavailable(reason)

            return fail

    return UnavailableAccounting()  # type: ignore[return-value]
