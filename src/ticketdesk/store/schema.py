"""Table definitions (SQLAlchemy Core). Alembic migrations create them; tests compare the two."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    func,
    literal_column,
)

from ticketdesk.domain.accounts import ROLES
from ticketdesk.domain.durations import FIRST_RESPONSE, RESOLUTION
from ticketdesk.domain.mail import InboundOutcome, MailState
from ticketdesk.domain.tickets import PRIORITIES, STATUSES, EventKind, MessageKind


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


metadata = MetaData()

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(254), nullable=False),
    Column("email_key", String(254), nullable=False, unique=True),  # trimmed, case-folded
    # Unique: histories and the assignee column show people by name.
    Column("name", String(100), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("password_hash", String(255), nullable=True),  # argon2id; None = single sign-on only
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint(_in("role", ROLES), name="ck_accounts_role"),
    sqlite_autoincrement=True,
)

auth_sessions = Table(
    "auth_sessions",
    metadata,
    # SHA-256 of the cookie's random token: a copy of this table opens no session.
    Column("token_hash", String(64), primary_key=True),
    Column(
        "account_id",
        Integer,
        ForeignKey("accounts.id", ondelete="CASCADE", name="fk_auth_sessions_account"),
        nullable=False,
    ),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)
Index("ix_auth_sessions_account", auth_sessions.c.account_id)
Index("ix_auth_sessions_expires_at", auth_sessions.c.expires_at)

signin_failures = Table(
    "signin_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email_key", String(254), nullable=False),
    Column("address", String(64), nullable=False),
    Column("at", UTCDateTime, nullable=False),
)
"""Failed sign-ins of the last window, counted per account and per address to slow down
password guessing (shared by every app server)."""
Index("ix_signin_failures_email", signin_failures.c.email_key, signin_failures.c.at)
Index("ix_signin_failures_address", signin_failures.c.address, signin_failures.c.at)

ISSUE_SORT_CHARS = 100
"""Sorting by issue compares the first 100 characters (an index on the whole text would
exceed PostgreSQL's index row limit); ties fall back to the ticket ID."""

tickets = Table(
    "tickets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("issue", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("priority", String(10), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("version", Integer, nullable=False, server_default="1"),
    # Maintained in the same transaction as the events that define them, so the KPIs
    # read one indexed column instead of replaying every history.
    Column("first_response_at", UTCDateTime, nullable=True),
    Column("closed_at", UTCDateTime, nullable=True),
    # Hours from creation to first_response_at / closed_at (None while that is None) and
    # their duration buckets (counters.duration_bucket), written with them: the dashboard's
    # medians and SLA shares read these instead of computing them for every ticket.
    Column("first_response_hours", Float, nullable=True),
    Column("first_response_bucket", SmallInteger, nullable=True),
    Column("resolution_hours", Float, nullable=True),
    Column("resolution_bucket", SmallInteger, nullable=True),
    # Sort keys: 1 = Open / High ... so that ordering by them reads as people expect.
    Column("status_rank", SmallInteger, nullable=False),
    Column("priority_rank", SmallInteger, nullable=False),
    Column("requester", String(100), nullable=True),  # who asked: their name when they asked
    Column("assignee", String(100), nullable=True),  # the agent working it; None = unassigned
    # The account that filed it (None for tickets from before accounts): requesters see
    # the tickets whose requester_id is theirs.
    Column("requester_id", Integer, ForeignKey("accounts.id", name="fk_tickets_requester")),
    CheckConstraint(_in("status", STATUSES), name="ck_tickets_status"),
    CheckConstraint(_in("priority", PRIORITIES), name="ck_tickets_priority"),
    sqlite_autoincrement=True,
)
ISSUE_SORT_KEY = func.substr(
    tickets.c.issue, literal_column("1"), literal_column(str(ISSUE_SORT_CHARS))
)
Index("ix_tickets_created_at_id", tickets.c.created_at, tickets.c.id)
# Keyset pagination: every sortable column is indexed together with the id tie-breaker.
Index("ix_tickets_status_id", tickets.c.status, tickets.c.id)
Index("ix_tickets_priority_id", tickets.c.priority, tickets.c.id)
Index("ix_tickets_status_rank_id", tickets.c.status_rank, tickets.c.id)
Index("ix_tickets_priority_rank_id", tickets.c.priority_rank, tickets.c.id)
Index("ix_tickets_issue_prefix_id", ISSUE_SORT_KEY, tickets.c.id)
Index("ix_tickets_assignee_id", tickets.c.assignee, tickets.c.id)
Index("ix_tickets_requester_id", tickets.c.requester_id, tickets.c.id)
# Dashboard. A median reads only the tickets of one duration bucket: those of the period, to
# sort them, when the period holds a small share of the bucket; else the bucket's tickets in
# the order of their hours, counting those of the period (statistics.median_hours):
Index(
    "ix_tickets_first_response_bucket",
    tickets.c.first_response_bucket,
    tickets.c.first_response_at,
    tickets.c.first_response_hours,
)
Index(
    "ix_tickets_first_response_bucket_hours",
    tickets.c.first_response_bucket,
    tickets.c.first_response_hours,
    tickets.c.first_response_at,
)
Index(
    "ix_tickets_resolution_bucket",
    tickets.c.resolution_bucket,
    tickets.c.closed_at,
    tickets.c.resolution_hours,
)
Index(
    "ix_tickets_resolution_bucket_hours",
    tickets.c.resolution_bucket,
    tickets.c.resolution_hours,
    tickets.c.closed_at,
)
# Deadlines missed in a period, the latest first, per priority:
Index(
    "ix_tickets_first_response_late",
    tickets.c.priority,
    tickets.c.first_response_hours,
    tickets.c.created_at,
)
Index(
    "ix_tickets_resolution_late",
    tickets.c.priority,
    tickets.c.resolution_hours,
    tickets.c.created_at,
)
# Open tickets (closed_at is None exactly when the status is not Closed) in two groups, the
# unanswered ones (first_response_at is None: never out of Open) apart; each group indexed by
# priority, oldest first (the most overdue), and by priority and assignee, newest last (how
# many of an assignee's are still within their targets is one short range each).
OPEN_TICKET_GROUPS = {
    "unanswered": tickets.c.first_response_at.is_(None),
    "open_answered": tickets.c.closed_at.is_(None) & tickets.c.first_response_at.is_not(None),
}
for _group, _where in OPEN_TICKET_GROUPS.items():
    Index(
        f"ix_tickets_{_group}",
        tickets.c.priority,
        tickets.c.created_at,
        tickets.c.assignee,
        sqlite_where=_where,
        postgresql_where=_where,
    )
    Index(
        f"ix_tickets_{_group}_by_assignee",
        tickets.c.priority,
        tickets.c.assignee,
        tickets.c.created_at,
        sqlite_where=_where,
        postgresql_where=_where,
    )

ticket_events = Table(
    "ticket_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "ticket_id",
        Integer,
        ForeignKey("tickets.id", ondelete="CASCADE", name="fk_ticket_events_ticket"),
        nullable=False,
    ),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("old_value", Text, nullable=True),
    Column("new_value", Text, nullable=True),
    Column("actor", String(100), nullable=True),  # the actor's name when they made the change
    Column("actor_id", Integer, ForeignKey("accounts.id", name="fk_ticket_events_actor")),
    Column("version", Integer, nullable=True),  # the ticket's version this change produced
    CheckConstraint(_in("kind", tuple(k.value for k in EventKind)), name="ck_events_kind"),
    sqlite_autoincrement=True,
)
Index("ix_ticket_events_ticket", ticket_events.c.ticket_id, ticket_events.c.occurred_at)

