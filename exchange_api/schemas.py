"""Request and response models (the OpenAPI document is generated from these). JSON fields are camelCase;
amounts are integers (points; credit cents) with a decimal string beside credits where helpful."""
from __future__ import annotations

import re
from typing import Annotated, Generic, Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ledger_node.domain import CREDIT_DECIMALS, RATE_SCALE, UINT64_MAX, UINT96_MAX, UINT256_MAX, credits_decimal

ADDRESS = r"^0x[0-9a-fA-F]{40}$"
BYTES32 = r"^0x[0-9a-fA-F]{64}$"
SIGNATURE = r"^0x[0-9a-fA-F]{130}$"
# a signer that may be a contract (EIP-1271: a multisig's signature is longer), as `citypoints gov sign` files take it
ANY_SIGNATURE = r"^0x(?:[0-9a-fA-F]{2}){65,1024}$"
# the types these values take on chain (contracts/*.sol): out of range is 422 naming the field, before anything
# is signed, stored or sent. Deadlines are uint256 on chain; the API takes them up to uint64 (year 584 billion);
# credits up to uint96 (Redemption stores them so)
T = TypeVar("T")


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_true_for_a_number(cls, value, info):
        """JSON true/false is no number: pydantic's lax mode would take `"credits": true` as 1 credit cent."""
        if isinstance(value, bool):
            annotation = cls.model_fields[info.field_name].annotation
            kinds = set(get_args(annotation)) or {annotation}
            if bool not in kinds and kinds & {int, float}:
                raise ValueError("a number is required, not true or false")
        return value


class ErrorBody(BaseModel):
    code: str
    message: str
    requestId: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class ListOf(BaseModel, Generic[T]):
    object: Literal["list"] = "list"
    data: list[T]
    has_more: bool


# --- redemptions --------------------------------------------------------------------------------------------

class PlanPart(Model):
    """One part of the plan the resident signs (IRedemption: exact change)."""
    scheme: int = Field(ge=1, le=UINT256_MAX, description="the scheme (programme) id")
    points: int = Field(ge=0, le=UINT96_MAX, description="whole points burned")
    credits: int = Field(gt=0, le=UINT96_MAX, description="credit cents of the price this part pays")


# a plan: 1 to Redemption.MAX_PARTS parts
Plan = Annotated[list[PlanPart], Field(min_length=1, max_length=16)]


class Part(BaseModel):
    """What one part of a redemption took: `value` (what the points burned are worth, in value units: credit cents
    x 1e6) + the change used = `credits` to the merchant + the change kept (`change`: kept > 0, used < 0)."""
    scheme: int
    points: int
    credits: int
    creditsDecimal: str
    value: int = Field(description="the points' worth at the rate then, credit cents x 1e6")
    valueDecimal: str
    change: int = Field(description="change kept by the resident in this scheme (> 0) or spent from it (< 0), "
                                    "credit cents x 1e6")
    changeDecimal: str


class RedemptionOut(BaseModel):
    object: Literal["redemption"] = "redemption"
    id: str = Field(description="the chain's redemptionId, keccak256(abi.encode(resident, nonce))")
    status: Literal["pending", "confirmed", "failed"]
    resident: str
    merchant: str
    credits: int
    creditsDecimal: str
    orderRef: str
    orderLabel: str | None = Field(None, description="the order as the cashier typed it, when the redemption came "
                                                     "from a payment request with a label")
    nonce: str
    deadline: int
    requestId: str | None = None
    txHash: str | None = None
    blockNumber: int | None = None
    parts: list[Part] | None = None
    value: int | None = Field(None, description="what the points burned are worth in all, credit cents x 1e6")
    valueDecimal: str | None = None
    change: int | None = Field(None, description="change kept (> 0) or spent (< 0) in all: value - credits x 1e6")
    changeDecimal: str | None = None
    refundedCredits: int = 0
    failureCode: str | None = None
    createdAt: str


class ConsentIn(Model):
    resident: str = Field(pattern=ADDRESS)
    merchant: str = Field(pattern=ADDRESS)
    credits: int = Field(gt=0, le=UINT96_MAX, description="credit cents")
    parts: Plan = Field(description="the plan the resident signed: the parts' credits add up to `credits`")
    orderRef: str = Field(pattern=BYTES32)
    nonce: str = Field(pattern=BYTES32)
    deadline: int = Field(ge=0, le=UINT64_MAX, description="unix seconds (uint64)")
    signature: str = Field(pattern=SIGNATURE, description="65 bytes r || s || v: low s, v 27 or 28 (an EOA's, as "
                                                          "the contract's ECDSA takes it); a contract wallet's "
                                                          "EIP-1271 signature is checked by the chain")
    wait: bool = Field(True, description="false: answer at once as pending (confirmation by webhook)")


