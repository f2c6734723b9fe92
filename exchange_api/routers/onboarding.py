from __future__ import annotations

from fastapi import APIRouter, Request

from exchange_api.deps import Idem, OnboardingKey, OnboardingService
from exchange_api.routers import ERRORS, created
from exchange_api.schemas import OnboardIn, ResidentOut

router = APIRouter(prefix="/v1/onboarding", tags=["onboarding"], responses=ERRORS)


@router.post("/residents", operation_id="registerResident", status_code=201, response_model=ResidentOut,
             responses={202: {"model": ResidentOut}})
async def register(request: Request, body: OnboardIn, onboarding: OnboardingService, idem: Idem,
                   authority: OnboardingKey):
    """Register a resident (onboarding authority keys only). Personal data is stored encrypted; the chain gets
    the account and a keyed hash of the identity number. A second account for the same person: 409. The same
    registration again (same account and person) answers its state (201 registered, 202 pending); one the chain
    refused can be sent again."""
    # the idempotency fingerprint of personal data is keyed (HMAC with the identity key), never a plain hash
    # anyone could recompute from a guessed name, identity number and phone
    return await idem.run(request, authority.key_id, onboarding.fingerprint(body),
                          lambda: onboarding.register(body), created)
