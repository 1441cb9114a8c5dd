"""Pages of long listings: the one place that knows what ``offset``/``limit`` mean.

Every paged listing of the REST API answers a :class:`Page`. A backend that pages in
its own storage (SQL ``OFFSET``/``LIMIT``) checks the arguments with
:func:`check_page`; whatever is listed whole in memory is cut with :func:`page_of`
or :meth:`Page.of`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import BadRequest

T = TypeVar("T")


def check_page(offset: int, limit: int | None) -> None:
    """BadRequest unless ``offset``/``limit`` describe a page: offset ≥ 0, limit ≥ 1 or None."""
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise BadRequest(f"offset must be an integer ≥ 0, not {offset!r}")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise BadRequest(f"limit must be an integer ≥ 1, not {limit!r}")


def page_of(items: Sequence[T], offset: int = 0, limit: int | None = None) -> list[T]:
    """Items ``offset`` to ``offset + limit`` of an ordered sequence held in memory."""
    check_page(offset, limit)
    return list(items[offset : None if limit is None else offset + limit])


@dataclass
class Page:
    """One page of a long listing, and how long the whole listing is."""

    items: list[Any]
    total: int
    offset: int = 0
    limit: int | None = None

    @classmethod
    def of(cls, items: Sequence[Any], offset: int = 0, limit: int | None = None) -> Page:
        """The page of a listing small enough to be built whole (containers, images)."""
        return cls(page_of(items, offset, limit), len(items), offset, limit)

    def map(self, item: Callable[[Any], Any]) -> Page:
        """The same page with ``item(x)`` for each item (e.g. its JSON form)."""
        return Page([item(x) for x in self.items], self.total, self.offset, self.limit)

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "total": self.total,
            "offset": self.offset,
            "limit": self.limit,
        }
