from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from exchange_api.deps import RT, AuditorKey, Caller, GovernanceService, ManagerKey, PublicService, source
from exchange_api.errors import Forbidden, RateLimited
from exchange_api.routers import ERRORS
from exchange_api.schemas import (AttestationsOut, DailyActivityOut, HoldingsOut, ListOf, MerchantsOut, NodeOut,
                                  PeriodOut,
                                  ProposalApprovalIn, ProposalApprovalSubmittedOut, ProposalOut, ProposalsOut, RatesOut,
                                  SchemeOut, StatementOut)

router = APIRouter(prefix="/v1", tags=["public"], responses=ERRORS)
# public reads of the indexer's tables a wallet makes: served by the read process too (read_replica.py)
reads = APIRouter(prefix="/v1", tags=["public"], responses=ERRORS)
Period = Annotated[int | None, Query(ge=1, le=2**63 - 1)]


@reads.get("/schemes", operation_id="listSchemes", response_model=ListOf[SchemeOut])
async def schemes(public: PublicService, caller: Caller):
    return await public.schemes()


@reads.get("/rates", operation_id="getRates", response_model=RatesOut)
async def rates(public: PublicService, caller: Caller):
    """Rates in force (credit cents per point, scaled by 1e6) and scheduled changes (queued proposals)."""
    return await public.rates()


@reads.get("/supply", operation_id="getSupply")
async def supply(public: PublicService, caller: Caller):
    return await public.supply()


@reads.get("/periods", operation_id="listPeriods", response_model=ListOf[PeriodOut])
async def periods(public: PublicService, caller: Caller):
    return await public.periods()


@router.get("/statements", operation_id="listStatements", response_model=ListOf[StatementOut])
async def statements(public: PublicService, caller: AuditorKey, period: Period = None):
    """Clearing statements per period: every pair for auditor keys; a merchant key sees its own."""
    return await public.statements(merchant=caller.merchant if caller.role == "merchant" else None,
                                   period=period)


@router.get("/settlements", operation_id="listSettlements", response_model=ListOf[StatementOut])
async def settlements(public: PublicService, merchant: ManagerKey, period: Period = None):
    """This merchant's settlement statements per period (what each scheme's issuer owes it)."""
    if merchant.merchant is None:
        raise Forbidden("not a merchant key", code="wrong_key_role")
    return await public.statements(merchant=merchant.merchant, period=period)


@router.get("/indexer", operation_id="getIndexerStatus")
async def indexer(public: PublicService, caller: Caller):
    return public.indexer_status()


# --- the consortium console: governance and node health ----------------------------------------------------------

ProposalId = Annotated[int, Path(ge=1, le=2**63 - 1)]
ProposalState = Literal["open", "queued", "executable", "executed", "cancelled", "expired"]


@router.get("/proposals", operation_id="listProposals", response_model=ProposalsOut)
async def proposals(governance: GovernanceService, caller: Caller, state: ProposalState | None = None,
                    limit: Annotated[int, Query(ge=1, le=50)] = 20,
                    before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None):
    """The consortium's proposals, newest first: state, approvals n of m (over current members, as the contract
    counts them) and who approved, by transaction or by signature; the earliest execution time; the calls."""
    return await governance.proposals(state=state, limit=limit, before=before)


@router.get("/proposals/{proposal_id}", operation_id="getProposal", response_model=ProposalOut)
async def proposal(proposal_id: ProposalId, governance: GovernanceService, caller: Caller):
    return await governance.proposal(proposal_id)


@router.post("/proposals/{proposal_id}/approvals", operation_id="approveProposalBySignature",
             response_model=ProposalApprovalSubmittedOut, status_code=201,
             responses={200: {"model": ProposalApprovalSubmittedOut}, 202: {"model": ProposalApprovalSubmittedOut}})
async def approve_proposal(proposal_id: ProposalId, body: ProposalApprovalIn, request: Request, response: Response,
                           governance: GovernanceService, rt: RT, caller: Caller):
    """Relay a member's signed EIP-712 ProposalApproval to Consortium.approveBySig (from the API's relayer
    account). No key needed: the member's signature is the authority, checked on chain first (a refused one
    sends nothing). 201 approved, 202 pending, 200 when the member's approval already counts. Limited per client
    address (CITYPOINTS_GOVERNANCE_APPROVALS_PER_MIN)."""
    per_min = rt.settings.governance_approvals_per_min
    wait = rt.allow("gov-approval:" + source(request), per_min / 60.0, max(1, min(per_min, 10)))
    if wait is not None:
        raise RateLimited("too many signed approvals from this address; retry later",
                          headers={"Retry-After": str(max(1, round(wait)))})
    answer = await governance.submit_approval(proposal_id, body)
    response.status_code = {"approved": 201, "pending": 202, "already_approved": 200}[answer["status"]]
    return answer


@router.get("/node", operation_id="getNodeHealth", response_model=NodeOut)
async def node(governance: GovernanceService, caller: Caller):
    """The ledger node's head block and its age in seconds (a stalled node shows a growing age)."""
    return await governance.node()


@router.get("/attestations", operation_id="listAttestations", response_model=AttestationsOut)
async def attestations(governance: GovernanceService, caller: Caller,
                       limit: Annotated[int, Query(ge=1, le=50)] = 5):
    """The auditors' latest attestations on chain (AuditAttestations), newest first: report hash, balances root,
    the blocks covered and how many blocks have come since."""
    return await governance.attestations(limit)


@router.get("/merchants", operation_id="listMerchantStatuses", response_model=MerchantsOut)
async def merchants(governance: GovernanceService, caller: Caller):
    """Every merchant registered on chain with its status there (active or suspended) and its published name;
    counts by status."""
    return await governance.merchants()


@router.get("/holdings", operation_id="getUnclaimedHoldings", response_model=HoldingsOut)
async def holdings(governance: GovernanceService, caller: Caller):
    """Points held on chain for people who have not joined yet (issuers credit them by keyed identity hash; their
    registration moves the points to them): how many people, the points per scheme. Totals only, no hashes."""
    return await governance.holdings()


@router.get("/activity/daily", operation_id="getDailyActivity", response_model=DailyActivityOut)
async def daily_activity(governance: GovernanceService, caller: Caller,
                         days: Annotated[int, Query(ge=1, le=31)] = 14):
    """Points issued and points redeemed per UTC day over the last `days` days (today included), oldest first."""
    return await governance.daily(days)
