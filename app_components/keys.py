"""Every st.session_state key of the app, by name: widgets' keys and the values pages keep
between runs. The values are what AppTest tests and browser tests address widgets by."""

from __future__ import annotations

# The session and the live view (session.py) --------------------------------------------------
SESSION_TOKEN = "session_token"  # noqa: S105 (a state key, not a secret)
"""Where AppTest puts a session token (it cannot send cookies); browsers send the cookie."""
WHOLE_PAGE_RUN = "drawing_whole_page"
SEEN_REVISION = "seen_revision"  # the desk revision the page on screen was drawn from
DATABASE_DOWN = "database_down"  # the database could not be reached in this or the last run

# Notices (notices.py) ------------------------------------------------------------------------
NOTICES = "notices"  # what to tell the person in a coming run, per place on the page

# The ticket list (app_pages/tickets.py and ticket_grid.py) -----------------------------------
NEW_ISSUE = "new_issue"
NEW_PRIORITY = "new_priority"
NEW_FILES = "new_files"  # + the round (attachments.uploader_key): the new ticket's files
NEW_TICKET = "new_ticket"  # the new-ticket form's popover is open
SEARCH = "search"
FILTER_WHO = "filter_who"
FILTER_STATUS = "filter_status"
FILTER_PRIORITY = "filter_priority"
FILTER_DAYS = "filter_days"
SORT_BY = "sort_by"
SORT_DESCENDING = "sort_descending"
VIEW = "view"  # the (filter, sort) of the pages shown: another one starts on page 1
PAGE = "page"  # the pager
ANCHOR = "anchor"  # where the page shown starts, to step from it cheaply
GRID_PREFIX = "grid-"  # + GRID_REVISION: the grid's key
GRID_REVISION = "grid_revision"  # a new one draws a fresh grid, without edits
GRID_REPLACED = "grid_replaced"  # the next run of the table redraws the whole page
GRID_DRAWN = "grid_drawn"  # the ticket ids and editable cells the grid was drawn with

# One ticket's page (ticket_detail.py) --------------------------------------------------------
DETAIL_STATUS = "detail_status"
DETAIL_PRIORITY = "detail_priority"
DETAIL_ASSIGNEE = "detail_assignee"
MESSAGE_BODY = "message_body"
MESSAGE_KIND = "message_kind"
MESSAGE_KIND_SHOWN = "message_kind_shown"  # the kind the reply form was drawn with
MESSAGE_FILES = "message_files"  # + the round: the files of the message being written
UPLOAD_ROUND = "upload_round_"  # + an uploader's key: a new round draws an empty uploader
REMOVE_FILE = "remove_file_"  # + an attachment's ID: an admin's Remove button

# Dashboard ------------------------------------------------------------------------------------
PERIOD = "period"
PERIOD_DATES = "period_dates"
BREACH_LIST = "breach_list"  # the expander of the breached tickets' list is open

# Settings: the SLA targets form ---------------------------------------------------------------
SLA_FORM_TARGETS = "sla_form_targets"  # the stored targets the form was drawn from
SLA_FORM_SAVE = "sla_form_save"  # the submit button: True in the run its click starts
SLA_FORM_DRAWN = "sla_form_drawn"  # how many times the form was filled: part of input keys
SLA_TARGET_PREFIX = "sla_"  # + kind, priority and SLA_FORM_DRAWN: one target's input

# People -----------------------------------------------------------------------------------------
NEW_NAME = "new_name"
NEW_EMAIL = "new_email"
NEW_ROLE = "new_role"
NEW_WAY = "new_way"
PERSON = "person"  # the account chosen to change
PERSON_ROLE_PREFIX = "person_role_"  # + account id: the role picked for that account

# Your account -----------------------------------------------------------------------------------
CURRENT_PASSWORD = "current_password"  # noqa: S105 (a state key, not a secret)
NEW_PASSWORD = "new_password"  # noqa: S105
REPEAT_PASSWORD = "repeat_password"  # noqa: S105


def person_role(account_id: int) -> str:
    """The People page's role picker for one account."""
    return f"{PERSON_ROLE_PREFIX}{account_id}"


def sla_target(kind: str, priority_name: str, drawn: int) -> str:
    """The Settings form's input of one target ("first" or "resolution") of one priority, as
    filled the `drawn`-th time."""
    return f"{SLA_TARGET_PREFIX}{kind}_{priority_name.lower()}_{drawn}"
