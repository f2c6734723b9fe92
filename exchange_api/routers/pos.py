"""The point-of-sale page's session (issue 22; services/pos_sessions.py): the merchant's API key, sent once in
the body, is exchanged for an HttpOnly, SameSite=Strict cookie (Secure when the API is reached over https); the
page never keeps the key. Merchant endpoints accept that cookie as they accept the key's header (deps.py), with
`X-CityPoints-POS: 1` required on changes."""
from __future__ import annotations

from fastapi import APIRouter, Request, Response

from exchange_api.deps import POS_COOKIE, RT, PosSessionsService, key_principal, session_principal, touch
from exchange_api.errors import Forbidden, Unauthorized
from exchange_api.routers import ERRORS
from exchange_api.schemas import PosSessionOut, PosSignIn

router = APIRouter(prefix="/v1/pos", tags=["point of sale"], responses=ERRORS)


def _secure(request: Request, rt) -> bool:
    return request.url.scheme == "https" or rt.settings.base_url.startswith("https://")


@router.post("/session", operation_id="signInPos", status_code=201, response_model=PosSessionOut)
async def sign_in(request: Request, response: Response, body: PosSignIn, sessions: PosSessionsService, rt: RT):
    """Sign the POS page in with a merchant API key (in the body; never echoed, never stored in clear): answers
    the merchant and the session's expiry, and sets the session cookie. A wrong key is 401 `invalid_api_key` and
    counts against the client address (429 `too_many_auth_failures` past the limit)."""
    principal = await key_principal(request, rt, body.apiKey)
    if principal.role != "merchant":
        raise Forbidden("the point-of-sale page signs in with a merchant key", code="wrong_key_role")
    await touch(rt, principal)
    token, public = await sessions.sign_in(principal)
    response.set_cookie(POS_COOKIE, token, max_age=rt.settings.pos_session_ttl_s, path="/", httponly=True,
                        samesite="strict", secure=_secure(request, rt))
    response.headers["Cache-Control"] = "no-store"
    return public


@router.get("/session", operation_id="getPosSession", response_model=PosSessionOut)
async def current(request: Request, sessions: PosSessionsService):
    """The session this browser holds (the page reloaded): 401 `missing_session` or `invalid_session`."""
    token = request.cookies.get(POS_COOKIE)
    found = await sessions.current(token) if token else None
    if found is None:
        raise Unauthorized("no point-of-sale session: sign in with the merchant's API key",
                           code="missing_session" if not token else "invalid_session")
    return found


@router.delete("/session", operation_id="signOutPos", status_code=204)
async def sign_out(request: Request, sessions: PosSessionsService, rt: RT):
    """Sign out: the session ends at once, the cookie is cleared (a change: `X-CityPoints-POS: 1`)."""
    token = request.cookies.get(POS_COOKIE)
    if token:
        try:
            await session_principal(request, rt)  # the CSRF header; an expired session signs out all the same
        except Unauthorized:
            pass
        await sessions.sign_out(token)
    response = Response(status_code=204)
    response.delete_cookie(POS_COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request, rt))
    return response