# Counters kept in the same transaction as every change, so the dashboard and the table's
# page count never scan the tickets. Days are UTC dates as 'YYYY-MM-DD' text on every backend.
ticket_counts = Table(
    "ticket_counts",
    metadata,
    Column("created_day", String(10), primary_key=True),
    Column("status", String(20), primary_key=True),
    Column("priority", String(10), primary_key=True),
    Column("tickets", Integer, nullable=False),
)

daily_activity = Table(
    "daily_activity",
    metadata,
    Column("day", String(10), primary_key=True),
    Column("created", Integer, nullable=False, server_default="0"),
    Column("closes", Integer, nullable=False, server_default="0"),
    Column("reopens", Integer, nullable=False, server_default="0"),
    # Tickets whose first response fell on this day, and the sum of their hours.
    Column("first_responses", Integer, nullable=False, server_default="0"),
    Column("first_response_hours", Float, nullable=False, server_default="0"),
    # Tickets Closed now whose latest close fell on this day, and the sum of their hours.
    Column("resolutions", Integer, nullable=False, server_default="0"),
    Column("resolution_hours", Float, nullable=False, server_default="0"),
)

duration_counts = Table(
    "duration_counts",
    metadata,
    Column("measure", String(20), primary_key=True),  # first_response / resolution
    Column("day", String(10), primary_key=True),  # the day of the first response / close
    Column("bucket", SmallInteger, primary_key=True),
    Column("tickets", Integer, nullable=False),
)
"""How many tickets' first response (resolution) of a day fell in each duration bucket: a
histogram that finds the bucket holding a period's median without reading the tickets."""
# The buckets of one band over a run of days, without reading every day's other buckets:
Index(
    "ix_duration_counts_bucket",
    duration_counts.c.measure,
    duration_counts.c.bucket,
    duration_counts.c.day,
    duration_counts.c.tickets,
)