class RequestCreate(Model):
    resident: str = Field(pattern=ADDRESS)
    credits: int = Field(gt=0, le=UINT96_MAX, description="credit cents")
    orderRef: str = Field(min_length=1, max_length=200,
                          description="the merchant's order id (hashed to bytes32) or a 0x-prefixed bytes32")
    expiresIn: int | None = Field(None, ge=30, le=7 * 86400, description="seconds the resident has to sign")


class RequestOut(BaseModel):
    object: Literal["redemption_request"] = "redemption_request"
    id: str
    status: Literal["open", "approved", "cancelled", "expired"]
    merchant: str
    merchantName: str | None = Field(None, description="the name the operator registered with the merchant's key "
                                                       "(off-chain; the address is what the resident signs for)")
    merchantNames: dict[str, str] | None = Field(None, description="the merchant's name as residents read it, "
                                                                   "{zh, en}: its catalogue profile's, else merchantName")
    resident: str
    credits: int
    creditsDecimal: str
    orderRef: str
    orderLabel: str | None = None
    nonce: str
    deadline: int
    redemptionId: str | None = None
    qrPayload: str
    typedData: dict | None = Field(None, description="the RedemptionConsent to sign with the plan made for the "
                                                     "resident's points now; null when they do not cover the credits")
    plan: dict | None = Field(None, description="the plan in words: parts with their value, change kept or spent")
    planError: dict | None = Field(None, description="why no plan could be made (code, message)")
    createdAt: str


class PosSignIn(Model):
    apiKey: str = Field(min_length=1, max_length=200, description="the merchant's API key (never echoed or kept)")


class PosSessionOut(BaseModel):
    object: Literal["pos_session"] = "pos_session"
    merchant: dict = Field(description="address, name {zh, en} (its catalogue profile, else its registered name), "
                                       "category, district")
    key: dict = Field(description="the key signed in with: id, scope (cashier | manager: what the till offers)")
    expiresAt: str


class ApproveIn(Model):
    signature: str = Field(pattern=SIGNATURE)
    parts: Plan = Field(description="the plan the resident signed (the typedData's parts)")
    wait: bool = True


class RefundIn(Model):
    credits: int = Field(gt=0, le=UINT96_MAX)
    wait: bool = True


class RefundOut(BaseModel):
    object: Literal["refund"] = "refund"
    id: str
    redemptionId: str
    status: Literal["pending", "confirmed", "failed"]
    credits: int
    creditsDecimal: str
    parts: list[Part] | None = Field(None, description="what each part gave back: points restored at the rate then, "
                                                       "their value, the credits refunded, the change kept (> 0) or "
                                                       "turned back into points (< 0)")
    value: int | None = None
    valueDecimal: str | None = None
    change: int | None = None
    changeDecimal: str | None = None
    txHash: str | None = None
    blockNumber: int | None = None
    failureCode: str | None = None
    createdAt: str


# --- residents ----------------------------------------------------------------------------------------------

class Expiring(BaseModel):
    points: int = Field(description="the points that expire first: those of the oldest month still live")
    lastDay: int = Field(description="the last day they can be spent (PointsLedger's day number, city time)")
    lastDate: str = Field(description="that day as a date (YYYY-MM-DD, city time)")
    daysLeft: int = Field(description="days from today (the chain's day) to lastDay; 0: today is the last day")


class SchemeBalance(BaseModel):
    scheme: int
    points: int = Field(description="points the resident can spend (in a scheme whose points expire: not expired)")
    rate: int
    credits: int = Field(description="what the points and the change pay, in whole credit cents")
    creditsDecimal: str
    change: int = Field(0, description="change held in this scheme (value below a whole point), credit cents x 1e6")
    changeDecimal: str = "0.00"
    expiring: Expiring | None = Field(None, description="in a scheme whose points expire, the points expiring next "
                                                        "and their last day; null otherwise or when none are held")


class BalancesOut(BaseModel):
    object: Literal["balances"] = "balances"
    resident: str
    balances: list[SchemeBalance]
    totalCredits: int
    totalCreditsDecimal: str
    asOfBlock: int


