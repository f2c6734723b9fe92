// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IRedemption
/// @notice Residents spend points at merchants; the same transaction records what each issuer owes the merchant.
///
/// The resident's wallet signs an EIP-712 `RedemptionConsent(address resident,address merchant,uint256 credits,
/// Part[] parts,bytes32 orderRef,bytes32 nonce,uint256 deadline)Part(uint256 scheme,uint256 points,
/// uint256 credits)` (domain "CityPoints", "1", chain id, this contract). The merchant, or a relayer on its
/// behalf, submits it. `credits` are credit cents (see IRates).
///
/// Exact change. The consent names the plan: for each part, the scheme, the whole points to burn and the credits
/// of the price that part pays. The chain takes exactly that and nothing else, so it can never take more than
/// the wallet showed. Each part pays its credits from the points' worth at the scheme's rate now plus the
/// resident's change in that scheme (PointsLedger.changeOf); what the points are worth beyond that stays with the
/// resident as change in that scheme. So the value taken from the resident is exactly the price:
/// `points * rate + changeBefore == credits * RATE_SCALE + changeAfter` for every part, in integers. A part may
/// not burn a whole point more than its own credits need (`(points - 1) * rate < credits * RATE_SCALE`, whatever
/// change the resident held, so a plan made before an earlier redemption left change stays valid), and the parts'
/// credits add up to the consent's credits. The plan is made off chain (the API and the wallet: the fewest
/// points' worth that covers the price, the resident's preferred order where that costs nothing); the
/// preferred order (`PreferredOrder(address resident,uint256[] schemes,bytes32 nonce,uint256 deadline)`) is kept
/// here for that planner. Each part records in Clearing that the scheme's issuer owes the merchant the part's
/// credits.
///
/// Refunds, full or partial, within the governed refund window, are asked by the merchant (or a relayer for
/// it). They give the parts back from the last part to the first, each part's credits refunded as value at the
/// scheme's rate now: whole points and the rest as change (PointsLedger.restoreValue), so a full refund at an
/// unchanged rate gives back exactly the points burned and takes back the change left. The redemption's stored
/// hash binds the parts (its top 120 bits: a collision would take about 2^60 hashes by someone who chose both plans,
/// and could only make the refunding merchant give back value as another plan says; the auditor matches every
/// refund with its redemption's parts), so the caller passes the parts from the consent ({Redeemed} has them).
/// A refund stays possible after a part's scheme was paused or retired (the merchant owes it back): the value is
/// restored in that scheme, frozen until it resumes if Paused, spendable if Retired, and the merchant's position
/// is reversed as usual. Only the ledger's global pause holds refunds back. After a recovery of the resident's
/// key the caller still names the resident of the {Redeemed} event (the parties hash binds it); the value goes
/// to the account that holds that resident's registration now (Membership.currentAccountOf), never to the
/// recovered old key.
interface IRedemption {
    /// @notice One scheme's share of a redemption.
    struct Part {
        uint256 scheme;
        uint256 points;
        uint256 credits;
    }

    /// @notice A resident's signed consent: the price, the plan that pays it, the order, nonce and deadline.
    struct Consent {
        address resident;
        address merchant;
        uint256 credits;
        Part[] parts;
        bytes32 orderRef;
        bytes32 nonce;
        uint256 deadline;
    }

    /// @notice A consent with its signature: one redemption of a batch ({redeemMany}).
    struct SignedConsent {
        Consent consent;
        bytes signature;
    }

    /// @notice What one part of a redemption or a refund moved, in value units (credit cents x RATE_SCALE):
    /// `points` worth `value` at the rate then, `credits` to (or back from) the merchant, and the resident's change
    /// in the scheme before and after. Redemption: `value + changeBefore == credits * RATE_SCALE + changeAfter`;
    /// refund: `credits * RATE_SCALE + changeBefore == value + changeAfter`.
    struct PartValue {
        uint256 scheme;
        uint256 points;
        uint256 value;
        uint256 credits;
        uint256 changeBefore;
        uint256 changeAfter;
    }