duration_bands = Table(
    "duration_bands",
    metadata,
    Column("measure", String(20), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("band", SmallInteger, primary_key=True),  # bucket // counters.BUCKETS_PER_BAND
    Column("tickets", Integer, nullable=False),
)
"""duration_counts summed over bands of adjacent buckets: a period's median first finds its
band in these few rows per day, then its bucket among that band's buckets."""

deadline_counts = Table(
    "deadline_counts",
    metadata,
    Column("priority", String(10), primary_key=True),
    Column("hour", String(13), primary_key=True),  # creation hour, 'YYYY-MM-DD HH' (UTC)
    Column("tickets", Integer, nullable=False),
    Column("first_met", Integer, nullable=False),  # answered within the target (+ tolerance)
    Column("resolution_met", Integer, nullable=False),  # Closed now, within the target
)
"""Per creation hour and priority, tickets filed and deadlines met under the stored SLA
targets (see deadline_counts.py); rebuilt when the targets change."""

deadline_days = Table(
    "deadline_days",
    metadata,
    Column("priority", String(10), primary_key=True),
    Column("day", String(10), primary_key=True),  # creation day, 'YYYY-MM-DD' (UTC)
    Column("tickets", Integer, nullable=False),
    Column("first_met", Integer, nullable=False),
    Column("resolution_met", Integer, nullable=False),
)
"""deadline_counts summed per creation day: a window's whole days read one row a day each."""

assignee_counts = Table(
    "assignee_counts",
    metadata,
    Column("assignee", String(100), primary_key=True),  # "" = unassigned (names never are)
    Column("status", String(20), primary_key=True),
    Column("tickets", Integer, nullable=False),
)
"""Tickets per assignee and status as they are now: the dashboard's open tickets per
assignee without reading the open backlog."""

desk_revision = Table(
    "desk_revision",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("revision", BigInteger, nullable=False),
    CheckConstraint("id = 1", name="ck_desk_revision_single_row"),
)
"""One row whose revision goes up with every write: a cheap change marker for caches and
live views, shared by every app server on the same database."""

ticket_messages = Table(
    "ticket_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "ticket_id",
        Integer,
        ForeignKey("tickets.id", ondelete="CASCADE", name="fk_ticket_messages_ticket"),
        nullable=False,
    ),
    Column("created_at", UTCDateTime, nullable=False),
    Column("author", String(100), nullable=True),
    Column("author_id", Integer, ForeignKey("accounts.id", name="fk_ticket_messages_author")),
    Column("kind", String(20), nullable=False),
    Column("body", Text, nullable=False),
    CheckConstraint(_in("kind", tuple(k.value for k in MessageKind)), name="ck_messages_kind"),
    sqlite_autoincrement=True,
)
Index("ix_ticket_messages_ticket", ticket_messages.c.ticket_id, ticket_messages.c.id)

