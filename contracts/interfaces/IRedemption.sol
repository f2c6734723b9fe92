// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IRedemption
/// @notice Residents spend points at merchants; the same transaction records what each issuer owes the merchant.
///
/// The resident's wallet signs an EIP-712 `RedemptionConsent(address resident,address merchant,uint256 credits,
/// bytes32 orderRef,bytes32 nonce,uint256 deadline)` (domain "CityPoints", "1", chain id, this contract).
/// The merchant, or a relayer on its behalf, submits it. `credits` are credit cents (see IRates).
///
/// Burn order: the schemes of the resident's preferred order first (set by the resident's signed
/// `PreferredOrder(address resident,uint256[] schemes,bytes32 nonce,uint256 deadline)`), then every other
/// scheme in the order the ledger added them. Schemes without a rate or paused are passed over. From each
/// scheme it takes what covers the remaining credits, rounding up the points (against the resident, who
/// asks), or the whole balance if that covers less; a balance worth less than one credit cent is left alone.
/// Each part records in Clearing that the scheme's issuer owes the merchant that part's credits, so the
/// parts add up to `credits` exactly.
///
/// Refunds, full or partial, within the governed refund window, are asked by the merchant (or a relayer for
/// it). They give the parts back from the last part to the first; each part's points come back in
/// proportion to its credits refunded, rounded down, and the full refund of a part gives all its points back.
/// The redemption's stored hash binds the parts, so the caller passes the parts from the {Redeemed} event.
/// A refund stays possible after a part's scheme was paused or retired (the merchant owes it back): the points
/// are restored in that scheme (PointsLedger.restoreTo), frozen until it resumes if Paused, spendable if
/// Retired, and the merchant's position is reversed as usual. Only the ledger's global pause holds refunds back.
/// After a recovery of the resident's key the caller still names the resident of the {Redeemed} event (the
/// parties hash binds it); the points go to the account that holds that resident's registration now
/// (Membership.currentAccountOf), never to the recovered old key.
interface IRedemption {
    /// @notice One scheme's share of a redemption.
    struct Part {
        uint256 scheme;
        uint256 points;
        uint256 credits;
    }

    /// @notice What is stored of a redemption (the rest is in its event).
    struct Record {
        bytes32 partiesHash; // keccak256(abi.encode(resident, merchant, parts))
        uint96 credits;
        uint96 refunded;
        uint64 redeemedAt;
    }

    /// @notice The merchant is not registered or is suspended.
    error RedemptionMerchantNotActive(address merchant);
    /// @notice The caller is neither the merchant nor a relayer.
    error RedemptionNotSubmitter(address caller, address merchant);
    /// @notice The resident's points are worth less than the consent's credits.
    error RedemptionInsufficientCredits(address resident, uint256 credits, uint256 available);
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

    /// @notice `resident` redeemed `credits` at `merchant` for order `orderRef`; `parts` is the burned breakdown.
    event Redeemed(
        bytes32 indexed redemptionId,
        address indexed resident,
        address indexed merchant,
        bytes32 orderRef,
        bytes32 nonce,
        uint256 credits,
        Part[] parts
    );
    /// @notice A refund of `credits` gave back `parts`; `refundedTotal` credits of the redemption are now refunded.
    /// `resident` is the redemption's; `creditedTo` received the points (the resident's current key after a
    /// recovery, else the resident).
    event Refunded(
        bytes32 indexed redemptionId,
        address indexed resident,
        address indexed merchant,
        uint256 credits,
        uint256 refundedTotal,
        Part[] parts,
        address creditedTo
    );
    /// @notice The resident's preferred burn order.
    event PreferredOrderSet(address indexed resident, uint256[] schemes, bytes32 nonce);
    /// @notice Governance set the refund window.
    event RefundWindowSet(uint64 windowSeconds);

    /// @notice Execute a resident-signed redemption consent.
    /// @dev Requirements: caller is `merchant` or holds RELAYER role; merchant registered and active; credits > 0;
    /// deadline not passed; nonce unused; signature by `resident` (EOA or EIP-1271); enough value.
    /// Emits: {NonceUsed}, {Redeemed}, the ledger's {PointsBurned}/{TransferSingle}, Clearing's position events.
    function redeem(
        address resident,
        address merchant,
        uint256 credits,
        bytes32 orderRef,
        bytes32 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external returns (bytes32 redemptionId);

    /// @notice Refund `credits` of a redemption to its resident, reversing the positions. Works whatever the parts'
    /// schemes' status (Active, Paused, Retired) and after a recovery of the resident's key (the new key is credited).
    /// @dev Requirements: caller is the merchant or holds RELAYER role; within the refund window;
    /// 0 < credits <= refundable; `resident`, `merchant`, `parts` are the redemption's; ledger not globally paused.
    /// Emits: {Refunded}, the ledger's {PointsRestored}/{TransferSingle}, Clearing's position events.
    function refund(bytes32 redemptionId, address resident, address merchant, Part[] calldata parts, uint256 credits)
        external;

    /// @notice Set the resident's preferred burn order by the resident's signature.
    /// @dev Requirements: deadline not passed; nonce unused; signature by `resident`; schemes known, no repeats.
    /// Emits: {NonceUsed}, {PreferredOrderSet}.
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

    /// @notice The parts a redemption of `credits` by `resident` would burn now (reverts if not enough value).
    function previewParts(address resident, uint256 credits) external view returns (Part[] memory);
    /// @notice Credit cents the resident's points are worth now, in total (what can be redeemed).
    function availableCredits(address resident) external view returns (uint256);
    /// @notice The resident's preferred order.
    function preferredOrder(address resident) external view returns (uint256[] memory);
    /// @notice The stored record of a redemption.
    function redemption(bytes32 redemptionId) external view returns (Record memory);
    /// @notice The id of the redemption a consent creates: keccak256(abi.encode(resident, nonce)).
    function redemptionIdOf(address resident, bytes32 nonce) external pure returns (bytes32);
    /// @notice The refund window in seconds.
    function refundWindow() external view returns (uint64);
    /// @notice The EIP-712 type hash of RedemptionConsent.
    function REDEMPTION_CONSENT_TYPEHASH() external view returns (bytes32);
}
