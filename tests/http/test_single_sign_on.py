"""Single sign-on, the whole round trip over HTTP: the real server (`streamlit run ticket.py`)
configured through a secrets file of its own, against oidc-provider-mock, a real OpenID
Connect provider running in a thread on loopback. The test plays the browser: it follows the
redirects across both sites with its cookies and, at the provider's consent form, authorizes
the user whose claims (email, email_verified) it registered beforehand."""

from __future__ import annotations

import json
import secrets
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import Engine
from streamlit.web.server.starlette.starlette_app_utils import create_signed_value

from tests.support.app_server import AppServer, run_app
from tests.support.signin import HTML, Person, add_person, deletes_cookie, new_database, set_cookies
from ticketdesk.services import accounts as account_service
from ticketdesk.web.engine import SESSION_COOKIE

with warnings.catch_warnings():
    # The mock provider uses Authlib modules that Authlib has deprecated (not our business).
    # Importing authlib.deprecate adds an "always" filter; the "ignore" goes in front of it.
    import authlib.deprecate  # noqa: F401

    warnings.simplefilter("ignore", DeprecationWarning)
    from oidc_provider_mock import run_server_in_thread

pytestmark = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")

STREAMLIT_USER = "_streamlit_user"
STREAMLIT_COOKIES = (STREAMLIT_USER, "_streamlit_user_tokens")


@dataclass
class SingleSignOn:
    server: AppServer
    provider: str  # the provider's base URL
    engine: Engine

    def client(self) -> httpx.Client:
        """A browser: keeps the cookies of both sites, asks for pages."""
        return httpx.Client(headers=HTML, timeout=20)

    def claims(self, sub: str, **claims: object) -> str:
        """Tell the provider who `sub` is (the claims its ID token will carry)."""
        response = httpx.put(f"{self.provider}/users/{sub}", json=claims, timeout=10)
        assert response.status_code == 204, response.text
        return sub

    def start(self, client: httpx.Client) -> httpx.Response:
        """From the sign-in page's link to the provider's consent form."""
        page = client.get(f"{self.server.url}/signin")
        assert page.status_code == 200
        assert '<a class="sso" href="/signin/sso">Sign in with single sign-on</a>' in page.text
        form = client.get(f"{self.server.url}/signin/sso", follow_redirects=True)
        assert form.status_code == 200, form.text[:500]
        assert urlsplit(str(form.url)).netloc == urlsplit(self.provider).netloc
        assert form.url.path == "/oauth2/authorize"
        hops = [r.url.path for r in form.history]
        assert hops == ["/signin/sso", "/auth/login"], hops
        return form

    def sign_in(self, client: httpx.Client, sub: str) -> httpx.Response:
        """The whole round trip for `sub`; the last response (redirects followed)."""
        form = self.start(client)
        return client.post(str(form.url), data={"sub": sub}, follow_redirects=True)

    def completion(self, final: httpx.Response) -> httpx.Response:
        """The /signin/sso/complete response of a round trip."""
        done = [r for r in (*final.history, final) if r.url.path == "/signin/sso/complete"]
        assert len(done) == 1, [(r.status_code, str(r.url)) for r in (*final.history, final)]
        return done[0]


@pytest.fixture(scope="module")
def sso(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SingleSignOn]:
    workdir = tmp_path_factory.mktemp("single_sign_on")
    url, engine = new_database(workdir)
    with run_server_in_thread() as provider_server:
        provider = f"http://localhost:{provider_server.server_port}"
        secrets_file = write_secrets(workdir, provider)
        # Not the project's .streamlit/secrets.toml: this server alone reads this file.
        env = {"STREAMLIT_SECRETS_FILES": str(secrets_file)}
        with run_app(workdir, demo_tickets=0, database_url=url, extra_env=env) as server:
            yield SingleSignOn(server, provider, engine)
    engine.dispose()