attachments = Table(
    "attachments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "ticket_id",
        Integer,
        ForeignKey("tickets.id", ondelete="CASCADE", name="fk_attachments_ticket"),
        nullable=False,
    ),
    # None: a file of the ticket itself (attached when it was filed); else its message's.
    Column(
        "message_id",
        Integer,
        ForeignKey("ticket_messages.id", ondelete="CASCADE", name="fk_attachments_message"),
        nullable=True,
    ),
    Column("sha256", String(64), nullable=False),  # the blob's key in the file store
    Column("name", String(255), nullable=False),  # domain.files.safe_name of the sent name
    Column("size", BigInteger, nullable=False),
    Column("content_type", String(100), nullable=False),  # from the content, not the name
    Column("created_at", UTCDateTime, nullable=False),
    Column("author_id", Integer, ForeignKey("accounts.id", name="fk_attachments_author")),
    sqlite_autoincrement=True,
)
"""Files on tickets and messages: metadata only; the bytes are in the file store, one blob per
distinct content, deleted when no row here names it any more."""
Index("ix_attachments_ticket", attachments.c.ticket_id, attachments.c.message_id)
Index("ix_attachments_sha256", attachments.c.sha256)

sla_targets = Table(
    "sla_targets",
    metadata,
    Column("priority", String(10), primary_key=True),
    Column("first_response_hours", Float, nullable=False),
    Column("resolution_hours", Float, nullable=False),
    CheckConstraint("first_response_hours > 0 AND resolution_hours > 0", name="ck_sla_positive"),
)


api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # SHA-256 of the random token (shown once): a copy of this table calls no API.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column(
        "account_id",
        Integer,
        ForeignKey("accounts.id", ondelete="CASCADE", name="fk_api_tokens_account"),
        nullable=False,
    ),
    Column("name", String(100), nullable=False),
    Column("read_only", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime, nullable=True),
    sqlite_autoincrement=True,
)
Index("ix_api_tokens_account", api_tokens.c.account_id)

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("url", String(2000), nullable=False),
    Column("secret", String(100), nullable=False),  # whsec_<base64>, Standard Webhooks
    Column("events", String(200), nullable=False),  # comma-separated event types
    Column("internal", Boolean, nullable=False),  # also internal notes
    Column("allow_private", Boolean, nullable=False),  # an admin allowed a private address
    Column("active", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("failing_since", UTCDateTime, nullable=True),
    Column("disabled_reason", Text, nullable=True),
    sqlite_autoincrement=True,
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "subscription_id",
        Integer,
        ForeignKey(
            "webhook_subscriptions.id", ondelete="CASCADE", name="fk_webhook_deliveries_sub"
        ),
        nullable=False,
    ),
    Column("webhook_id", String(64), nullable=False),  # the webhook-id header: same on retries
    Column("event", String(40), nullable=False),
    Column("ticket_id", Integer, nullable=False),
    Column("payload", Text, nullable=False),  # the JSON body, as signed
    Column("created_at", UTCDateTime, nullable=False),
    Column("state", String(10), nullable=False),  # pending, delivered, failed
    Column("attempts", Integer, nullable=False),
    Column("next_try_at", UTCDateTime, nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_duration_ms", Float, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("delivered_at", UTCDateTime, nullable=True),
    sqlite_autoincrement=True,
)
Index("ix_webhook_deliveries_due", webhook_deliveries.c.state, webhook_deliveries.c.next_try_at)
Index("ix_webhook_deliveries_sub", webhook_deliveries.c.subscription_id, webhook_deliveries.c.id)
Index(  # the pruning's
    "ix_webhook_deliveries_delivered", webhook_deliveries.c.state, webhook_deliveries.c.delivered_at
)


# -- mail (docs/email.md) ------------------------------------------------------------------

