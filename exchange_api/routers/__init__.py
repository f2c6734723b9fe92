"""One router per resource. A router translates HTTP: it takes the request, calls its service (a typed
dependency, deps.py) and turns the service's result into the answer; `created` and `changed` are the only place
a success's status code is chosen."""
from typing import Annotated

from fastapi import Query

from exchange_api.schemas import ErrorResponse
from exchange_api.services.results import Pending, Result

ERRORS = {code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 409, 413, 422, 429, 503)}

# Every list's cursor: the id of the last object of the page before (`rdm_...`, an activity's
# `act_<block>_<log>_<item>`), bounded like any input; an id of no object of the list is 404 `invalid_cursor`
StartingAfter = Annotated[str | None, Query(max_length=100, pattern=r"^[0-9A-Za-z_]+$",
                                            description="the id of the last object of the page before")]


def wants_async(prefer: str | None, wait: bool) -> bool:
    """`"wait": false` in the body or `Prefer: respond-async` answers at once as pending."""
    return (not wait) or (prefer is not None and "respond-async" in prefer.lower())


def created(result: Result) -> tuple[int, dict]:
    """A creation: 201 once settled, 202 while it is accepted but not settled (pending)."""
    return (202 if isinstance(result, Pending) else 201), result.body


def changed(result: Result) -> tuple[int, dict]:
    """A change to something that exists: 200 once done, 202 while it is accepted but not done."""
    return (202 if isinstance(result, Pending) else 200), result.body