class SchemeCap(BaseModel):
    scheme: int
    status: str
    cap: int | None = Field(description="the resident daily cap in points; null: the programme has no cap")
    receivedToday: int = Field(description="points issued to the resident today (exchanges and refunds not counted)")
    left: int | None = Field(description="points the programme may still give the resident today; null: no cap")


class CapsOut(BaseModel):
    object: Literal["resident_caps"] = "resident_caps"
    resident: str
    day: int = Field(description="PointsLedger's day number (unix days in the city's time zone)")
    resetsAt: int = Field(description="unix seconds: the day ends and every count starts again from 0")
    asOfBlock: int
    caps: list[SchemeCap]


class BalanceProofLine(BaseModel):
    scheme: int
    balance: int = Field(description="points held at the report's last block")
    proof: list[str] = Field(description="sibling hashes from the leaf to the root (OpenZeppelin MerkleProof)")


class BalanceProofOut(BaseModel):
    object: Literal["balance_proof"] = "balance_proof"
    resident: str
    attestation: dict = Field(description="the last attestation on chain: id, auditor, reportHash, merkleRoot, "
                                          "fromBlock, toBlock, block, txHash")
    report: dict = Field(description="the published report's hash, root, leafEncoding, fromBlock, toBlock, "
                                     "toBlockTime, status")
    lines: list[BalanceProofLine] = Field(description="the resident's nonzero balances in the report; none: the "
                                                      "report lists no points for this address")


class RuleCitationOut(BaseModel):
    """The published rule an issued entry cites: the scheme's rules version, its document's sha256, and the rule its
    reason code names there (names null when the API does not hold that document)."""
    version: int
    rulesHash: str
    activity: str | None = None
    nameZh: str | None = None
    nameEn: str | None = None


class ActivityOut(BaseModel):
    object: Literal["activity"] = "activity"
    id: str
    kind: str
    scheme: int
    amount: int
    balanceAfter: int
    by: str
    reasonCode: int | None = None
    rule: RuleCitationOut | None = Field(None, description="the published rule an issued entry cites (null for "
                                                            "entries of batches citing no rules)")
    ref: str | None = None
    txHash: str
    blockNumber: int
    blockTimestamp: int = Field(description="the block's time, unix seconds")


class QuoteIn(Model):
    resident: str = Field(pattern=ADDRESS)
    fromScheme: int = Field(gt=0, le=UINT256_MAX)
    toScheme: int = Field(gt=0, le=UINT256_MAX)
    points: int = Field(gt=0, le=UINT256_MAX)
    slippage: int = Field(0, ge=0, le=10_000, description="basis points the resident accepts below the quote")


class QuoteOut(BaseModel):
    object: Literal["exchange_quote"] = "exchange_quote"
    fromScheme: int
    toScheme: int
    points: int
    received: int
    credits: int
    creditsDecimal: str
    minReceived: int
    typedData: dict


class IntentIn(Model):
    resident: str = Field(pattern=ADDRESS)
    fromScheme: int = Field(gt=0, le=UINT256_MAX)
    toScheme: int = Field(gt=0, le=UINT256_MAX)
    points: int = Field(gt=0, le=UINT256_MAX)
    minReceived: int = Field(ge=0, le=UINT256_MAX)
    nonce: str = Field(pattern=BYTES32, description="the quote's: a number from 1 to 2**64-1 as 32 bytes, each used "
                                                    "once, in any order within 64 of the resident's highest used")
    deadline: int = Field(ge=0, le=UINT64_MAX, description="unix seconds (uint64)")
    signature: str = Field(pattern=SIGNATURE)
    wait: bool = True


class ExchangeOut(BaseModel):
    object: Literal["exchange"] = "exchange"
    id: str
    status: Literal["pending", "confirmed", "failed"]
    resident: str
    fromScheme: int
    toScheme: int
    points: int
    minReceived: int
    received: int | None = None
    credits: int | None = None
    valueIn: int | None = Field(None, description="the points given are worth this, credit cents x 1e6")
    valueInDecimal: str | None = None
    valueOut: int | None = Field(None, description="the points received are worth this, credit cents x 1e6")
    valueOutDecimal: str | None = None
    change: int | None = Field(None, description="change kept (> 0) or used (< 0) on the two sides, credit cents "
                                                 "x 1e6: valueIn + change used = credits x 1e6 = valueOut + change kept")
    changeDecimal: str | None = None
    txHash: str | None = None
    blockNumber: int | None = None
    failureCode: str | None = None
    createdAt: str


