"""The sign-in page (plain server-rendered HTML: it must work before any Streamlit page may
load), the sign-in form's handler and sign-out. The session cookie is HttpOnly, SameSite=Lax,
Secure over HTTPS, and holds only a random token whose hash the database keeps. Both forms
carry a CSRF token, and their POST routes check the Origin too (origin.py)."""

from __future__ import annotations

import html
import os
import secrets
from urllib.parse import urlsplit

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ticketdesk.domain.accounts import SessionEnded, SignInRefused, SignInThrottled
from ticketdesk.domain.errors import TicketDeskError
from ticketdesk.services import accounts as account_service

from . import recent_sessions, sso
from .engine import SESSION_COOKIE, engine, now

SIGNIN_PATH = "/signin"
SIGNOUT_PATH = "/signout"
CSRF_COOKIE = "ticketdesk_csrf"
NOTICES = {
    "signed_out": "You are signed out.",
    "ended": "Your session has ended. Please sign in again.",
}


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (never //host or a URL)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path.startswith(SIGNIN_PATH):
        return "/"
    return target


def secure_cookies(request: Request) -> bool:
    """Secure cookies over HTTPS, or always with TICKETDESK_SECURE_COOKIES=1 (behind a
    TLS-terminating proxy)."""
    return request.url.scheme == "https" or os.environ.get("TICKETDESK_SECURE_COOKIES") == "1"


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def render(
    request: Request,
    *,
    message: str = "",
    error: bool = False,
    email: str = "",
    status: int = 200,
) -> Response:
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    next_path = safe_next(request.query_params.get("next"))
    notice = ""
    if message:
        role = "alert" if error else "status"
        notice = (
            f'<p class="{"error" if error else "notice"}" role="{role}">{html.escape(message)}</p>'
        )
    first_run = ""
    try:
        if not account_service.desk_has_accounts(engine()):
            first_run = (
                '<p class="notice">No accounts yet. Whoever runs the server creates the first '
                "admin with <code>ticketdesk create-admin --email you@example.com --name "
                '"Your Name"</code>.</p>'
            )
    except TicketDeskError as exc:
        notice += f'<p class="error" role="alert">{html.escape(str(exc))}</p>'
    single_sign_on = (
        f'<a class="sso" href="{sso.START_PATH}">Sign in with single sign-on</a>'
        if sso.configured()
        else ""
    )
    page = PAGE.format(
        notice=notice,
        first_run=first_run,
        email=html.escape(email, quote=True),
        csrf=html.escape(csrf, quote=True),
        next=html.escape(next_path, quote=True),
        action=SIGNIN_PATH,
        single_sign_on=single_sign_on,
    )
    response = HTMLResponse(page, status_code=status, headers=_NO_STORE)
    response.set_cookie(
        CSRF_COOKIE,
        csrf,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
        path=SIGNIN_PATH,
    )
    return response


_NO_STORE = {"Cache-Control": "no-store", "X-Frame-Options": "DENY"}


async def signin_page(request: Request) -> Response:
    """GET /signin: the form (or straight on, for someone already signed in)."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        try:
            await to_thread.run_sync(account_service.session_account, engine(), token, now())
            return RedirectResponse(safe_next(request.query_params.get("next")), 303)
        except SessionEnded:
            pass
        except TicketDeskError as exc:
            return render(request, message=str(exc), error=True, status=503)
    notice = next((text for key, text in NOTICES.items() if key in request.query_params), "")
    response = await to_thread.run_sync(lambda: render(request, message=notice))
    if token:  # a stale or forged cookie: drop it
        response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def signin_submit(request: Request) -> Response:
    """POST /signin: check the form; on success set the session cookie and go on."""
    form = await request.form(max_files=0, max_fields=10)
    email, password = str(form.get("email", "")), str(form.get("password", ""))
    sent_csrf, kept_csrf = str(form.get("csrf", "")), request.cookies.get(CSRF_COOKIE, "")
    if not kept_csrf or not _same(sent_csrf, kept_csrf):
        message = "The sign-in form had expired. Please try again."
        return await _again(request, message, email, 400)
    try:
        signed_in = await to_thread.run_sync(
            account_service.sign_in, engine(), email, password, client_address(request), now()
        )
    except SignInRefused as exc:
        status = 429 if isinstance(exc, SignInThrottled) else 401
        return await _again(request, str(exc), email, status)
    except TicketDeskError as exc:
        return await _again(request, str(exc), email, 503)
    target = safe_next(str(form.get("next", "")))
    return start_session(request, RedirectResponse(target, 303), signed_in)


def _same(sent: str, expected: str) -> bool:
    """A constant-time comparison that also takes what no form of ours sends (non-ASCII)."""
    return secrets.compare_digest(
        sent.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


async def _again(request: Request, message: str, email: str, status: int) -> Response:
    return await to_thread.run_sync(
        lambda: render(request, message=message, error=True, email=email, status=status)
    )


def start_session(
    request: Request, response: Response, signed_in: account_service.SignIn
) -> Response:
    lifetime = int(account_service.SESSION_LIFETIME.total_seconds())
    response.set_cookie(
        SESSION_COOKIE,
        signed_in.token,
        max_age=lifetime,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        path="/",
    )
    response.delete_cookie(CSRF_COOKIE, path=SIGNIN_PATH)
    return response


async def signout(request: Request) -> Response:
    """POST /signout, the sidebar's Sign out button: end the session in the database (so the
    cookie is dead everywhere, on every server) and drop the cookie. The form must carry the
    session's sign-out token (account_service.sign_out_token), which another site cannot
    know; without it nothing happens, not even dropping the cookie (a cross-site post, which
    carries no SameSite=Lax cookie, used to drop it and leave the session alive)."""
    form = await request.form(max_files=0, max_fields=10)
    token = request.cookies.get(SESSION_COOKIE)
    if not token:  # no session here to end, and no cookie to drop
        return RedirectResponse(SIGNIN_PATH, 303)
    sent = str(form.get("csrf", ""))
    if len(token) > 200 or not _same(sent, account_service.sign_out_token(token)):
        return HTMLResponse(SIGN_OUT_REFUSED, 403, headers=_NO_STORE)
    recent_sessions.forget(token)
    await to_thread.run_sync(account_service.sign_out, engine(), token)
    recent_sessions.forget(token)  # a request checked meanwhile may have remembered it
    response = RedirectResponse(f"{SIGNIN_PATH}?signed_out=1", 303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    sso.forget_identity(request, response)
    return response


async def signout_page(_request: Request) -> Response:
    """GET (and HEAD) /signout: signs nobody out and serves no page; on to the sign-in page
    (which sends someone signed in on to the desk)."""
    return RedirectResponse(SIGNIN_PATH, 303)


SIGN_OUT_REFUSED = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Ticket desk</title></head>
<body style="font-family: system-ui, sans-serif; margin: 10vh auto; max-width: 36rem">
<p role="alert">Not signed out: this request did not come from the Sign out button of your desk
page, so nothing was done. <a href="/">Back to the desk</a>, where you can sign out.</p>
</body></html>"""


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · Ticket desk</title>
<style>
 body {{ font-family: "Source Sans Pro", system-ui, sans-serif; background: #f6f7f9;
        color: #262730; display: flex; justify-content: center; margin: 0; }}
 main {{ background: #fff; margin-top: 10vh; padding: 2rem 2.5rem; border-radius: 12px;
        box-shadow: 0 2px 12px rgba(0,0,0,.08); width: min(24rem, 90vw); }}
 h1 {{ font-size: 1.6rem; margin: 0 0 1.2rem; }}
 label {{ display: block; margin: .8rem 0 .3rem; font-size: .9rem; }}
 input[type=email], input[type=password] {{ width: 100%; box-sizing: border-box;
        padding: .55rem .7rem; border: 1px solid #d0d3d9; border-radius: 8px; font-size: 1rem; }}
 button, .sso {{ display: block; width: 100%; box-sizing: border-box; margin-top: 1.2rem;
        padding: .6rem; border-radius: 8px; font-size: 1rem; text-align: center;
        cursor: pointer; text-decoration: none; }}
 button {{ background: #ff4b4b; color: #fff; border: none; }}
 .sso {{ border: 1px solid #d0d3d9; color: #262730; }}
 .error {{ background: #ffecec; color: #7d1a1a; padding: .6rem .8rem; border-radius: 8px; }}
 .notice {{ background: #eef4ff; color: #1c3d7a; padding: .6rem .8rem; border-radius: 8px; }}
 code {{ font-size: .85em; }}
</style></head>
<body><main>
<h1>Ticket desk</h1>
{notice}{first_run}
<form method="post" action="{action}">
 <input type="hidden" name="csrf" value="{csrf}">
 <input type="hidden" name="next" value="{next}">
 <label for="email">Email</label>
 <input id="email" name="email" type="email" autocomplete="username" required
        maxlength="254" value="{email}" autofocus>
 <label for="password">Password</label>
 <input id="password" name="password" type="password" autocomplete="current-password"
        required maxlength="1024">
 <button type="submit">Sign in</button>
</form>
{single_sign_on}
</main></body></html>
"""


async def sso_complete(request: Request) -> Response:
    """GET /signin/sso/complete: the provider vouched for an email; sign its account in."""
    email, verified = sso.vouched_email(request)
    try:
        if not email:
            raise SignInRefused("Single sign-on did not complete. Please try again.")
        signed_in = await to_thread.run_sync(
            account_service.sign_in_single_sign_on, engine(), email, verified, now()
        )
    except TicketDeskError as exc:
        message = str(exc)
        response = await to_thread.run_sync(
            lambda: render(request, message=message, error=True, status=403)
        )
        sso.forget_identity(request, response)
        return response
    response = start_session(request, RedirectResponse("/", 303), signed_in)
    sso.forget_identity(request, response)
    return response