def write_secrets(workdir: Path, provider: str) -> Path:
    path = workdir / "secrets.toml"
    path.write_text(
        "[auth]\n"
        # Streamlit fills in {port}: run_app picks the server's port.
        'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_hex(32)}"\n'
        'client_id = "ticketdesk-tests"\n'
        f'client_secret = "{secrets.token_hex(16)}"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n',
        encoding="utf-8",
    )
    return path


def sso_person(sso: SingleSignOn, email: str | None = None) -> Person:
    """An account that signs in only through single sign-on (no password)."""
    return add_person(sso.engine, email=email, password=False)


def no_identity_left(client: httpx.Client) -> bool:
    return not [name for name in client.cookies if name.startswith(STREAMLIT_USER)]


def assert_refused(final: httpx.Response, message: str) -> None:
    """The round trip ended on the sign-in page with `message`, without a session."""
    assert final.status_code == 403
    assert final.url.path == "/signin/sso/complete"
    assert message in final.text
    assert '<form method="post" action="/signin">' in final.text
    for name in STREAMLIT_COOKIES:
        assert deletes_cookie(final, name), name
    assert SESSION_COOKIE not in set_cookies(final)


def assert_no_way_in(sso: SingleSignOn, client: httpx.Client) -> None:
    """With whatever cookies the client has now, the app is closed to it (and a page load
    goes to the sign-in form, not round the single sign-on loop again)."""
    assert SESSION_COOKIE not in client.cookies
    page = client.get(f"{sso.server.url}/")
    assert page.status_code == 303
    assert page.headers["location"] == "/signin?next=%2F"
    assert client.get(f"{sso.server.url}/export.csv").status_code in (303, 401)


# --------------------------------------------------------------------------- signing in


def test_the_sign_in_page_offers_single_sign_on(sso: SingleSignOn) -> None:
    with sso.client() as client:
        sso.start(client)


def test_a_known_verified_email_signs_in(sso: SingleSignOn) -> None:
    person = sso_person(sso, email=f"Sam.Sso.{secrets.token_hex(3)}@Example.com")
    # The provider's spelling of the email differs in case only.
    sub = sso.claims("sam", email=person.email.swapcase(), email_verified=True, name="Sam")
    with sso.client() as client:
        final = sso.sign_in(client, sub)
        hops = [(r.status_code, r.url.path) for r in (*final.history, final)]
        assert hops == [
            (302, "/oauth2/authorize"),  # the consent form posted: back to the app
            (302, "/oauth2callback"),  # Streamlit checks the code, stores the identity
            (303, "/"),  # the middleware: an identity but no session yet
            (303, "/signin/sso/complete"),  # the desk's session opens
            (200, "/"),  # and the app loads
        ], hops
        assert "<html" in final.text.lower()
        done = sso.completion(final)
        cookie = set_cookies(done)[SESSION_COOKIE]
        assert cookie["httponly"] is True
        assert cookie["samesite"].lower() == "lax"
        assert cookie["path"] == "/"
        for name in STREAMLIT_COOKIES:  # only the desk's session counts from here on
            assert deletes_cookie(done, name), name
        assert no_identity_left(client)
        token = client.cookies[SESSION_COOKIE]
    account = account_service.session_account(sso.engine, token, datetime.now(UTC))
    assert account.id == person.account.id
    # The session alone (no other cookie) opens the app, like a password sign-in's.
    with httpx.Client(base_url=sso.server.url, headers=HTML, timeout=20) as fresh:
        fresh.cookies.set(SESSION_COOKIE, token)
        assert fresh.get("/").status_code == 200
        assert fresh.get("/export.csv").status_code == 200
        csrf = account_service.sign_out_token(token)
        signed_out = fresh.post("/signout", data={"csrf": csrf})
        assert signed_out.status_code == 303
        assert fresh.get("/").status_code == 303


