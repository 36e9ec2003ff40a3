"""The API's request and response bodies (pydantic): what the OpenAPI document describes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ticketdesk.domain.tickets import ISSUE_MAX_CHARS, MESSAGE_MAX_CHARS

StatusName = Literal["Open", "In Progress", "Closed"]
PriorityName = Literal["High", "Medium", "Low"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TicketOut(BaseModel):
    id: int
    code: str = Field(examples=["TICKET-1042"])
    issue: str
    status: StatusName
    priority: PriorityName
    created_at: datetime
    updated_at: datetime | None = Field(
        description="When it last changed as you may see it (null in lists for requesters)."
    )
    first_response_at: datetime | None
    closed_at: datetime | None
    requester: str | None
    assignee: str | None
    version: int | None = Field(
        description="For If-Match (agents and admins; null for requesters)."
    )


class TicketList(BaseModel):
    items: list[TicketOut]
    matching: int = Field(
        description="Tickets matching the filter. Searches, unassigned and assignee filters, "
        "and a requester's tickets are counted up to 10,000 only (then "
        "`matching_is_lower_bound`)."
    )
    matching_is_lower_bound: bool
    next_cursor: str | None = Field(
        description="Pass as `cursor` (with the same filter) for the next page; null at the "
        "end. The cursors reach every matching ticket, also past a capped `matching`."
    )


class MessageOut(BaseModel):
    id: int
    created_at: datetime
    author: str | None
    kind: Literal["reply", "note", "message"]
    body: str


class ChangeOut(BaseModel):
    occurred_at: datetime
    kind: str
    old_value: str | None
    new_value: str | None
    actor: str | None


class TicketDetailOut(BaseModel):
    ticket: TicketOut
    messages: list[MessageOut]
    history: list[ChangeOut]


class NewTicket(Strict):
    issue: str = Field(min_length=1, max_length=ISSUE_MAX_CHARS)
    priority: PriorityName = "Medium"


class TicketPatch(Strict):
    """Only the fields given change; `"assignee": null` unassigns."""

    status: StatusName | None = None
    priority: PriorityName | None = None
    issue: str | None = Field(default=None, min_length=1, max_length=ISSUE_MAX_CHARS)
    assignee: str | None = Field(default=None, max_length=100)


class NewMessage(Strict):
    kind: Literal["reply", "note", "message"] = Field(
        description="reply (agents, public), note (agents, internal), message (the requester)."
    )
    body: str = Field(min_length=1, max_length=MESSAGE_MAX_CHARS)


class PeriodOut(BaseModel):
    first: date
    last: date
    created: int
    closes: int
    reopens: int
    reopen_rate: float | None
    first_response_median_hours: float | None
    resolution_median_hours: float | None


class DashboardOut(BaseModel):
    current: PeriodOut
    previous: PeriodOut
    open_now: int
    open_at_period_start: int
    open_past_target: int


class AccountOut(BaseModel):
    id: int
    email: str
    name: str
    role: Literal["requester", "agent", "admin"]
    active: bool


class SlaTargetOut(BaseModel):
    first_response_hours: float = Field(gt=0)
    resolution_hours: float = Field(gt=0)


class SlaTargets(Strict):
    High: SlaTargetOut
    Medium: SlaTargetOut
    Low: SlaTargetOut


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    current: TicketOut | None = Field(default=None, description="412: the ticket as it is now.")