    /// @notice What is stored of a redemption (the rest is in its event), one storage word that also spends the
    /// consent's nonce. The credits are not stored: they are the parts' sum, which the hash binds.
    struct Record {
        bytes32 partiesHash; // the top 120 bits of keccak256(abi.encode(resident, merchant, parts)), the rest zero
        uint96 refunded; // credits refunded so far
        uint40 redeemedAt; // block timestamp; 0: no such redemption
    }

    /// @notice The merchant is not registered or is suspended.
    error RedemptionMerchantNotActive(address merchant);
    /// @notice The caller is neither the merchant nor a relayer.
    error RedemptionNotSubmitter(address caller, address merchant);
    /// @notice The plan is empty, has more than MAX_PARTS parts, names a scheme twice, or has a part paying 0 credits.
    error RedemptionInvalidPlan(uint256 part);
    /// @notice The parts' credits do not add up to the consent's credits.
    error RedemptionPlanMismatch(uint256 credits, uint256 partsCredits);
    /// @notice A part's scheme has no rate: its points are worth nothing.
    error RedemptionNoRate(uint256 scheme);
    /// @notice A part burns at least one whole point more than its credits need: `(points - 1) * rate >=
    /// credits * RATE_SCALE` (points cannot be turned into change beyond the fraction of one point).
    error RedemptionPlanTakesTooMuch(uint256 scheme, uint256 points, uint256 credits, uint256 rate);
    /// @notice Zero credits.
    error RedemptionZeroCredits();
    /// @notice Credits above the supported maximum (2^96 - 1).
    error RedemptionTooLarge(uint256 credits);
    /// @notice No such redemption.
    error RedemptionUnknown(bytes32 redemptionId);
    /// @notice The refund window has closed.
    error RedemptionRefundWindowClosed(bytes32 redemptionId, uint256 refundableUntil, uint256 nowTimestamp);
    /// @notice More credits than are left to refund.
    error RedemptionRefundTooLarge(bytes32 redemptionId, uint256 credits, uint256 refundable);
    /// @notice The given resident, merchant or parts are not the redemption's.
    error RedemptionPartsMismatch(bytes32 redemptionId);
    /// @notice The preferred order names a scheme twice or an unknown scheme.
    error RedemptionInvalidOrder(uint256 scheme);
    /// @notice A batch of no consents or of more than MAX_BATCH.
    error RedemptionInvalidBatch(uint256 size);

    /// @notice `resident` redeemed `credits` at `merchant` for order `orderRef`; `parts` is what each part of the
    /// signed plan took (in the plan's order, so `(scheme, points, credits)` of each is the signed part).
    event Redeemed(
        bytes32 indexed redemptionId,
        address indexed resident,
        address indexed merchant,
        bytes32 orderRef,
        bytes32 nonce,
        uint256 credits,
        PartValue[] parts
    );
    /// @notice A refund of `credits` gave back `parts` (last part first); `refundedTotal` credits of the redemption
    /// are now refunded.
    /// `resident` is the redemption's; `creditedTo` received the points (the resident's current key after a
    /// recovery, else the resident).
    event Refunded(
        bytes32 indexed redemptionId,
        address indexed resident,
        address indexed merchant,
        uint256 credits,
        uint256 refundedTotal,
        PartValue[] parts,
        address creditedTo
    );
    /// @notice A consent of a batch ({redeemMany}) was not redeemed: `reason` is the error {redeem} gave (empty: it
    /// ran out of its gas). Nothing of it changed and its nonce is unspent.
    event RedemptionSkipped(bytes32 indexed redemptionId, address indexed resident, bytes32 nonce, bytes reason);
    /// @notice The resident's preferred burn order.
    event PreferredOrderSet(address indexed resident, uint256[] schemes, bytes32 nonce);
    /// @notice Governance set the refund window.
    event RefundWindowSet(uint64 windowSeconds);

