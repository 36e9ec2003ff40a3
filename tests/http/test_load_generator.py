"""The load generator (bench/load/) against the real app server: three protocol agents sign in
through the sign-in form, open the Tickets page and do each kind of action once, and what they
did is in the database. So the generator cannot measure nothing: a refused save, a reply
that was not stored or a page that did not load would fail here, not show up as a fast time.

Behind the proxy (bench/load_run.py --servers 2, PostgreSQL): every agent stays on the server
its sticky cookie names, WebSocket included, and the agents are spread over the servers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import select

from bench.load.agents import KINDS, ProtocolAgent, Sample, Think
from tests.support.app_server import STAFF_NAMES, Person, run_app
from tests.support.proxied import run_proxied
from ticketdesk.store.schema import ticket_events, ticket_messages
from ticketdesk.web.engine import SESSION_COOKIE

TICKETS = 60
ACTIONS = ("search", "page", "search", "open_ticket", "status", "reply", "back_to_list")


def agents_of(
    url: str, people: list[Person], record: Callable[[Sample], None], own_addresses: bool
) -> list[ProtocolAgent]:
    """One protocol agent per person, acting at once when told (no think time); with
    `own_addresses`, each from its own loopback address."""
    return [
        ProtocolAgent(
            person.name,
            person.email,
            person.password,
            url,
            seed=n,
            think=Think(0, 0),
            timeout_s=60,
            tickets=TICKETS,
            record=record,
            **({"index": n} if own_addresses else {}),
        )
        for n, person in enumerate(people)
    ]


async def act(url: str, people: list[Person]) -> tuple[list[Sample], dict[str, str]]:
    """Each person's agent does ACTIONS in turn; their samples and the ticket each opened."""
    samples: list[Sample] = []
    agents = agents_of(url, people, samples.append, own_addresses=False)
    opened: dict[str, str] = {}
    try:
        await asyncio.gather(*(agent.start() for agent in agents))
        for kind in ACTIONS:
            for agent in agents:
                await agent.act(kind)
                if kind == "open_ticket":
                    ticket = agent.tab.page.find(keys=("detail_status",))
                    assert ticket is not None, f"{agent.name} is not on a ticket's page"
                    opened[agent.name] = next(
                        t for t in agent.tab.page.texts() if t.startswith("TICKET-")
                    )
        await asyncio.gather(*(agent.act("load_list") for agent in agents))
    finally:
        await asyncio.gather(*(agent.close() for agent in agents))
    return samples, opened


def test_protocol_agents_sign_in_act_and_their_changes_are_stored(tmp_path: Path) -> None:
    with run_app(tmp_path, demo_tickets=TICKETS) as app:
        people = [app.person(name) for name in STAFF_NAMES[:3]]
        # A loop of its own in a thread of its own: a browser test earlier in this worker
        # (Playwright's sync API) can leave the main thread's event loop set as running.
        with ThreadPoolExecutor(max_workers=1) as pool:
            samples, opened = pool.submit(asyncio.run, act(app.url, people)).result()
        with app.engine.connect() as conn:
            replies = conn.execute(
                select(
                    ticket_messages.c.ticket_id, ticket_messages.c.author, ticket_messages.c.body
                )
            ).all()
            changes = conn.execute(
                select(
                    ticket_events.c.ticket_id,
                    ticket_events.c.actor,
                    ticket_events.c.old_value,
                    ticket_events.c.new_value,
                ).where(ticket_events.c.kind == "status", ticket_events.c.actor.is_not(None))
            ).all()

    assert [(s.kind, s.outcome) for s in samples if s.outcome != "ok"] == []
    assert sorted({s.kind for s in samples}) == sorted(KINDS)
    assert all(s.seconds is not None and s.seconds > 0 for s in samples)
    assert len(samples) == len(people) * (len(ACTIONS) + 1)
    for person in people:
        code = opened[person.name]
        # The reply, by this person, on the ticket this agent opened.
        mine = [(f"TICKET-{t}", body) for t, author, body in replies if author == person.name]
        assert mine == [(code, f"Load test reply 1 from {person.name}")]
        # The status change: one, by this person, to another status than before.
        changed = [
            (f"TICKET-{t}", old, new) for t, actor, old, new in changes if actor == person.name
        ]
        assert len(changed) == 1 and changed[0][0] == code and changed[0][1] != changed[0][2]


async def through_proxy(url: str, people: list[Person]) -> list[tuple[str, str]]:
    """Each person's agent, from its own client address, signs in and opens the Tickets page
    (one after the other, each keeping its page open), then all reload it and search; each
    agent's (desk session cookie, server its sticky cookie names or "")."""
    agents = agents_of(url, people, lambda sample: None, own_addresses=True)
    try:
        for agent in agents:
            await agent.start()
        for kind in ("load_list", "search"):
            done = await asyncio.gather(*(agent.act(kind) for agent in agents))
            assert [s.outcome for s in done] == ["ok"] * len(agents)
        return [
            (agent.http.cookies[SESSION_COOKIE], await agent.sticky() or "") for agent in agents
        ]
    finally:
        await asyncio.gather(*(agent.close() for agent in agents))


def test_protocol_agents_behind_the_proxy_stay_on_the_server_their_cookie_names(
    tmp_path: Path,
) -> None:
    with run_proxied(tmp_path, tls=False, demo_tickets=TICKETS) as desk:
        people = [desk.app.person(name) for name in STAFF_NAMES]
        with ThreadPoolExecutor(max_workers=1) as pool:
            agents = pool.submit(asyncio.run, through_proxy(desk.cluster.url, people)).result()
        routes = {session: desk.cluster.routes(session) for session, _ in agents}
        names = desk.cluster.names

    for session, server in agents:
        assert server in names
        mine = routes[session]
        # Signed in: two page loads (each a WebSocket) and the search over the last one.
        assert [r.uri for r in mine if r.status == 101] == ["/_stcore/stream"] * 2
        assert {route.server for route in mine} == {server}
    # One after the other, each keeping a WebSocket open: the least busy server each time.
    assert sorted(server for _, server in agents) == sorted(names * (len(people) // len(names)))