mail_outbox = Table(
    "mail_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # Written with the ticket change that causes it (store.notifications.record), so a change
    # that rolls back mails nobody, and one that commits is never forgotten.
    Column("message_id", String(255), nullable=False, unique=True),  # stable across retries
    Column(
        "ticket_id",
        Integer,
        ForeignKey("tickets.id", ondelete="CASCADE", name="fk_mail_outbox_ticket"),
        nullable=True,  # the answer to a refused sender is about no ticket
    ),
    Column("kind", String(30), nullable=False),  # notifications.NoticeKind
    Column("recipient_id", Integer, ForeignKey("accounts.id", name="fk_mail_outbox_recipient")),
    Column("recipient", String(254), nullable=False),
    Column("recipient_name", String(100), nullable=True),
    Column("subject", String(300), nullable=False),
    Column("body_text", Text, nullable=False),
    Column("body_html", Text, nullable=False),
    Column("in_reply_to", String(255), nullable=True),  # for mail about no ticket
    Column("created_at", UTCDateTime, nullable=False),
    Column("state", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("lease_until", UTCDateTime, nullable=True),  # a claim by a worker ends then
    Column("claimed_by", String(100), nullable=True),
    Column("last_error", Text, nullable=True),  # the server's reason of the last failure
    Column("sent_at", UTCDateTime, nullable=True),
    CheckConstraint(_in("state", tuple(s.value for s in MailState)), name="ck_mail_outbox_state"),
    sqlite_autoincrement=True,
)
Index("ix_mail_outbox_due", mail_outbox.c.state, mail_outbox.c.next_attempt_at)
Index("ix_mail_outbox_ticket", mail_outbox.c.ticket_id, mail_outbox.c.created_at)
Index("ix_mail_outbox_sent", mail_outbox.c.state, mail_outbox.c.sent_at)  # the pruning's

mail_sent_ids = Table(
    "mail_sent_ids",
    metadata,
    # What threading needs of a sent mail that the outbox no longer holds (pruned after
    # TICKETDESK_OUTBOX_RETENTION_DAYS): its Message-ID, which answers name in In-Reply-To
    # and References, its ticket, and its place in the thread (the outbox row's id and time).
    Column("message_id", String(255), primary_key=True),
    Column("outbox_id", Integer, nullable=False),
    Column(
        "ticket_id",
        Integer,
        ForeignKey("tickets.id", ondelete="CASCADE", name="fk_mail_sent_ids_ticket"),
        nullable=True,
    ),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_mail_sent_ids_ticket", mail_sent_ids.c.ticket_id, mail_sent_ids.c.created_at)

mail_inbox = Table(
    "mail_inbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # Unique: the same mail fetched twice (a crash between storing and moving it, two
    # fetchers) is stored once; threading looks replies up here and in the outbox.
    Column("message_id", String(255), nullable=False, unique=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("channel", String(10), nullable=False),  # imap, smtp, lmtp
    Column("sender", String(254), nullable=True),
    Column("subject", String(300), nullable=True),
    Column("size", Integer, nullable=False),
    Column("raw", LargeBinary, nullable=True),  # the message as received, zlib-compressed
    Column("outcome", String(10), nullable=False),
    Column("reason", Text, nullable=True),  # why it was ignored or rejected
    Column(
        "ticket_id",
        Integer,
        ForeignKey("tickets.id", ondelete="CASCADE", name="fk_mail_inbox_ticket"),
        nullable=True,
    ),
    Column(
        "ticket_message_id",
        Integer,
        ForeignKey("ticket_messages.id", ondelete="CASCADE", name="fk_mail_inbox_message"),
        nullable=True,
    ),
    CheckConstraint(
        _in("outcome", tuple(o.value for o in InboundOutcome)), name="ck_mail_inbox_outcome"
    ),
    sqlite_autoincrement=True,
)
Index("ix_mail_inbox_ticket", mail_inbox.c.ticket_id, mail_inbox.c.received_at)
Index("ix_mail_inbox_outcome", mail_inbox.c.outcome, mail_inbox.c.id)

notification_optouts = Table(
    "notification_optouts",
    metadata,
    Column(
        "account_id",
        Integer,
        ForeignKey("accounts.id", ondelete="CASCADE", name="fk_notification_optouts_account"),
        primary_key=True,
    ),
    Column("kind", String(30), primary_key=True),
)
"""The kinds of notification a person switched off ("Your account"); all others are on."""

desk_settings = Table(
    "desk_settings",
    metadata,
    Column("key", String(50), primary_key=True),
    Column("value", String(200), nullable=False),
)
"""Admin settings as key and value (the mail settings of the Outbox page)."""


MEASURED = {
    FIRST_RESPONSE: (
        tickets.c.first_response_at,
        tickets.c.first_response_hours,
        tickets.c.first_response_bucket,
    ),
    RESOLUTION: (tickets.c.closed_at, tickets.c.resolution_hours, tickets.c.resolution_bucket),
}
"""Per measure: the tickets' columns of the moment it ended, its hours and its bucket."""


UNASSIGNED = ""
"""assignee_counts' key for the tickets without an assignee (no name is empty)."""


DEADLINE_HOURS = {
    "first_met": tickets.c.first_response_hours,
    "resolution_met": tickets.c.resolution_hours,
}
"""The stored duration each `met` column counts against its target."""
