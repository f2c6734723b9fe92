// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IExchange
/// @notice Cross-recognition: a resident converts points of one scheme into another at the governed rates.
///
/// The resident signs an EIP-712 `ExchangeIntent(address resident,uint256 fromScheme,uint256 toScheme,
/// uint256 points,uint256 minReceived,bytes32 nonce,uint256 deadline)` (domain "CityPoints", "1", chain id,
/// this contract); anyone may submit it (the relayer, in practice).
///
/// Arithmetic, exact (no value lost to rounding): the points given and the resident's change in `fromScheme`
/// are worth `points * rateFrom + changeFrom` value units (credit cents x 1e6); `credits` is that in whole credit
/// cents, rounded down, and the fraction of a cent below stays as change in `fromScheme`. The credits bought
/// in `toScheme`, with the resident's change there, become `received` whole points at `rateTo` and the rest of a
/// point stays as change in `toScheme` (PointsLedger.spend and mintValue). So value in = credits = value out,
/// exactly, per side: `taken.value + taken.changeBefore == credits * 1e6 + taken.changeAfter` and
/// `credits * 1e6 + given.changeBefore == given.value + given.changeAfter`. The exchange burns `points` of
/// `fromScheme`, mints `received` of `toScheme`, and records in Clearing that `fromScheme`'s issuer owes
/// `toScheme`'s issuer `credits`. {quote} gives what the points alone buy; the change can only add to it. Governance decides which ordered pairs may be exchanged and each resident's daily exchange
/// limit in credits (days as the PointsLedger counts them).
///
/// Nonces: an exchange's nonce is a number from 1 to 2**64-1 (as bytes32), each usable once per resident. Unlike
/// the random nonces of other intents (a storage word each), they share the word that holds the resident's daily
/// usage: the highest nonce used and which of the 64 below it were used. So intents may be used in any order
/// within 64 of the highest used; one further below can no longer be used ({nonceUsed} is true for it). The API
/// hands each quote the next number ({nextNonce}, and its own counter of numbers handed out).
interface IExchange {
    /// @notice One side of an exchange in value units (credit cents x 1e6): points burned (taken) or minted
    /// (given), their worth at the scheme's rate, and the resident's change in that scheme before and after.
    struct SideValue {
        uint256 points;
        uint256 value;
        uint256 changeBefore;
        uint256 changeAfter;
    }

    /// @notice The ordered pair may not be exchanged.
    error ExchangePairNotAllowed(uint256 fromScheme, uint256 toScheme);
    /// @notice The exchange would give less than the signed minimum (or nothing).
    error ExchangeBelowMinimum(uint256 received, uint256 minReceived);
    /// @notice A resident's signed exchange intent, as {exchange} takes it, with its signature: one exchange of a
    /// batch ({exchangeMany}).
    struct SignedIntent {
        address resident;
        uint256 fromScheme;
        uint256 toScheme;
        uint256 points;
        uint256 minReceived;
        bytes32 nonce;
        uint256 deadline;
        bytes signature;
    }

    /// @notice A batch of no intents or of more than MAX_BATCH.
    error ExchangeInvalidBatch(uint256 size);
    /// @notice The nonce is not a number from 1 to 2**64-1.
    error ExchangeNonceOutOfRange(address resident, bytes32 nonce);
    /// @notice The exchange would pass the resident's daily limit.
    error ExchangeDailyLimitExceeded(address resident, uint256 usedToday, uint256 credits, uint256 limit);
    /// @notice Points must be positive.
    error ExchangeZeroPoints();

    /// @notice `resident` exchanged `points` of `fromScheme` for `received` of `toScheme`, worth `credits`;
    /// `taken` and `given` are the two sides in value, change included.
    event Exchanged(
        address indexed resident,
        uint256 indexed fromScheme,
        uint256 indexed toScheme,
        uint256 points,
        uint256 received,
        uint256 credits,
        bytes32 nonce,
        uint256 usedTodayAfter,
        SideValue taken,
        SideValue given
    );
    /// @notice An intent of a batch ({exchangeMany}) was not exchanged: `reason` is the error {exchange} gave
    /// (empty: it ran out of its gas). Nothing of it changed and its nonce is unspent.
    event ExchangeSkipped(address indexed resident, bytes32 nonce, bytes reason);
    /// @notice Governance allowed or forbade exchanging `fromScheme` into `toScheme`.
    event PairAllowed(uint256 indexed fromScheme, uint256 indexed toScheme, bool allowed);
    /// @notice Governance set the per-resident daily exchange limit in credit cents.
    event DailyLimitSet(uint256 limit);

    /// @notice Execute a resident-signed exchange intent.
    /// @dev Requirements: pair allowed; points > 0; deadline not passed; nonce from 1 to 2**64-1, unused and not
    /// more than 64 below the highest `resident` used (else ResidentNonceUsed); signature by `resident`
    /// (EOA or EIP-1271); received >= minReceived and > 0; within the daily limit; balance sufficient.
    /// Emits: {Exchanged} (which names the nonce spent), and the ledger's and clearing's events.
    function exchange(
        address resident,
        uint256 fromScheme,
        uint256 toScheme,
        uint256 points,
        uint256 minReceived,
        bytes32 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Exchange a batch of signed intents in one transaction, each as {exchange} would, in order: one that
    /// {exchange} would refuse is skipped ({ExchangeSkipped} with its error) and the others go on. A relayer's batch
    /// pays the transaction's base cost, the first touch of each contract and the shared reads once.
    /// @dev Requirements: 1 to MAX_BATCH intents (else the whole batch reverts, {ExchangeInvalidBatch}). Per
    /// intent, {exchange}'s requirements, each run in a call of its own with at most ITEM_GAS gas (a resident's
    /// EIP-1271 wallet cannot spend the others' gas). Emits per intent {exchange}'s events or {ExchangeSkipped}.
    /// @return exchanged How many of the batch were exchanged.
    function exchangeMany(SignedIntent[] calldata batch) external returns (uint256 exchanged);

    /// @notice Allow or forbid exchanging `fromScheme` into `toScheme`.
    /// @dev Requirements: Consortium. Emits: {PairAllowed}.
    function setPairAllowed(uint256 fromScheme, uint256 toScheme, bool allowed) external;

    /// @notice Set the per-resident daily exchange limit in credit cents (0: no exchanges).
    /// @dev Requirements: Consortium. Emits: {DailyLimitSet}.
    function setDailyLimit(uint256 limit) external;

    /// @notice What an exchange of `points` would give now: (received, credits).
    /// @dev Reverts like {exchange} for a pair that is not allowed or a scheme without a rate.
    function quote(uint256 fromScheme, uint256 toScheme, uint256 points)
        external
        view
        returns (uint256 received, uint256 credits);
    /// @notice Whether the ordered pair may be exchanged.
    function pairAllowed(uint256 fromScheme, uint256 toScheme) external view returns (bool);
    /// @notice The per-resident daily exchange limit in credit cents.
    function dailyLimit() external view returns (uint256);
    /// @notice Credits `resident` has exchanged today.
    function usedToday(address resident) external view returns (uint256);
    /// @notice The lowest nonce above every one `resident` has used in an exchange (1 before the first).
    function nextNonce(address resident) external view returns (uint256);
    /// @notice The most intents {exchangeMany} takes at once.
    function MAX_BATCH() external view returns (uint256);
    /// @notice The gas each intent of a batch may use at most.
    function ITEM_GAS() external view returns (uint256);
    /// @notice The EIP-712 type hash of ExchangeIntent.
    function EXCHANGE_INTENT_TYPEHASH() external view returns (bytes32);
}
