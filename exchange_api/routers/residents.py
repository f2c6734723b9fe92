from __future__ import annotations

import math
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field

from exchange_api.deps import RT, Caller, RedemptionsService, ResidentsService, source
from exchange_api.errors import Forbidden, RateLimited, Unauthorized
from exchange_api.routers import ERRORS, StartingAfter
from exchange_api.schemas import (ADDRESS, SIGNATURE, ActivityOut, BalanceProofOut, BalancesOut, CapsOut, ListOf,
                                  Model, RequestOut)

router = APIRouter(prefix="/v1/residents", tags=["residents"], responses=ERRORS)
# what a resident's wallet reads from the indexer's tables: served by the read process too (read_replica.py)
reads = APIRouter(prefix="/v1/residents", tags=["residents"], responses=ERRORS)
Address = Annotated[str, Path(pattern=ADDRESS)]


class LoginIn(Model):
    issuedAt: int = Field(ge=0, le=2**64 - 1, description="unix seconds, as signed")
    nonce: str = Field(pattern=r"^0x[0-9a-fA-F]{64}$", description="bytes32, as signed; each is used once")
    signature: str = Field(pattern=SIGNATURE, description="the resident's EIP-712 signature of the ResidentLogin")


class LoginChallengeOut(BaseModel):
    object: Literal["resident_login"] = "resident_login"
    resident: str
    typedData: dict


class SessionOut(BaseModel):
    object: Literal["resident_session"] = "resident_session"
    resident: str
    tokenType: Literal["Bearer"] = "Bearer"
    token: str
    expiresAt: int


async def resident_session(request: Request, address: Address, residents: ResidentsService, rt: RT) -> str:
    """Only the resident: `Authorization: Bearer <token from POST /v1/residents/{address}/login>`. A bad token
    counts as a failed authentication of its source (429 after too many, like a wrong API key)."""
    failures, where = request.app.state.auth_failures, source(request)
    wait = failures.retry_after(where)
    if wait is not None:
        raise RateLimited("too many failed authentications from this address; retry later",
                          code="too_many_auth_failures", headers={"Retry-After": str(max(1, math.ceil(wait)))})
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized("only the resident reads this: sign a ResidentLogin (POST /v1/residents/{address}/login) "
                           "and send its token as Authorization: Bearer <token>", code="missing_resident_token")
    scheme, _, token = header.partition(" ")
    subject = residents.session_resident(token.strip()) if scheme.lower() == "bearer" else None
    if subject is None:
        failures.failed(where)
        raise Unauthorized("the resident token is invalid or expired; log in again", code="invalid_resident_token")
    if subject.lower() != address.lower():
        raise Forbidden("this token is another resident's", code="wrong_resident")
    wait = rt.allow("resident:" + subject)
    if wait is not None:
        raise RateLimited("too many requests; slow down", headers={"Retry-After": str(max(1, round(wait)))})
    return subject


ResidentSession = Annotated[str, Depends(resident_session)]


@reads.get("/{address}/balances", operation_id="getResidentBalances", response_model=BalancesOut)
async def balances(address: Address, residents: ResidentsService, caller: Caller):
    """Balances per scheme and their worth in credit cents at the rates in force (from the indexer)."""
    # the hottest read: serialised directly (the body is built by the service in the documented shape)
    return Response(orjson.dumps(await residents.balances(address)), media_type="application/json")


@reads.get("/{address}/caps", operation_id="getResidentCaps", response_model=CapsOut)
async def caps(address: Address, residents: ResidentsService, caller: Caller):
    """Today's resident daily cap per programme: the points received today, the cap and what is left (`cap` null:
    no cap), read from the chain (PointsLedger.receivedToday) at one block; the day ends at `resetsAt`."""
    return await residents.caps(address)


@reads.get("/{address}/balance_proof", operation_id="getResidentBalanceProof", response_model=BalanceProofOut)
async def balance_proof(address: Address, residents: ResidentsService, caller: Caller):
    """The resident's balance lines in the auditor's last attested report, each with its Merkle proof, and that
    attestation: whoever holds them recomputes the leaf and the root and compares it with the root attested on
    chain (GET /v1/attestations). 404 `no_attestation` before any audit is attested, 404 `audit_report_not_found`
    when the attested report is not published on this server."""
    return await residents.balance_proof(address)


@reads.get("/{address}/history", operation_id="listResidentHistory", response_model=ListOf[ActivityOut])
async def history(address: Address, residents: ResidentsService, caller: Caller,
                  limit: Annotated[int, Query(ge=1, le=100)] = 20, starting_after: StartingAfter = None):
    """Issued (by which issuer account, with the program's reason code), revoked, burned, minted, moved."""
    return await residents.history(address, limit, starting_after)


@router.get("/{address}/login", operation_id="getResidentLoginChallenge", response_model=LoginChallengeOut)
async def login_challenge(address: Address, residents: ResidentsService, caller: Caller):
    """The EIP-712 `ResidentLogin` document to sign (the resident's address, the time, a random nonce). Any
    client may build it itself: nothing is remembered until the signed login is posted."""
    return residents.login_challenge(address)


@router.post("/{address}/login", operation_id="loginResident", status_code=201, response_model=SessionOut)
async def login(address: Address, body: LoginIn, residents: ResidentsService, caller: Caller):
    """Sign in as the resident: post the signed `ResidentLogin` (issued within two minutes of now, its nonce
    used once) and get a bearer token for a few minutes (`expiresAt`) for what only the resident reads. Not
    idempotent by key (the token is not stored): a lost answer needs a new signed login."""
    session = await residents.login(address, body)
    return Response(orjson.dumps(session), status_code=201, media_type="application/json")


@router.get("/{address}/redemption_requests", operation_id="listResidentRedemptionRequests",
            response_model=ListOf[RequestOut])
async def pending_requests(address: Address, redemptions: RedemptionsService, resident: ResidentSession,
                           limit: Annotated[int, Query(ge=1, le=100)] = 20, starting_after: StartingAfter = None):
    """Open redemption requests waiting for this resident's signature: which merchant they are paying, so only
    the resident reads them (`Authorization: Bearer <resident token>`, see loginResident). A merchant's QR
    carries the request id, which reads that one request (getRedemptionRequest)."""
    return await redemptions.resident_requests(address, limit, starting_after)
