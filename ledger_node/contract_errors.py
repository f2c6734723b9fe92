"""One vocabulary for the contracts' custom errors: each error's stable code, a sentence for people, and the HTTP
status the API answers it with.

The API's error answers (exchange_api.errors) and the SDK's exception codes (issuer_sdk.errors) both read this
table, so one refusal of the ledger has one code wherever it surfaces. A code is part of the public interfaces (the
API's OpenAPI, the SDK's `exc.code`): change one only on purpose. Errors a caller acts on the same way share a code
(RedemptionZeroCredits, RedemptionTooLarge and ClearingPositionOverflow are all `invalid_credits`).

Every `error` of the compiled ABIs (build/contracts, OpenZeppelin's and the mocks' included) has an entry:
tests/test_error_vocabulary.py fails when a contract gains one without. The status is the API's: 422 for a request
the ledger refuses as it stands, 409 for a clash with what the ledger already holds, 404 for something it does not
hold, 403 for a party the ledger does not let act, 503 for a pause; 500 when the sending account lacks a role,
since through the API that account is the service's own (a deployment fault, not the caller's).

This module is data only (no compiler, no web3), so the SDK can import it without the node tools.
"""
from __future__ import annotations

from typing import NamedTuple


class ContractErrorEntry(NamedTuple):
    status: int   # the HTTP status of the API's answer
    code: str     # stable, machine-readable
    message: str  # a sentence for people


