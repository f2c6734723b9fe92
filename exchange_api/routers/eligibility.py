from __future__ import annotations

from fastapi import APIRouter, Request, Response

from exchange_api.deps import RT, Caller, EligibilityService, source
from exchange_api.errors import RateLimited
from exchange_api.routers import ERRORS
from exchange_api.schemas import EligibilityProofIn, EligibilityProofOut

router = APIRouter(prefix="/v1", tags=["eligibility"], responses=ERRORS)


@router.post("/eligibility_proofs", operation_id="proveEligibility", status_code=201,
             response_model=EligibilityProofOut, responses={202: {"model": EligibilityProofOut}})
async def prove(body: EligibilityProofIn, request: Request, response: Response, eligibility: EligibilityService,
                rt: RT, caller: Caller):
    """Use a resident's signed proof that they hold at least `minPoints` of a programme (e.g. residence-permit
    points for school enrolment): checked on chain first (signature, deadline, unused nonce, holding; a refused one
    sends nothing and says why), then recorded on chain once (SchemeRegistry.proveEligibility), from the API's
    relayer. No key needed: the resident's signature is the authority. The answer never shows the holding.
    Limited per client address (CITYPOINTS_GOVERNANCE_APPROVALS_PER_MIN)."""
    per_min = rt.settings.governance_approvals_per_min
    wait = rt.allow("eligibility:" + source(request), per_min / 60.0, max(1, min(per_min, 10)))
    if wait is not None:
        raise RateLimited("too many eligibility proofs from this address; retry later",
                          headers={"Retry-After": str(max(1, round(wait)))})
    answer = await eligibility.prove(body)
    if answer["status"] == "pending":
        response.status_code = 202
    return answer
