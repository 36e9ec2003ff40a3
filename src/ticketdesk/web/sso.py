"""Single sign-on through Streamlit's own OpenID Connect support (the machinery behind
st.login, configured in .streamlit/secrets.toml under [auth]).

Sign-in must happen before any Streamlit page may load, so the sign-in page starts the same
round trip st.login starts: /signin/sso hands over to Streamlit's /auth/login with a signed
provider token; Streamlit's /oauth2callback checks the provider's answer and stores the
identity in its signed cookie; the middleware then sends the browser to /signin/sso/complete,
which (in signin.py, beside the password sign-in) reads that identity, opens a desk session
for the account with that email, and drops Streamlit's identity cookie (the desk's session is
the only sign-in that counts).

This is the one module that uses Streamlit internals (pinned by streamlit==1.67.*); the
single sign-on test drives the whole round trip against a local OIDC provider."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from streamlit.auth_util import encode_provider_token, get_secrets_auth_section
from streamlit.web.server.starlette.starlette_auth_routes import _get_cookie_value_from_request

START_PATH = "/signin/sso"
COMPLETE_PATH = "/signin/sso/complete"
STREAMLIT_PATHS = ("/auth/login", "/oauth2callback")
STREAMLIT_USER_COOKIE = "_streamlit_user"


def _auth_section() -> dict[str, Any]:
    try:
        return dict(get_secrets_auth_section().to_dict())
    except Exception:  # an unreadable secrets.toml means: no single sign-on
        return {}


def provider() -> str | None:
    """The configured provider: "default" for a flat [auth] section, else the first named
    [auth.<name>] section; None when single sign-on is not configured."""
    section = _auth_section()
    if not section.get("redirect_uri") or not section.get("cookie_secret"):
        return None
    if section.get("client_id"):
        return "default"
    named = [k for k, v in section.items() if isinstance(v, dict) and v.get("client_id")]
    return named[0] if named else None


def configured() -> bool:
    return provider() is not None


async def start(request: Request) -> Response:
    """GET /signin/sso: on to the identity provider, through Streamlit's /auth/login."""
    name = provider()
    if name is None:
        return RedirectResponse("/signin", 303)
    return RedirectResponse(f"/auth/login?provider={encode_provider_token(name)}", 303)


def _identity(request: Request) -> dict[str, Any] | None:
    """The identity Streamlit's callback stored in its signed cookie (None if absent or if
    the signature does not check out)."""
    raw = _get_cookie_value_from_request(request, STREAMLIT_USER_COOKIE)
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) and value.get("is_logged_in") else None


def forget_identity(request: Request, response: Response) -> None:
    """Drop Streamlit's identity cookies, with the chunks a large identity is split into
    (_streamlit_user_tokens_1, ...)."""
    names = {STREAMLIT_USER_COOKIE, f"{STREAMLIT_USER_COOKIE}_tokens"}
    names.update(name for name in request.cookies if name.startswith(STREAMLIT_USER_COOKIE))
    for name in sorted(names):
        response.delete_cookie(name, path="/")


def vouched_email(request: Request) -> tuple[str, bool]:
    """The email the provider vouched for ("" if none) and whether it is verified."""
    identity = _identity(request)
    email = str(identity.get("email") or "") if identity else ""
    return email, identity is not None and _email_verified(identity)


def _email_verified(identity: dict[str, Any]) -> bool:
    """Providers that say nothing about verification (Microsoft Entra ID) are trusted for
    their own directory; false, in any spelling ("false" from AWS Cognito), is refused."""
    raw = identity.get("email_verified")
    return raw is None or raw is True or str(raw).strip().lower() == "true"