# --- onboarding ---------------------------------------------------------------------------------------------

class IdentityIn(Model):
    """A resident's identity data as the registration office takes it (onboarding, recovery)."""
    name: str = Field(min_length=1, max_length=200)
    identityNumber: str = Field(min_length=4, max_length=64)
    phone: str = Field(min_length=4, max_length=32)

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str) -> str:
        if not re.fullmatch(r"\+?[0-9 ()-]{4,32}", v):
            raise ValueError("phone: digits, spaces, parentheses, dashes and a leading + only")
        return v


class OnboardIn(IdentityIn):
    address: str = Field(pattern=ADDRESS)


class ResidentOut(BaseModel):
    object: Literal["resident"] = "resident"
    address: str
    identityHash: str
    status: Literal["pending", "registered", "failed"]
    txHash: str | None = None


# --- webhooks -----------------------------------------------------------------------------------------------

class WebhookIn(Model):
    url: str = Field(pattern=r"^https?://", max_length=2000)


class WebhookOut(BaseModel):
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    id: str
    url: str
    secret: str | None = Field(None, description="shown once, at creation")
    createdAt: str


# --- public -------------------------------------------------------------------------------------------------

class SchemeProfileOut(BaseModel):
    nameZh: str
    nameEn: str
    unitZh: str
    unitEn: str
    organisation: str  # the issuing organisation
    colour: str  # "#rrggbb": the colour pages draw the programme with


class SchemeRulesOut(BaseModel):
    version: int  # the latest published version of the programme's earning rules
    rulesHash: str  # sha256 of the rules document
    uri: str  # where the document is published


class SchemeOut(BaseModel):
    scheme: int
    status: Literal["none", "active", "paused", "retired"]
    issuerDailyQuota: int
    residentDailyCap: int
    rate: int  # 0: no value in credits (an eligibility-only programme, or no rate yet)
    totalSupply: int
    expiryMonths: int = Field(0, description="points credited in a month expire this many months after its end; "
                                             "0: never")
    # what the consortium published about the programme (SchemeRegistry); "undescribed" and nulls when nothing yet
    kind: Literal["valued", "eligibility-only", "undescribed"]
    profile: SchemeProfileOut | None
    rules: SchemeRulesOut | None


class ScheduledRate(BaseModel):
    scheme: int
    rate: int
    proposalId: int
    readyAt: int | None
    state: str


class RatesOut(BaseModel):
    object: Literal["rates"] = "rates"
    rateScale: int = RATE_SCALE
    creditDecimals: int = CREDIT_DECIMALS
    inForce: list[dict]
    scheduled: list[ScheduledRate]


class PeriodOut(BaseModel):
    period: int
    state: Literal["open", "closed"]
    closedAt: int | None = None


class StatementOut(BaseModel):
    object: Literal["statement"] = "statement"
    statementId: str
    kind: Literal["merchant", "issuer"]
    period: int
    scheme: int | None = None
    merchant: str | None = None
    schemeA: int | None = None
    schemeB: int | None = None
    amount: int
    amountDecimal: str
    settlement: Literal["open", "paid", "confirmed", "disputed"]


decimal = credits_decimal  # the name the services use


# --- governance (the consortium console) ---------------------------------------------------------------------

class ProposalCallOut(BaseModel):
    target: str
    contract: str | None  # the deployment's name of the target, when it is one of its contracts
    data: str


class ProposalApprovalOut(BaseModel):
    member: str
    how: Literal["transaction", "signature"]
    submitter: str  # who sent the transaction: the member, or whoever relayed its signature
    timestamp: int
    txHash: str
    counts: bool  # the member is still a member (approvals count over current members)


class ProposalOut(BaseModel):
    object: Literal["proposal"] = "proposal"
    id: int
    state: Literal["open", "queued", "executable", "executed", "cancelled", "expired"]
    description: str
    calls: list[ProposalCallOut]
    callsHash: str  # what a signed approval binds (Consortium.proposalCallsHash)
    approvals: int  # over current members, as the contract counts them
    required: int
    approvedBy: list[ProposalApprovalOut]
    noticeDelay: int  # seconds from the approval that queues it to its earliest execution
    executableFrom: int | None  # once queued
    expiresAt: int | None


