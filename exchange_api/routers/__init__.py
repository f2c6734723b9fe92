"""One router per resource."""
from exchange_api.schemas import ErrorResponse

ERRORS = {code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 409, 413, 422, 429, 503)}


def wants_async(prefer: str | None, wait: bool) -> bool:
    """`"wait": false` in the body or `Prefer: respond-async` answers at once as pending."""
    return (not wait) or (prefer is not None and "respond-async" in prefer.lower())
