"""Throttling failed sign-ins: which scheme, and why.

Locking an account after a few failures (what the desk did until now) lets anyone lock anyone
out: five wrong passwords for a colleague's email, from anywhere, and even the right password
was refused for a quarter of an hour. OWASP's Authentication Cheat Sheet names that denial of
service and recommends throttling instead. So failures are never counted per account alone:

- Per email *and client address*: a pair's first FREE_FAILURES failures within PAIR_WINDOW cost
  nothing; after that the pair must wait before its next attempt is even checked, 1 minute
  after the 5th failure, doubling with each further one, at most 15 minutes (exponential
  back-off). A guesser at one address gets a handful of tries an hour, while the account's
  owner, at an address that has not been failing, signs in as usual.
- Per address over all emails: ADDRESS_LIMIT failures within ADDRESS_WINDOW (one password
  tried on many accounts, "spraying") and every attempt from that address waits until the
  oldest of them leaves the window.
- A successful sign-in forgets its pair's failures; an admin can forget all of an account's
  (the People page's "unlock").

Nothing here depends on whether the email has an account, so neither do the refusals (and an
unknown email's password is checked against a dummy hash, so neither does their time). The
price: guesses from many addresses, each under its own limits, are slowed only by argon2 and
the 12-character minimum; a shared address (an office's NAT) can be slowed by a guesser
behind it. Pure rules; the counts come from the signin_failures table."""

from __future__ import annotations

from datetime import datetime, timedelta

PAIR_WINDOW = timedelta(hours=1)
"""Failures of an email from an address older than this are forgotten. Longer than the
longest back-off, so that a guesser who waits it out still finds the earlier failures."""
FREE_FAILURES = 5
FIRST_BACKOFF = timedelta(minutes=1)
MAX_BACKOFF = timedelta(minutes=15)
ADDRESS_WINDOW = timedelta(minutes=15)
ADDRESS_LIMIT = 20


def backoff(failures: int) -> timedelta:
    """How long an email must wait at an address after its latest failure there, having
    failed there `failures` times within PAIR_WINDOW: nothing up to FREE_FAILURES - 1, then
    1, 2, 4, 8 and from then on 15 minutes."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    doublings = min(failures - FREE_FAILURES, 10)  # 2**10 minutes is past the cap already
    return min(FIRST_BACKOFF * (1 << doublings), MAX_BACKOFF)


def minutes_left(until: datetime, now: datetime) -> int:
    """The wait to announce, in whole minutes, rounded up (at least 1)."""
    return max(1, -(-int((until - now).total_seconds()) // 60))