class ProposalsOut(BaseModel):
    object: Literal["proposals"] = "proposals"
    chainId: int
    consortium: str  # the verifying contract of a ProposalApproval
    members: list[str]
    chainTime: int  # the head block's time, which the states are judged against
    data: list[ProposalOut]
    has_more: bool


class ProposalApprovalIn(Model):
    """A member's EIP-712 ProposalApproval(proposalId, callsHash, deadline), signed in the console page (or by
    `citypoints gov sign`); the API relays it to Consortium.approveBySig."""
    member: str = Field(pattern=ADDRESS)
    deadline: int = Field(ge=1, le=UINT64_MAX)
    signature: str = Field(pattern=ANY_SIGNATURE, description="65 bytes r || s || v of a member's key, or up to "
                                                              "1,024 bytes that a member contract's EIP-1271 "
                                                              "isValidSignature accepts (the chain decides)")


class EligibilityProofIn(Model):
    """A resident's EIP-712 EligibilityProof for one service (verifying contract: SchemeRegistry): "I hold at least
    minPoints of scheme", usable once (nonce) until deadline."""
    resident: str = Field(pattern=ADDRESS)
    scheme: int = Field(ge=1, le=UINT256_MAX)
    minPoints: int = Field(ge=1, le=UINT256_MAX)
    service: str = Field(pattern=ADDRESS, description="the service the resident proves it to")
    nonce: str = Field(pattern=BYTES32)
    deadline: int = Field(ge=0, le=UINT64_MAX, description="unix seconds")
    signature: str = Field(pattern=ANY_SIGNATURE, description="the resident's: 65 bytes of an EOA, or what its "
                                                              "EIP-1271 wallet accepts (up to 1,024 bytes)")


class EligibilityProofOut(BaseModel):
    object: Literal["eligibility_proof"] = "eligibility_proof"
    status: Literal["proven", "pending"]  # pending: sent, not mined within the confirmation timeout
    resident: str
    scheme: int
    minPoints: int
    service: str
    nonce: str
    txHash: str
    block: int | None


class ProposalApprovalSubmittedOut(BaseModel):
    object: Literal["proposal_approval"] = "proposal_approval"
    proposalId: int
    member: str
    status: Literal["approved", "pending", "already_approved"]
    txHash: str | None
    proposal: ProposalOut | None  # as the index has it after the approval (None while pending)


class NodeOut(BaseModel):
    object: Literal["node"] = "node"
    head: int
    headTimestamp: int
    blockAgeSeconds: int  # seconds since the head block, by the API's clock (0 if the block is ahead of it)


class AttestationOut(BaseModel):
    id: int  # AuditAttestations numbers attestations from 1
    auditor: str
    reportHash: str  # keccak256 of the auditor's canonical report (`citypoints audit verify REPORT --rpc` checks it)
    merkleRoot: str  # root of the attested balances (residents check their balance against it)
    fromBlock: int
    toBlock: int  # the last block the report covers
    block: int  # the block the attestation was recorded in
    txHash: str
    blocksSince: int  # blocks indexed past toBlock: what the report does not cover yet


class AttestationsOut(BaseModel):
    object: Literal["list"] = "list"
    data: list[AttestationOut]  # newest first


class MerchantStatusOut(BaseModel):
    address: str
    status: Literal["active", "suspended"]  # as the chain holds it (Membership)
    nameZh: str | None  # the shop's published profile, if any
    nameEn: str | None


class MerchantStatusCounts(BaseModel):
    active: int
    suspended: int


class MerchantsOut(BaseModel):
    object: Literal["merchants"] = "merchants"
    counts: MerchantStatusCounts
    data: list[MerchantStatusOut]  # every merchant the chain registered, by address


class HeldPointsOut(BaseModel):
    scheme: int
    points: int


class HoldingsOut(BaseModel):
    """Points issued to people who have not joined (PointsLedger.issueToIdentities), waiting on chain under their
    keyed identity hashes until their registration takes them: how many people, and the points per scheme."""
    object: Literal["holdings"] = "holdings"
    people: int  # unclaimed holdings with points in them
    totals: list[HeldPointsOut]


class DailyOut(BaseModel):
    day: str  # UTC date, YYYY-MM-DD
    issued: int  # points issued that day, all programmes
    redeemed: int  # points burned by redemptions that day, all programmes


class DailyActivityOut(BaseModel):
    object: Literal["daily_activity"] = "daily_activity"
    days: list[DailyOut]  # oldest first, every day of the window (zero when nothing happened)