def test_an_email_without_an_account_is_refused(sso: SingleSignOn) -> None:
    email = f"stranger.{secrets.token_hex(3)}@example.com"
    sub = sso.claims("stranger", email=email, email_verified=True)
    with sso.client() as client:
        final = sso.sign_in(client, sub)
        assert_refused(final, f"No active account has the email {email}. Ask an admin.")
        assert_no_way_in(sso, client)


def test_an_unverified_email_is_refused(sso: SingleSignOn) -> None:
    person = sso_person(sso)
    sub = sso.claims("unverified", email=person.email, email_verified=False)
    with sso.client() as client:
        final = sso.sign_in(client, sub)
        assert_refused(final, "has not verified your email address")
        assert_no_way_in(sso, client)


def test_an_email_verified_string_false_is_refused(sso: SingleSignOn) -> None:
    person = sso_person(sso)
    sub = sso.claims("unverified-string", email=person.email, email_verified="false")
    with sso.client() as client:
        final = sso.sign_in(client, sub)
        assert SESSION_COOKIE not in client.cookies
        assert_refused(final, "has not verified your email address")


def test_a_deactivated_account_is_refused(sso: SingleSignOn) -> None:
    admin = add_person(sso.engine, "admin")
    person = sso_person(sso)
    account_service.set_active(sso.engine, admin.account, person.account.id, False)
    sub = sso.claims("deactivated", email=person.email, email_verified=True)
    with sso.client() as client:
        final = sso.sign_in(client, sub)
        assert_refused(final, "No active account has the email")
        assert_no_way_in(sso, client)


def test_the_escaped_email_in_the_refusal(sso: SingleSignOn) -> None:
    sub = sso.claims("markup", email="<b>x</b>@example.com", email_verified=True)
    with sso.client() as client:
        final = sso.sign_in(client, sub)
    assert final.status_code == 403
    assert "<b>x</b>" not in final.text
    assert "&lt;b&gt;x&lt;/b&gt;@example.com" in final.text


def test_denying_at_the_provider_opens_nothing(sso: SingleSignOn) -> None:
    with sso.client() as client:
        form = sso.start(client)
        final = client.post(str(form.url), data={"action": "deny"}, follow_redirects=True)
        assert final.status_code == 200
        assert final.url.path == "/signin"
        assert_no_way_in(sso, client)


def test_a_large_identity_leaves_no_streamlit_cookies_behind(sso: SingleSignOn) -> None:
    """Streamlit splits an identity above 4 KB over several cookies (providers that put the
    person's groups in the ID token); all of them must go once the desk's session opens."""
    person = sso_person(sso)
    groups = [f"group-{n:03d}-{secrets.token_hex(8)}" for n in range(200)]
    sub = sso.claims("many-groups", email=person.email, email_verified=True, groups=groups)
    with sso.client() as client:
        final = sso.sign_in(client, sub)
        assert final.status_code == 200
        assert SESSION_COOKIE in client.cookies
        assert no_identity_left(client), sorted(client.cookies.keys())


# --------------------------------------------------------------------------- a forged identity


def test_a_forged_identity_cookie_is_refused(sso: SingleSignOn) -> None:
    """Streamlit's identity cookie is signed with the cookie secret: one signed with another
    key, naming an existing account, opens nothing."""
    person = sso_person(sso)
    identity = json.dumps({"email": person.email, "email_verified": True, "is_logged_in": True})
    forged = create_signed_value("not the cookie secret", STREAMLIT_USER, identity)
    with sso.client() as client:
        client.cookies.set(STREAMLIT_USER, forged.decode(), domain="127.0.0.1")
        page = client.get(f"{sso.server.url}/")
        assert page.status_code == 303
        assert page.headers["location"] == "/signin/sso/complete"
        final = client.get(f"{sso.server.url}/signin/sso/complete")
        assert_refused(final, "Single sign-on did not complete. Please try again.")
        assert_no_way_in(sso, client)
