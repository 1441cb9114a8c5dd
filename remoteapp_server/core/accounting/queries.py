"""The SQL queries of grants: one page of them, in one stable order, through indexes.

The order is the applications' image, then the mapping id. A page reads its mapping ids
first (walking the indexes, not sorting every grant), then the grants' details.
"""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from ..paging import check_page
from .base import Grant
from .orm import AccountingEntry, Application, ApplicationPolicy, HubGroup, User
from .policy import POLICY_FIELDS, Policy


def page(query: Select, offset: int, limit: int | None) -> Select:
    """One page of an ordered query: rows ``offset`` to ``offset + limit``."""
    check_page(offset, limit)
    if offset:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return query


#: From this offset on, a page of all grants skips whole applications (by their grant
#: counts) instead of walking every grant before it.
SKIP_APPLICATIONS_FROM = 1000


def deep_page_keys(session: Session, offset: int, limit: int) -> list[str]:
    """The mapping ids of one page deep into all grants (in :func:`grants_query` order).

    The applications' grant counts, in image order, come from the index alone (a few ms
    for 100,000 grants); only the applications that hold the page are then walked.
    """
    per_application = (
        select(func.count())
        .select_from(AccountingEntry)
        .where(AccountingEntry.application_id == Application.id)
        .scalar_subquery()
    )
    counts = session.execute(
        select(Application.id, per_application).order_by(Application.image)
    ).all()
    skipped, covered, holding = 0, 0, []
    for application_id, count in counts:
        if not holding and skipped + count <= offset:
            skipped += count  # the whole application lies before the page
            continue
        holding.append(application_id)
        covered += count
        if skipped + covered >= offset + limit:
            break
    if not holding:
        return []
    keys = grant_keys().where(AccountingEntry.application_id.in_(holding))
    return list(session.scalars(page(keys, offset - skipped, limit)))


def grant_keys(
    image: str | None = None, user: str | None = None, group: str | None = None
) -> Select:
    """The mapping ids of :func:`grants_query`, in the same order.

    ``+ 0`` keeps the join from being driven by the application's primary key: SQLite then
    walks the applications in image order (their unique index) and each one's grants
    through an index, so a page of 100 reads about 100 rows instead of sorting them all.
    """
    query = (
        select(AccountingEntry.mapping_id)
        .join(Application, AccountingEntry.application_id == Application.id + 0)
        .order_by(Application.image, AccountingEntry.mapping_id)
    )
    if image is not None:
        query = query.where(Application.image == image)
    if user is not None:
        query = query.join(User, AccountingEntry.user_id == User.id).where(User.name == user)
    if group is not None:
        query = query.join(HubGroup, AccountingEntry.group_id == HubGroup.id).where(
            HubGroup.name == group
        )
    return query


def grants_query(
    image: str | None = None, user: str | None = None, group: str | None = None
) -> Select:
    """All grant columns joined, optionally filtered, in a stable order."""
    query = (
        select(
            AccountingEntry.mapping_id,
            Application.image,
            User.name.label("user"),
            HubGroup.name.label("group"),
            *(getattr(ApplicationPolicy, field) for field in POLICY_FIELDS),
        )
        .join(Application, AccountingEntry.application_id == Application.id)
        .join(ApplicationPolicy, AccountingEntry.policy_id == ApplicationPolicy.id)
        .outerjoin(User, AccountingEntry.user_id == User.id)
        .outerjoin(HubGroup, AccountingEntry.group_id == HubGroup.id)
        .order_by(Application.image, AccountingEntry.mapping_id)
    )
    if image is not None:
        query = query.where(Application.image == image)
    if user is not None:
        query = query.where(User.name == user)
    if group is not None:
        query = query.where(HubGroup.name == group)
    return query


def to_grant(row) -> Grant:
    policy = Policy(**{field: getattr(row, field) for field in POLICY_FIELDS})
    return Grant(
        mapping_id=row.mapping_id, image=row.image, policy=policy, user=row.user, group=row.group
    )