    /// @notice Execute a resident-signed redemption consent: take exactly its plan, pay the merchant its credits.
    /// @dev Requirements: caller is `consent.merchant` or holds RELAYER role; merchant registered and active;
    /// 0 < credits < 2^96; deadline not passed; nonce unused; signature by `resident` (EOA or EIP-1271); 1 to
    /// MAX_PARTS parts, distinct schemes, each paying > 0 credits, adding up to `credits`; each part's scheme
    /// spendable with a rate, its points held, worth with the change in that scheme at least its credits, and
    /// its points not a whole point more than its credits. Emits: {Redeemed} (which names the nonce spent), the
    /// ledger's {PointsBurned}/{TransferSingle}/{ChangeUpdated}, Clearing's {MerchantPositionChanged} per part.
    /// @return redemptionId keccak256(abi.encode(resident, nonce)).
    function redeem(Consent calldata consent, bytes calldata signature) external returns (bytes32 redemptionId);

    /// @notice Redeem a batch of consents in one transaction, each as {redeem} would, in order: one that {redeem}
    /// would refuse is skipped ({RedemptionSkipped} with its error) and the others go on. A relayer's batch pays the
    /// transaction's base cost, the first touch of each contract and the rules' shared reads once.
    /// @dev Requirements: 1 to MAX_BATCH consents; caller holds RELAYER role or is every consent's merchant (else
    /// the whole batch reverts, {RedemptionNotSubmitter}). Per consent, {redeem}'s other requirements, each run in a
    /// call of its own with at most ITEM_GAS gas (a resident's EIP-1271 wallet cannot spend the others' gas). Emits
    /// per consent {redeem}'s events or {RedemptionSkipped}.
    /// @return redeemed How many of the batch were redeemed.
    function redeemMany(SignedConsent[] calldata batch) external returns (uint256 redeemed);

    /// @notice Refund `credits` of a redemption to its resident, reversing the positions. Works whatever the parts'
    /// schemes' status (Active, Paused, Retired) and after a recovery of the resident's key (the new key is credited).
    /// @dev Requirements: caller is the merchant or holds RELAYER role; within the refund window;
    /// 0 < credits <= refundable; `resident`, `merchant`, `parts` are the redemption's; ledger not globally paused.
    /// Emits: {Refunded}, the ledger's {PointsRestored}/{TransferSingle}/{ChangeUpdated}, Clearing's
    /// {MerchantPositionChanged} per part given back.
    function refund(bytes32 redemptionId, address resident, address merchant, Part[] calldata parts, uint256 credits)
        external;

    /// @notice Set the resident's preferred burn order by the resident's signature.
    /// @dev Requirements: deadline not passed; nonce unused; signature by `resident`; schemes known, no repeats.
    /// Emits: {PreferredOrderSet} (which names the nonce spent).
    function setPreferredOrder(
        address resident,
        uint256[] calldata schemes,
        bytes32 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Set the refund window in seconds.
    /// @dev Requirements: Consortium. Emits: {RefundWindowSet}.
    function setRefundWindow(uint64 windowSeconds) external;

    /// @notice Credit cents the resident's points and change are worth now in every spendable scheme, each scheme's
    /// worth rounded down to a credit cent (what can be redeemed).
    function availableCredits(address resident) external view returns (uint256);
    /// @notice The resident's preferred order.
    function preferredOrder(address resident) external view returns (uint256[] memory);
    /// @notice The stored record of a redemption (all zero for an unknown one).
    function redemption(bytes32 redemptionId) external view returns (Record memory);
    /// @notice The id of the redemption a consent creates: keccak256(abi.encode(resident, nonce)).
    function redemptionIdOf(address resident, bytes32 nonce) external pure returns (bytes32);
    /// @notice The refund window in seconds.
    function refundWindow() external view returns (uint64);
    /// @notice The most parts a plan may have.
    function MAX_PARTS() external view returns (uint256);
    /// @notice The most consents a batch may have.
    function MAX_BATCH() external view returns (uint256);
    /// @notice The gas each consent of a batch may use at most.
    function ITEM_GAS() external view returns (uint256);
    /// @notice The EIP-712 type hash of RedemptionConsent.
    function REDEMPTION_CONSENT_TYPEHASH() external view returns (bytes32);
}