CONTRACT_ERRORS: dict[str, ContractErrorEntry] = {name: ContractErrorEntry(*entry) for name, entry in {
    # Redemption (contracts/interfaces/IRedemption.sol)
    "RedemptionInvalidPlan": (422, "invalid_plan", "the plan is empty, too long, names a scheme twice or has a part paying nothing"),
    "RedemptionPlanMismatch": (422, "invalid_plan", "the plan's parts do not add up to the credits asked"),
    "RedemptionPlanTakesTooMuch": (422, "invalid_plan", "a part of the plan burns a whole point more than it needs"),
    "RedemptionNoRate": (422, "scheme_has_no_rate", "a part's scheme has no rate: its points are worth nothing"),
    "RedemptionMerchantNotActive": (403, "merchant_not_active", "the merchant is not registered or is suspended"),
    "RedemptionNotSubmitter": (500, "relayer_not_authorized", "the relayer lacks RELAYER_ROLE"),
    "RedemptionZeroCredits": (422, "invalid_credits", "credits must be positive"),
    "RedemptionTooLarge": (422, "invalid_credits", "credits above the supported maximum"),
    "RedemptionUnknown": (404, "redemption_not_found", "no such redemption on chain"),
    "RedemptionRefundWindowClosed": (422, "refund_window_closed", "the refund window has closed"),
    "RedemptionRefundTooLarge": (422, "refund_too_large", "more credits than are left to refund"),
    "RedemptionPartsMismatch": (409, "redemption_mismatch", "the redemption's parties or parts differ"),
    "RedemptionInvalidOrder": (422, "invalid_scheme_order", "the preferred order names a scheme twice or an unknown scheme"),
    "RedemptionInvalidBatch": (422, "invalid_batch", "a batch of redemptions holds no consent or more than 200"),
    # a resident's signed intent (contracts/residents/ResidentIntents.sol: Exchange, Redemption)
    "ResidentNonceUsed": (409, "consent_already_used", "this consent's nonce was used before (or, an exchange's, is too old: quote again)"),
    "ResidentSignatureExpired": (422, "consent_expired", "the signed deadline has passed"),
    "ResidentSignatureInvalid": (422, "invalid_signature", "the signature is not the resident's"),
    # Exchange and Rates
    "ExchangePairNotAllowed": (422, "pair_not_allowed", "these schemes may not be exchanged"),
    "ExchangeBelowMinimum": (422, "below_minimum", "the exchange would give less than the signed minimum"),
    "ExchangeDailyLimitExceeded": (422, "daily_limit_exceeded", "the resident's daily exchange limit would be passed"),
    "ExchangeZeroPoints": (422, "invalid_points", "points must be positive"),
    "ExchangeInvalidBatch": (422, "invalid_batch", "a batch of exchanges holds no intent or more than 200"),
    "ExchangeNonceOutOfRange": (422, "invalid_nonce", "an exchange's nonce is a number from 1 to 2**64-1 (a quote gives the next)"),
    "RatesNoRate": (422, "scheme_has_no_rate", "the scheme has no rate"),
    "RatesEligibilityOnly": (422, "eligibility_only_scheme", "the scheme is eligibility-only: its points have no value in credits"),
    "RatesAlreadySet": (409, "rate_already_set", "the scheme already has a rate; change it through a proposal"),
    "RatesInvalidRate": (422, "invalid_rate", "the rate is zero or above the maximum"),
    # PointsLedger (contracts/interfaces/IPointsLedger.sol)
    "PointsLedgerInsufficientBalance": (422, "insufficient_points", "not enough points"),
    "PointsLedgerValueShort": (422, "insufficient_points", "the points and change of a part are worth less than it pays"),
    "PointsLedgerChangeOverflow": (422, "invalid_plan", "the change would exceed what a record holds"),
    "PointsLedgerPaused": (503, "ledger_paused", "the ledger is paused"),
    "PointsLedgerSchemeNotActive": (422, "scheme_not_active", "the scheme is not active"),
    "PointsLedgerUnknownScheme": (422, "scheme_not_active", "no scheme has this id"),
    "PointsLedgerNotResident": (422, "not_a_resident", "the account is not a registered resident"),
    "PointsLedgerNotIssuer": (500, "not_issuer", "the sending account is not an issuer of this scheme"),
    "PointsLedgerIssuerDailyQuotaExceeded": (422, "quota_exceeded", "the issuer's daily quota for the scheme would be exceeded"),
    "PointsLedgerResidentDailyCapExceeded": (422, "cap_exceeded", "the resident's daily cap for the scheme would be exceeded"),
    "PointsLedgerLengthMismatch": (422, "invalid_batch", "the batch's lists differ in length"),
    "PointsLedgerZeroAmount": (422, "invalid_batch", "an item of the batch has amount zero"),
    "PointsLedgerZeroIdentity": (422, "invalid_batch", "an item of the batch names the zero identity hash"),
    "PointsLedgerBalanceOverflow": (422, "balance_overflow", "the balance would exceed the ledger's 96-bit field"),
    "PointsLedgerNonTransferable": (422, "non_transferable", "points cannot be transferred or approved"),
    "PointsLedgerNotLedgerOperator": (500, "not_ledger_operator", "the sending account lacks LEDGER_OPERATOR_ROLE"),
    "PointsLedgerNotMembership": (500, "not_membership", "only the Membership contract moves accounts"),
    "PointsLedgerSchemeExists": (409, "scheme_exists", "a scheme with this id exists already"),
    "PointsLedgerInvalidTransition": (409, "invalid_scheme_transition", "the scheme cannot change to this status"),
    "PointsLedgerPauseUnchanged": (409, "pause_unchanged", "the ledger is already in this pause state"),
    "PointsLedgerInvalidDayOffset": (422, "invalid_day_offset", "the day offset must be within 14 hours of UTC"),
    "PointsLedgerRulesNotPublished": (422, "rules_not_published", "the scheme has not published the rules version the issuance cites"),
    "PointsLedgerAccountNotEmpty": (409, "account_not_empty", "the recovery target already holds points of the scheme"),
    "PointsLedgerExpiryNeedsEmptyScheme": (409, "expiry_needs_empty_scheme", "an expiry can only be set on a scheme before it has points"),
    "PointsLedgerExpiryOnlyShortens": (409, "expiry_only_shortens", "a scheme's expiry, once set, can only be shortened"),
    # Membership (contracts/interfaces/IMembership.sol)
    "MembershipIdentityTaken": (409, "identity_already_registered", "this person already has an account"),
    "MembershipAlreadyResident": (409, "already_resident", "the account is already a registered resident"),
    "MembershipAccountHoldsRole": (409, "account_holds_role", "the account holds a role and cannot be a resident"),
    "MembershipUnauthorized": (500, "onboarding_not_authorized", "the onboarding account lacks its role"),
    "MembershipNotResident": (422, "not_a_resident", "the account is not a registered resident"),
    "MembershipZeroValue": (422, "zero_value", "the zero address or a zero identity hash was given"),
    "MembershipRoleNotGrantable": (422, "role_not_grantable", "this role is granted through its own function or not at all"),
    "MembershipRenounceDisabled": (422, "renounce_disabled", "roles change only through the consortium"),
    "MembershipNotMerchant": (422, "not_a_merchant", "the account is not a registered merchant"),
    "MembershipAlreadyMerchant": (409, "already_merchant", "the merchant is already registered"),
    "MembershipMerchantStatusUnchanged": (409, "merchant_status_unchanged", "the merchant is already in this state"),
    "MembershipRecoveryPending": (409, "recovery_pending", "a recovery of this account is already pending"),
    "MembershipNoRecovery": (404, "recovery_not_found", "no recovery is pending for this account"),
    "MembershipRecoveryNoticePending": (409, "notice_pending", "the notice period has not passed yet"),
    "MembershipRecoveryMismatch": (409, "recovery_mismatch", "the signed objection is not about the pending recovery"),
    "MembershipRecoveryNonceMismatch": (409, "recovery_mismatch", "the signed objection is not about the pending recovery"),
    "MembershipAccountRecovered": (409, "account_recovered", "the account's registration was recovered to another account"),
    "MembershipSignatureExpired": (422, "signature_expired", "the signed deadline has passed"),
    "MembershipInvalidSignature": (422, "invalid_signature", "the signature is not the account's"),
    "MembershipLengthMismatch": (422, "invalid_batch", "the batch's lists differ in length"),
    "MembershipLedgerAlreadySet": (409, "ledger_already_set", "the PointsLedger is already set"),
    "MembershipLedgerNotSet": (500, "ledger_not_set", "the PointsLedger is not set yet"),
    # Consortium governance (contracts/interfaces/IConsortium.sol, IConsortiumGoverned.sol)
    "ConsortiumGovernedUnauthorized": (500, "not_governance", "only the consortium may call this"),
    "ConsortiumNotMember": (500, "not_consortium_member", "the sending account is not a consortium member"),
    "ConsortiumOnlySelf": (500, "only_by_proposal", "rules change only through an executed proposal"),
    "ConsortiumUnknownProposal": (404, "proposal_not_found", "no proposal has this id"),
    "ConsortiumEmptyProposal": (422, "empty_proposal", "a proposal needs at least one call"),
    "ConsortiumMalformedCall": (422, "malformed_call", "a call's data is shorter than a selector"),
    "ConsortiumAlreadyApproved": (409, "proposal_already_approved", "this member already approved the proposal"),
    "ConsortiumProposalNotOpen": (409, "proposal_not_open", "the proposal is no longer open"),
    "ConsortiumInsufficientApprovals": (409, "insufficient_approvals", "the proposal lacks approvals"),
    "ConsortiumAlreadyQueued": (409, "proposal_already_queued", "the proposal is already queued"),
    "ConsortiumNoticePending": (409, "notice_pending", "the notice period has not passed yet"),
    "ConsortiumNotProposer": (500, "not_proposer", "only the proposer or governance may cancel the proposal"),
    "ConsortiumCallFailed": (422, "proposal_call_failed", "a call of the proposal reverted"),
    "ConsortiumAlreadyMember": (409, "already_member", "the account is already a member"),
    "ConsortiumZeroAddress": (422, "zero_value", "the zero address cannot be a member"),
    "ConsortiumInvalidThreshold": (422, "invalid_threshold", "the thresholds would be unreachable or inconsistent"),
    "ConsortiumInvalidLifetime": (422, "invalid_proposal_lifetime", "the proposal lifetime must be positive"),
    "ConsortiumSignerNotMember": (403, "signer_not_member", "the signed approval names an account that is not a consortium member"),
    "ConsortiumSignatureExpired": (422, "approval_expired", "the signed approval's deadline has passed"),
    "ConsortiumInvalidSignature": (422, "invalid_signature", "the signature is not this member's approval of this proposal"),
    # Clearing (contracts/interfaces/IClearing.sol)
    "ClearingNotRecorder": (500, "not_clearing_recorder", "the sending contract may not record positions"),
    "ClearingNotOperator": (500, "not_clearing_operator", "the sending account lacks the clearing operator role"),
    "ClearingPeriodNotClosed": (409, "period_not_closed", "the period is not closed"),
    "ClearingNothingOwed": (422, "nothing_owed", "the statement is zero: nothing to pay"),
    "ClearingNotDebtor": (500, "not_debtor", "the sending account does not act for the statement's debtor"),
    "ClearingNotCreditor": (500, "not_creditor", "the sending account does not act for the statement's creditor"),
    "ClearingWrongState": (409, "settlement_wrong_state", "the statement's state does not allow this step"),
    "ClearingSameScheme": (422, "same_scheme", "an issuer pair must name two different schemes"),
    "ClearingZeroReference": (422, "zero_value", "the bank reference hash is zero"),
    "ClearingPositionOverflow": (422, "invalid_credits", "credits above what the merchant's position in the scheme "
                                                         "holds in a period"),
    # AuditAttestations (contracts/interfaces/IAuditAttestations.sol)
    "AuditAttestationsNotAuditor": (500, "not_auditor", "the sending account lacks AUDITOR_ROLE"),
    "AuditAttestationsZeroValue": (422, "zero_value", "the report hash or the Merkle root is zero"),
    "AuditAttestationsInvalidRange": (422, "invalid_block_range", "the block range is reversed or reaches past the current block"),
    "AuditAttestationsAlreadyAttested": (409, "report_already_attested", "this report was attested before"),
    "AuditAttestationsUnknown": (404, "attestation_not_found", "no attestation has this id"),
    # SchemeRegistry (contracts/interfaces/ISchemeRegistry.sol)
    "SchemeRegistryUnknownScheme": (404, "scheme_not_found", "no such scheme (on the ledger, or described in the registry)"),
    "SchemeRegistryInvalidProfile": (422, "invalid_scheme_profile", "a name, unit or organisation is empty or over 64 bytes, or the kind is missing"),
    "SchemeRegistryHasRate": (409, "scheme_has_rate", "the scheme has a rate, so it cannot be eligibility-only"),
    "SchemeRegistryInvalidRules": (422, "invalid_rules", "a rules version needs a non-zero hash and an address of 1 to 256 bytes"),
    "SchemeRegistryProofExpired": (422, "proof_expired", "the eligibility proof's deadline has passed"),
    "SchemeRegistryProofUsed": (409, "proof_already_used", "this eligibility proof was used before"),
    "SchemeRegistryInvalidSignature": (422, "invalid_signature", "the eligibility proof is not signed by the resident"),
    "SchemeRegistryNotEligible": (422, "not_eligible", "the resident holds fewer points of the scheme than the proof claims"),
    "SchemeRegistryZeroThreshold": (422, "invalid_threshold", "an eligibility proof needs a threshold of at least one point"),
    # IdentityTrail (contracts/interfaces/IIdentityTrail.sol)
    "IdentityTrailUnauthorized": (500, "not_trail_writer", "the sending account holds none of ONBOARDING, AUDITOR, RELAYER"),
    "IdentityTrailInvalidBatch": (422, "invalid_trail_batch", "a trail batch holds 1 to 256 entries"),
    "IdentityTrailZeroAddress": (422, "zero_value", "a trail entry names the zero address as resident or actor"),
    "IdentityTrailUnknownPurpose": (422, "unknown_purpose", "the purpose code is not one of the trail's purposes"),
    "IdentityTrailActorMismatch": (500, "trail_actor_mismatch", "the sending account may record only its own uses"),
    "IdentityTrailUnknownEntry": (404, "trail_entry_not_found", "no trail entry has this id"),
    "IdentityTrailObjectionExpired": (422, "signature_expired", "the objection's deadline has passed; sign it again"),
    "IdentityTrailObjectionUsed": (409, "objection_already_used", "this signed objection was used before"),
    "IdentityTrailInvalidSignature": (422, "invalid_signature", "the objection is not signed by the resident"),
    # OpenZeppelin's, inherited by the contracts above
    "AccessControlUnauthorizedAccount": (500, "missing_role", "the sending account lacks the role"),
    "AccessControlBadConfirmation": (422, "bad_confirmation", "only the account itself may renounce its role"),
    "InvalidShortString": (500, "invalid_short_string", "a name too long for a short string"),
    "StringTooLong": (500, "string_too_long", "a name too long for a short string"),
    "SafeCastOverflowedUintToInt": (422, "value_out_of_range", "a value too large for a signed integer"),
    # the plain ERC-1155 issuer the benchmarks compare against (contracts/mocks/PlainERC1155Issuer.sol)
    "PlainERC1155IssuerRefUsed": (409, "ref_already_used", "this issuance reference was used before"),
    "ERC1155InsufficientBalance": (422, "insufficient_points", "not enough points"),
    "ERC1155InvalidArrayLength": (422, "invalid_batch", "the batch's lists differ in length"),
    "ERC1155InvalidApprover": (422, "invalid_address", "the approver address is not valid"),
    "ERC1155InvalidOperator": (422, "invalid_address", "the operator address is not valid"),
    "ERC1155InvalidReceiver": (422, "invalid_address", "the receiver address is not valid"),
    "ERC1155InvalidSender": (422, "invalid_address", "the sender address is not valid"),
    "ERC1155MissingApprovalForAll": (500, "not_approved", "the sending account is not approved for the owner's tokens"),
}.items()}

# a revert the table does not name (no reason, Error(string), Panic, an error of a newer contract): one code too
UNNAMED = ContractErrorEntry(422, "transaction_rejected", "the ledger refused the transaction")
