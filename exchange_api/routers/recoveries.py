from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from exchange_api.deps import Caller, Idem, OnboardingKey, RecoveriesService
from exchange_api.routers import ERRORS, changed, created
from exchange_api.schemas import ADDRESS, SIGNATURE, UINT64_MAX, IdentityIn, ListOf, Model

router = APIRouter(prefix="/v1/recoveries", tags=["recoveries"], responses=ERRORS)
Address = Annotated[str, Path(pattern=ADDRESS, description="the resident's account (the old key)")]


class RecoveryIn(IdentityIn):
    """The resident's identity data as onboarding takes it (the account is found from the identity number's keyed
    hash), and the NEW key's address the resident brought (made in their wallet)."""
    newAccount: str = Field(pattern=ADDRESS, description="the resident's new key; fresh: never a resident or role")


class ObjectionIn(Model):
    newAccount: str = Field(pattern=ADDRESS, description="as signed: the pending recovery's new account")
    nonce: int = Field(ge=1, le=2**32 - 1, description="as signed: the pending request's nonce")
    deadline: int = Field(ge=0, le=UINT64_MAX, description="as signed: unix seconds")
    signature: str = Field(pattern=SIGNATURE, description="the old key's EIP-712 RecoveryObjection signature")


class StartedBy(BaseModel):
    address: str
    name: str | None = Field(None, description="the registration office's name, where the API knows it")


class RecoveryOut(BaseModel):
    object: Literal["recovery"] = "recovery"
    account: str
    newAccount: str
    state: Literal["pending", "objected", "cancelled", "completed"]
    nonce: int
    executableAt: int = Field(description="unix seconds: the office may complete it from then on")
    executable: bool = Field(description="pending and its notice over at the chain's latest block: the office may "
                                         "complete it now")
    startedBy: StartedBy | None = Field(None, description="null until the indexer has seen the request")
    requestTxHash: str | None = None
    endTxHash: str | None = None
    objection: dict | None = Field(None, description="while pending: the EIP-712 RecoveryObjection for the old key "
                                                     "to sign (deadline one hour from now)")
    txHash: str | None = Field(None, description="the transaction this request sent")


class PolicyOut(BaseModel):
    object: Literal["recovery_policy"] = "recovery_policy"
    noticeSeconds: int
    office: str | None


@router.get("/policy", operation_id="getRecoveryPolicy", response_model=PolicyOut)
async def policy(recoveries: RecoveriesService, caller: Caller):
    """The notice period of a recovery (seconds the old key has to object; from the chain) and the office's name."""
    return await recoveries.policy()


@router.post("", operation_id="startRecovery", status_code=201, response_model=RecoveryOut,
             responses={202: {"model": RecoveryOut}})
async def start(request: Request, body: RecoveryIn, recoveries: RecoveriesService, idem: Idem,
                office: OnboardingKey):
    """Start moving a resident's registration and balances to a new key (onboarding-office keys). The account is
    found from the identity number (keyed hash, Membership.accountOf): 404 `resident_not_found`; the name and
    phone must match the registration kept (422 `identity_mismatch`); a recovery already pending, or a new address
    that is not fresh, is 409 with nothing sent. 201 once requested on chain (202 while its transaction is not
    mined); completes after the notice unless the old key objects."""
    return await idem.run(request, office.key_id, recoveries.fingerprint(body), lambda: recoveries.start(body),
                          created)


@router.get("", operation_id="listRecoveriesToward", response_model=ListOf[RecoveryOut])
async def toward(recoveries: RecoveriesService, caller: Caller,
                 newAccount: Annotated[str, Query(pattern=ADDRESS, description="the new key")]):
    """The recoveries toward a new key, latest first (the new key's wallet shows their countdown)."""
    return await recoveries.toward(newAccount)


@router.get("/{account}", operation_id="getRecovery", response_model=RecoveryOut)
async def get(account: Address, recoveries: RecoveriesService, caller: Caller):
    """The latest recovery of this account: pending (with the objection to sign), objected, cancelled or
    completed. 404 `recovery_not_found` when none was ever started."""
    return await recoveries.recovery(account)


@router.post("/{account}/objection", operation_id="objectToRecovery", status_code=200, response_model=RecoveryOut,
             responses={202: {"model": RecoveryOut}})
async def objection(account: Address, body: ObjectionIn, recoveries: RecoveriesService, caller: Caller):
    """The old key objects, without gas: its signed RecoveryObjection is relayed (Membership.objectToRecoveryBySig)
    after the contract's checks are made here, so a bad one sends nothing: 422 `invalid_signature` (not the
    account's key), `signature_expired`, `recovery_mismatch` (another request or new account); 409
    `objection_replayed` for a recovery already stopped; 404 `recovery_not_found`."""
    return _answer(changed(await recoveries.object(account, body)))


@router.post("/{account}/complete", operation_id="completeRecovery", status_code=200, response_model=RecoveryOut,
             responses={202: {"model": RecoveryOut}})
async def complete(account: Address, recoveries: RecoveriesService, office: OnboardingKey):
    """Complete a pending recovery after its notice (onboarding-office keys): registration and balances move to the
    new key. 409 `notice_pending` before `executableAt`; 404 `recovery_not_found`."""
    return _answer(changed(await recoveries.complete(account)))


@router.post("/{account}/cancel", operation_id="cancelRecovery", status_code=200, response_model=RecoveryOut,
             responses={202: {"model": RecoveryOut}})
async def cancel(account: Address, recoveries: RecoveriesService, office: OnboardingKey):
    """Cancel a pending recovery (onboarding-office keys), e.g. one started by mistake."""
    return _answer(changed(await recoveries.cancel(account)))


def _answer(result: tuple[int, dict]):
    status, body = result
    return JSONResponse(body, status)
