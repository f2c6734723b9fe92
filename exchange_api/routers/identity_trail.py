"""The identity-use trail (issue 23): a resident reads who used their personal data, when and why, and objects to an
entry they do not recognise (services/identity_trail.py); an issuer looks a resident up by identity number, on the
trail (services/resident_lookup.py)."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from exchange_api.deps import Caller, IdentityTrailService, IssuerKey, ResidentLookupService
from exchange_api.routers import ERRORS
from exchange_api.routers.residents import Address, ResidentSession
from exchange_api.schemas import ADDRESS, BYTES32, SIGNATURE, UINT64_MAX, ListOf, Model

router = APIRouter(prefix="/v1", tags=["identity trail"], responses=ERRORS)
EntryId = Annotated[int, Path(ge=1, le=2**64 - 1, description="the trail entry's id (IdentityUsed.id)")]


class IdentityUseOut(BaseModel):
    object: Literal["identity_use"] = "identity_use"
    id: int
    resident: str
    actor: str = Field(description="the registered account that used the data")
    actorName: str | None = Field(None, description="the actor's organisation, where the API knows it")
    purpose: str = Field(description="onboarding, identity-recheck, issuance-lookup, recovery-verification, "
                                     "eligibility-proof, data-export or legal-request")
    purposeCode: int
    requestRef: str = Field(description="the actor's reference of the request (bytes32; no personal data)")
    at: int = Field(description="unix seconds: the time of the block that recorded it")
    txHash: str
    block: int
    beforeJoining: bool = Field(False, description="a use before the resident joined (an issuer's lookup to credit "
                                                   "them), recorded under the account that held their points then; "
                                                   "no objection can be signed for it")
    objected: bool
    objectionTxHash: str | None = None
    objection: dict | None = Field(None, description="while not objected: the EIP-712 TrailObjection to sign "
                                                     "(deadline one hour from now)")


class TrailObjectionIn(Model):
    resident: str = Field(pattern=ADDRESS, description="as signed: the resident whose entry it is")
    nonce: str = Field(pattern=BYTES32, description="as signed; each is used once")
    deadline: int = Field(ge=0, le=UINT64_MAX, description="as signed: unix seconds")
    signature: str = Field(pattern=SIGNATURE, description="the resident's EIP-712 TrailObjection signature")


class TrailObjectionOut(BaseModel):
    object: Literal["trail_objection"] = "trail_objection"
    entryId: int
    resident: str
    status: Literal["objected", "pending"]
    txHash: str
    block: int | None


@router.get("/residents/{address}/identity_trail", operation_id="listIdentityTrail",
            response_model=ListOf[IdentityUseOut])
async def entries(address: Address, trail: IdentityTrailService, resident: ResidentSession):
    """Who used this resident's personal data, when and why, newest first (the IdentityTrail entries the indexer
    has seen), each with whether the resident objected. Only the resident reads it
    (`Authorization: Bearer <resident token>`, see loginResident)."""
    return await trail.entries(address)


@router.post("/identity_trail/{entryId}/objection", operation_id="objectToIdentityUse", status_code=200,
             response_model=TrailObjectionOut, responses={202: {"model": TrailObjectionOut}})
async def objection(entryId: EntryId, body: TrailObjectionIn, response: Response, trail: IdentityTrailService,
                    caller: Caller):
    """"I do not recognise this": the resident's signed TrailObjection is relayed (IdentityTrail.object) after the
    contract's checks are made here, so a bad one sends nothing: 404 `trail_entry_not_found` (not this resident's
    entry), 422 `invalid_signature`, `signature_expired`; 409 `objection_already_used` (objected before). No key
    needed: the resident's signature is the authority. 202 while the transaction is not mined."""
    answer = await trail.object(entryId, body)
    if answer["status"] == "pending":
        response.status_code = 202
    return answer


class ObjectionRecordOut(BaseModel):
    object: Literal["trail_objection_record"] = "trail_objection_record"
    entryId: int
    resident: str = Field(description="who objected")
    txHash: str
    block: int
    byTheEntrysResident: bool = Field(description="false: the objector is not the resident the entry names")
    actor: str | None = Field(None, description="the entry's actor (null until the indexer has the entry)")
    actorName: str | None = None
    purpose: str | None = None
    usedAt: int | None = Field(None, description="unix seconds: when the data was used")


@router.get("/identity_trail/objections", operation_id="listTrailObjections",
            response_model=ListOf[ObjectionRecordOut])
async def objections(trail: IdentityTrailService, caller: Caller,
                     limit: Annotated[int, Query(ge=1, le=100)] = 20):
    """Residents' objections to uses of their personal data, newest first, each with the use it names (who, why,
    when): the consortium console shows them (the same events are public on chain and in the auditor's report)."""
    return await trail.objections(limit)


class LookupIn(Model):
    identityNumber: str = Field(min_length=4, max_length=64, description="the resident's identity number")
    purpose: Literal["issuance-lookup"] = Field(description="why: the trail's purpose (issuance-lookup)")
    requestRef: str = Field(pattern=BYTES32, description="the issuer's reference of this lookup (bytes32; no "
                                                         "personal data), written on the trail")
    holdIfNotJoined: bool = Field(False, description="a person who has not joined yet is answered (not 404) with "
                                                     "the keyed identity hash to issue to (PointsLedger."
                                                     "issueToIdentities holds the points until they join)")


class LookupOut(BaseModel):
    object: Literal["resident_lookup"] = "resident_lookup"
    registered: bool = Field(description="whether the person has joined (an account on chain)")
    address: str | None = Field(description="the resident's account; null if not joined")
    identityHash: str = Field(description="the keyed identity hash (HMAC of the identity number, never the number): "
                                          "what issueToIdentities takes")
    heldAccount: str | None = Field(None, description="where points issued to the hash wait until the person joins "
                                                      "(not joined only)")
    purpose: str
    requestRef: str
    trailEntry: int = Field(description="the IdentityTrail entry recording this lookup (under the held account "
                                        "for a person not joined)")


@router.post("/residents/lookup", operation_id="lookupResident", status_code=200, response_model=LookupOut)
async def lookup(body: LookupIn, lookups: ResidentLookupService, issuer: IssuerKey):
    """An issuer finds a resident's address by identity number (issuer keys: the key names the issuer's chain
    account). The lookup is on the identity-use trail first (purpose issuance-lookup, actor the issuer's account,
    the request reference): 403 `not_an_issuer` when the key's account issues for no programme on chain now; 503
    `trail_unavailable` and no address when it could not be recorded; 404
    `resident_not_found` (no entry) when no resident has the number, unless `holdIfNotJoined`: then the answer
    is the identity hash to issue to and the held account, and the entry is under the held account."""
    return await lookups.lookup(issuer.account, body)
