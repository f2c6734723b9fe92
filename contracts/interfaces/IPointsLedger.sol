// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC1155MetadataURI} from "@openzeppelin/contracts/token/ERC1155/extensions/IERC1155MetadataURI.sol";

/// @title IPointsLedger
/// @notice The balances of every kind of CityPoints points, as a non-transferable ERC-1155 whose token ids are
/// scheme ids (demo city: 1 volunteer, 2 traffic, 3 culture, 4 green).
///
/// Rules:
/// - Only a scheme's issuer accounts (Membership) issue and revoke its points, only to registered residents.
/// - `ref` is 32 bytes: its first 8 are the issuer's sequence number for the item (4 bytes lane, 4 bytes counter),
///   the other 24 the issuer's own event id (a salted hash, cut to 192 bits). Dedup is per `(scheme, sequence)`:
///   one issuer organisation runs a scheme, its accounts and SDK instances number from one sequence book, each
///   book in a lane of its own. The ledger keeps a window of {REF_WINDOW} numbers per lane (a ring of 256 words of
///   224 bits), so its state grows with lanes, not with items. An item whose number was used before (by an earlier
///   call or earlier in the same batch) or lies behind its lane's window is skipped, not issued and not an error;
///   the {PointsIssued} event lists skipped indices and carries every ref, so the auditor rebuilds the window and
///   proves, over all events, that no event id was issued twice. Revocations share the numbers
///   (contracts/README.md, "Issuance dedup").
/// - Per scheme and day: the issuer organisation's daily quota (all its accounts together) and each resident's
///   daily cap. An item over either reverts the whole call with a named error; nothing is half-applied.
///   Revocations give back neither quota nor cap: a correction is not a refund of allowance.
/// - Day = floor((block.timestamp + dayOffsetSeconds) / 86400), offset governed (city time zone). Counters
///   reset when the day number grows; if a changed offset moves the day number back, the counters of the later
///   day keep counting until that day has passed (never more than a cap per day number).
/// - Points never move between residents: transfers and approvals revert with {PointsLedgerNonTransferable}.
///   Balances move to another account only by a recovery that Membership completed ({moveAccount}).
/// - Ledger operators (contracts holding Membership's LEDGER_OPERATOR_ROLE, e.g. Exchange, Redemption)
///   mint and burn without quota or cap.
/// - Scheme status: Active (everything), Paused (nothing moves), Retired (no more issuance or minting;
///   revocation and burning still work so residents can spend what they hold). One exception to both: a
///   refund gives back the value a redemption took ({restoreValue}) in an Active, Paused or Retired scheme, since the
///   merchant owes them back; restored points of a Paused scheme stay frozen with the rest until it resumes,
///   and those of a Retired scheme can be spent like the rest. A global pause stops every balance change
///   except recovery moves (refunds wait for it to be lifted).
/// - Change: value below a whole point is never lost. A redemption takes exactly its price, an exchange exactly the
///   credits it moves: what the whole points burned are worth beyond that stays with the account as change in that
///   scheme ({changeOf}), in value units (credit cents x RATE_SCALE, so exact at every rate), owed by the scheme's
///   issuer like its points, spent first by the next flow in that scheme, moved with the record by a recovery.
///   Value taken = value of points burned + change before - change after, exactly, in integers.
/// - Expiry (optional, per scheme, governed: {setExpiry}): points credited in a calendar month of the city's day
///   (see Day) stay spendable through the last day of the month `expiryMonths` later, then expire. {balanceOf}
///   counts only live points, reading at most the window's months whatever the number of issuances; a debit
///   (burn, revocation, recovery move) first sweeps the account's expired points out of its balance and the supply
///   ({PointsExpired}), then takes from the oldest live month first. Expired points cannot be spent, exchanged,
///   revoked or moved. {totalSupply} counts expired points until their account is swept. Change never expires.
///   An expiry is set on a scheme without points, then may only be shortened (contracts/README.md, "Points expiry").
/// - Every mint, burn and move emits ERC-1155 {TransferSingle}; domain events carry the state after the change.
/// - No `onERC1155Received` acceptance call is made: points only ever go to registered resident accounts,
///   whose acceptance is their registration (and the call would cost a cold account access per item).
interface IPointsLedger is IERC1155MetadataURI {
    /// @notice Lifecycle of a scheme.
    enum SchemeStatus {
        None,
        Active,
        Paused,
        Retired
    }

    /// @notice Where an issuer's sequence number stands ({refState}).
    enum RefState {
        Unused,
        Used,
        BehindWindow
    }

    /// @notice Everything the ledger stores about a scheme.
    struct SchemeInfo {
        SchemeStatus status;
        uint256 issuerDailyQuota;
        uint256 residentDailyCap;
        uint256 quotaDay;
        uint256 issuedToday;
        uint256 totalSupply;
        uint256 expiryMonths; // 0: points never expire
    }

    // ----------------------------------------------------------------------------------------------
    // Errors
    // ----------------------------------------------------------------------------------------------

    /// @notice The caller is not an issuer account of `scheme`.
    error PointsLedgerNotIssuer(uint256 scheme, address caller);
    /// @notice The caller does not hold LEDGER_OPERATOR_ROLE.
    error PointsLedgerNotLedgerOperator(address caller);
    /// @notice Only the Membership contract moves accounts.
    error PointsLedgerNotMembership(address caller);
    /// @notice An identity hash of zero names nobody.
    error PointsLedgerZeroIdentity(uint256 index);
    /// @notice No scheme has this id.
    error PointsLedgerUnknownScheme(uint256 scheme);
    /// @notice A scheme with this id exists already (ids are never reused).
    error PointsLedgerSchemeExists(uint256 scheme);
    /// @notice The scheme's status does not allow this operation.
    error PointsLedgerSchemeNotActive(uint256 scheme, SchemeStatus status);
    /// @notice The whole ledger is paused.
    error PointsLedgerPaused();
    /// @notice The scheme cannot go from `from` to `to`.
    error PointsLedgerInvalidTransition(uint256 scheme, SchemeStatus from, SchemeStatus to);
    /// @notice The global pause is already `paused`.
    error PointsLedgerPauseUnchanged(bool paused);
    /// @notice Batch arrays differ in length (reason codes may also be empty).
    error PointsLedgerLengthMismatch(uint256 residents, uint256 amounts, uint256 refs, uint256 reasonCodes);
    /// @notice Item `index` has amount zero.
    error PointsLedgerZeroAmount(uint256 index);
    /// @notice The recipient is not a registered resident.
    error PointsLedgerNotResident(address account);
    /// @notice Issuing item `index` would take the scheme's issuer quota for `day` over `quota`.
    error PointsLedgerIssuerDailyQuotaExceeded(
        uint256 scheme, uint256 index, uint256 day, uint256 usedBefore, uint256 amount, uint256 quota
    );
    /// @notice Issuing item `index` would take `resident`'s receipts of `scheme` for `day` over `cap`.
    error PointsLedgerResidentDailyCapExceeded(
        uint256 scheme, uint256 index, address resident, uint256 day, uint256 receivedBefore, uint256 amount, uint256 cap
    );
    /// @notice `account` holds `balance` of `scheme`, less than `amount`.
    error PointsLedgerInsufficientBalance(uint256 scheme, address account, uint256 balance, uint256 amount);
    /// @notice The balance would exceed the ledger's 96-bit balance field.
    error PointsLedgerBalanceOverflow(uint256 scheme, address account, uint256 balance, uint256 amount);
    /// @notice Points cannot be transferred or approved.
    error PointsLedgerNonTransferable();
    /// @notice The day offset must be within +-14 hours.
    error PointsLedgerInvalidDayOffset(int32 offsetSeconds);
    /// @notice The recovery target already has a record in `scheme`.
    error PointsLedgerAccountNotEmpty(uint256 scheme, address account);
    /// @notice A spend asks more value than the points given and the account's change are worth.
    error PointsLedgerValueShort(uint256 scheme, address account, uint256 available, uint256 value);
    /// @notice Change above what a record holds (2^63 - 1 value units); no rule of the value contracts leaves that.
    error PointsLedgerChangeOverflow(uint256 scheme, address account, uint256 change);
    /// @notice An issuance cites rules `version` of `scheme` that the SchemeRegistry has not published (or the
    /// ledger knows no registry yet).
    error PointsLedgerRulesNotPublished(uint256 scheme, uint32 version);
    /// @notice Points of `scheme` exist (`totalSupply`): an expiry can only be set before the scheme has points,
    /// since points credited before it have no month on record.
    error PointsLedgerExpiryNeedsEmptyScheme(uint256 scheme, uint256 totalSupply);
    /// @notice An expiry can only be shortened (`months` below `current`, above 0), or set on a scheme without one:
    /// a longer expiry, or none, would give expired points back to the accounts not swept yet and not to the others.
    error PointsLedgerExpiryOnlyShortens(uint256 scheme, uint8 current, uint8 months);

    // ----------------------------------------------------------------------------------------------
    // Events
    // ----------------------------------------------------------------------------------------------

    /// @notice Points issued by `issuer`: one event per call, after one {TransferSingle} per issued item in item
    /// order (so the k-th non-skipped item's resident and amount are in the k-th TransferSingle of the call).
    /// @param refs every item's ref, skipped ones included (so dedup state is rebuilt from events).
    /// @param reasonCodes every item's reason code, or empty for calls without reason codes.
    /// @param balancesAfter the resident's balance after each item (0 for skipped items).
    /// @param skipped indices of items skipped because their sequence number was used before or lies behind its
    /// lane's window.
    /// @param quotaUsedAfter the issuer quota used on `day` after the call.
    event PointsIssued(
        uint256 indexed scheme,
        address indexed issuer,
        uint256 indexed day,
        bytes32[] refs,
        uint32[] reasonCodes,
        uint256[] balancesAfter,
        uint256[] skipped,
        uint256 issuedAmount,
        uint256 quotaUsedAfter,
        uint256 totalSupplyAfter
    );
    /// @notice A correction: `amount` taken back from `resident`.
    event PointsRevoked(
        uint256 indexed scheme,
        address indexed resident,
        address indexed issuer,
        uint256 amount,
        bytes32 ref,
        uint32 reasonCode,
        uint256 balanceAfter,
        uint256 totalSupplyAfter
    );
    /// @notice A revocation was skipped because its ref was used before.
    event RevocationSkipped(uint256 indexed scheme, address indexed resident, address indexed issuer, bytes32 ref);
    /// @notice A ledger operator minted (e.g. the receiving side of an exchange).
    event PointsMinted(
        uint256 indexed scheme,
        address indexed account,
        address indexed operator,
        uint256 amount,
        bytes32 ref,
        uint256 balanceAfter,
        uint256 totalSupplyAfter
    );
    /// @notice A ledger operator gave back points a burn took (a refund of a redemption); allowed in a Paused or
    /// Retired scheme too.
    event PointsRestored(
        uint256 indexed scheme,
        address indexed account,
        address indexed operator,
        uint256 amount,
        bytes32 ref,
        uint256 balanceAfter,
        uint256 totalSupplyAfter
    );
    /// @notice A ledger operator burned (e.g. a redemption).
    event PointsBurned(
        uint256 indexed scheme,
        address indexed account,
        address indexed operator,
        uint256 amount,
        bytes32 ref,
        uint256 balanceAfter,
        uint256 totalSupplyAfter
    );
    /// @notice `account`'s change in `scheme` went from `changeBefore` to `changeAfter` (value units: credit cents
    /// x RATE_SCALE), moved by a ledger operator's flow `ref` (a redemption id, an exchange's ref).
    event ChangeUpdated(
        uint256 indexed scheme,
        address indexed account,
        address indexed operator,
        uint256 changeBefore,
        uint256 changeAfter,
        bytes32 ref
    );
    /// @notice `amount` points of `account` in `scheme` expired (credited more than the scheme's expiry ago) and
    /// left its balance and the supply: swept by the debit (burn, revocation, recovery move) that follows in the
    /// same transaction, after a {TransferSingle} from `account` to zero.
    event PointsExpired(
        uint256 indexed scheme, address indexed account, uint256 amount, uint256 balanceAfter, uint256 totalSupplyAfter
    );
    /// @notice A recovery moved `account`'s whole record of `scheme` (balance and today's receipts) to `newAccount`;
    /// `balance` is what moved (in an expiring scheme, the live points).
    event AccountMoved(uint256 indexed scheme, address indexed account, address indexed newAccount, uint256 balance);
    /// @notice Points for a person who has not joined are held under their keyed identity hash, at
    /// `heldAccount` ({heldAccountOf}: an address no one holds a key of), from this issuance on.
    event HoldingOpened(bytes32 indexed identityHash, address indexed heldAccount);
    /// @notice The person joined as `account`: what `heldAccount` held moves to it ({AccountMoved} per scheme).
    event HoldingClaimed(bytes32 indexed identityHash, address indexed heldAccount, address indexed account);
    /// @notice A scheme was added, active.
    event SchemeAdded(uint256 indexed scheme, uint256 issuerDailyQuota, uint256 residentDailyCap);
    /// @notice A scheme's status changed.
    event SchemeStatusChanged(uint256 indexed scheme, SchemeStatus previous, SchemeStatus status);
    /// @notice A scheme's issuer daily quota changed.
    event IssuerDailyQuotaChanged(uint256 indexed scheme, uint256 quota);
    /// @notice A scheme's resident daily cap changed.
    event ResidentDailyCapChanged(uint256 indexed scheme, uint256 cap);
    /// @notice A scheme's expiry changed from `previousMonths` to `months` (0: never).
    event SchemeExpiryChanged(uint256 indexed scheme, uint256 previousMonths, uint256 months);
    /// @notice The global pause changed.
    event LedgerPauseChanged(bool paused);
    /// @notice The day offset changed.
    event DayOffsetChanged(int32 offsetSeconds);
    /// @notice The SchemeRegistry that issuance citations are checked against changed.
    event SchemeRegistrySet(address registry);
    /// @notice The issuance call that follows in this transaction (its TransferSingle events and its
    /// {PointsIssued}, next of `issuer` in `scheme`) applied version `rulesVersion` of the scheme's published
    /// rules, whose document's sha256 is `rulesHash`; each item's reason code names a rule of that version.
    /// Emitted before the issuance's own events, so a reader meets the citation before the entries it covers.
    event IssuanceRulesCited(
        uint256 indexed scheme, address indexed issuer, uint32 indexed rulesVersion, bytes32 rulesHash
    );

    // ----------------------------------------------------------------------------------------------
    // Issuance (the scheme's issuer accounts)
    // ----------------------------------------------------------------------------------------------

    /// @notice Issue `amount` points of `scheme` to `resident`, unless `ref` was used before (then skipped).
    /// @dev Requirements: caller is an issuer account of `scheme`; scheme Active; ledger not paused; amount > 0;
    /// resident registered; within the issuer daily quota and the resident daily cap.
    /// Emits: {TransferSingle} (unless skipped), {PointsIssued}.
    function issue(uint256 scheme, address resident, uint256 amount, bytes32 ref) external;

    /// @notice {issue} with the program's activity type shown to the resident.
    /// @dev As {issue}. Emits: {TransferSingle} (unless skipped), {PointsIssued} with `reasonCodes = [reasonCode]`.
    function issueWithReason(uint256 scheme, address resident, uint256 amount, bytes32 ref, uint32 reasonCode)
        external;

    /// @notice Issue a batch; items whose ref was used before are skipped, the rest issued, all or nothing.
    /// @dev Requirements: as {issue} for every item; equal array lengths.
    /// Emits: one {TransferSingle} per issued item, one {PointsIssued}.
    function issueBatch(uint256 scheme, address[] calldata residents, uint256[] calldata amounts, bytes32[] calldata refs)
        external;

    /// @notice {issueBatch} with a reason code per item.
    /// @dev As {issueBatch}; `reasonCodes` has the same length. Emits: as {issueBatch}.
    function issueBatchWithReason(
        uint256 scheme,
        address[] calldata residents,
        uint256[] calldata amounts,
        bytes32[] calldata refs,
        uint32[] calldata reasonCodes
    ) external;

    /// @notice {issueBatchWithReason} citing version `rulesVersion` of the scheme's published rules: each item's
    /// reason code names the rule (activity) of that version it applied. The chain checks that the version is
    /// published for `scheme` in the SchemeRegistry; whether each amount follows its rule is the auditor's check
    /// (the rules document is off chain, its sha256 on chain).
    /// @dev Requirements: as {issueBatchWithReason}; `rulesVersion` published for `scheme` in the registry set by
    /// {setSchemeRegistry} (else `PointsLedgerRulesNotPublished`). Emits: {IssuanceRulesCited}, then as
    /// {issueBatch}.
    function issueBatchCitingRules(
        uint256 scheme,
        uint32 rulesVersion,
        address[] calldata residents,
        uint256[] calldata amounts,
        bytes32[] calldata refs,
        uint32[] calldata reasonCodes
    ) external;

    /// @notice Correction: take back `amount` points from `resident`, unless `ref` was used before (then skipped).
    /// @dev Requirements: caller is an issuer account of `scheme`; scheme Active or Retired; ledger not paused;
    /// amount > 0; balance >= amount. Emits: {TransferSingle} and {PointsRevoked}, or {RevocationSkipped}.
    function revoke(uint256 scheme, address resident, uint256 amount, bytes32 ref, uint32 reasonCode) external;

    // ----------------------------------------------------------------------------------------------
    // Ledger operators and Membership
    // ----------------------------------------------------------------------------------------------

    /// @notice Credit `value` (value units) to `account` for another contract's flow (the receiving side of an
    /// exchange): added to the account's change in `scheme`, then as many whole points as that is worth at `rate`
    /// are minted and the rest stays as change. No quota or cap; `ref` is not deduplicated.
    /// @dev Requirements: caller holds LEDGER_OPERATOR_ROLE; scheme Active; ledger not paused; value > 0;
    /// account registered. Emits: {TransferSingle} and {PointsMinted} when points are minted, {ChangeUpdated}
    /// when the change moves.
    /// @return points Points minted.
    /// @return changeBefore The account's change before.
    /// @return changeAfter The account's change after.
    function mintValue(uint256 scheme, address account, uint256 value, uint256 rate, bytes32 ref)
        external
        returns (uint256 points, uint256 changeBefore, uint256 changeAfter);

    /// @notice Give back `value` (value units) an earlier spend took (the refund of a redemption), as {mintValue}
    /// does: whole points at `rate` (the rate now) and the rest as change. The merchant owes it back whatever became
    /// of the scheme since. `ref` (the redemption id) is not deduplicated: the caller (Redemption) bounds what it
    /// restores by what was taken.
    /// @dev Requirements: caller holds LEDGER_OPERATOR_ROLE; scheme Active, Paused or Retired; ledger not paused;
    /// value > 0; account registered. Emits: {TransferSingle} and {PointsRestored} when points come back,
    /// {ChangeUpdated} when the change moves.
    /// @return points Points restored.
    /// @return changeBefore The account's change before.
    /// @return changeAfter The account's change after.
    function restoreValue(uint256 scheme, address account, uint256 value, uint256 rate, bytes32 ref)
        external
        returns (uint256 points, uint256 changeBefore, uint256 changeAfter);

    /// @notice Take `value` (value units) from `account` for another contract's flow (a redemption's part, an
    /// exchange's input): burn `points` (worth `points * rate`), add their worth to the account's change and take
    /// `value` from that; what is left is the account's change. `ref` is not deduplicated.
    /// @dev Requirements: caller holds LEDGER_OPERATOR_ROLE; scheme Active or Retired; ledger not paused; points or
    /// value > 0; balance >= points; change + points * rate >= value.
    /// Emits: {TransferSingle} and {PointsBurned} when points are burned, {ChangeUpdated} when the change moves.
    /// @return changeBefore The account's change before.
    /// @return changeAfter The account's change after.
    function spend(uint256 scheme, address account, uint256 points, uint256 rate, uint256 value, bytes32 ref)
        external
        returns (uint256 changeBefore, uint256 changeAfter);

    /// @notice Issue to people by their keyed identity hash: to the resident's account where the identity has
    /// joined, else held under the hash (at {heldAccountOf}) until it joins, when Membership's registration moves
    /// the holding to the new account ({claimHolding}). Nobody can spend held points: no key of a held account exists.
    /// `rulesVersion` 0 cites no rules; any other is the scheme's published rules version the batch applied, as
    /// {issueBatchCitingRules} (the reason codes name its rules).
    /// @dev Requirements: as {issueBatch} for every item; no zero hash; `reasonCodes` empty or one per item; a
    /// nonzero `rulesVersion` published. Emits: {HoldingOpened} the first time an identity is held, then
    /// {IssuanceRulesCited} when citing, then as {issueBatch}.
    function issueToIdentities(
        uint256 scheme,
        uint32 rulesVersion,
        bytes32[] calldata identityHashes,
        uint256[] calldata amounts,
        bytes32[] calldata refs,
        uint32[] calldata reasonCodes
    ) external;

    /// @notice Move what was held for `identityHash` to `account`, the resident it just became (a no-op when
    /// nothing was ever held for it).
    /// @dev Requirements: caller is the Membership contract. Works while paused.
    /// Emits: {HoldingClaimed}, then per scheme with a record {TransferSingle} and {AccountMoved}.
    function claimHolding(bytes32 identityHash, address account) external;

    /// @notice Move every scheme's record of `account` to `newAccount` (account recovery).
    /// @dev Requirements: caller is the Membership contract; `newAccount` has no record in any scheme.
    /// Works while paused. Emits: per scheme with a record, {TransferSingle} and {AccountMoved} (in an expiring
    /// scheme after {PointsExpired} when points expired: only live points and their months move).
    function moveAccount(address account, address newAccount) external;

    // ----------------------------------------------------------------------------------------------
    // Governed (Consortium only)
    // ----------------------------------------------------------------------------------------------

    /// @notice Add scheme `scheme`, active, with its daily quota and cap.
    /// @dev Requirements: Consortium; id unused and nonzero. Emits: {SchemeAdded}, {SchemeStatusChanged}.
    function addScheme(uint256 scheme, uint96 issuerDailyQuota, uint96 residentDailyCap) external;

    /// @notice Pause an active scheme (mark this selector emergency in the Consortium's call policy).
    /// @dev Requirements: Consortium; scheme Active. Emits: {SchemeStatusChanged}.
    function pauseScheme(uint256 scheme) external;

    /// @notice Unpause a paused scheme (full rule).
    /// @dev Requirements: Consortium; scheme Paused. Emits: {SchemeStatusChanged}.
    function unpauseScheme(uint256 scheme) external;

    /// @notice Retire a scheme for good: no more issuance or minting.
    /// @dev Requirements: Consortium; scheme Active or Paused. Emits: {SchemeStatusChanged}.
    function retireScheme(uint256 scheme) external;

    /// @notice Set the scheme's issuer daily quota.
    /// @dev Requirements: Consortium; scheme exists. Emits: {IssuerDailyQuotaChanged}.
    function setIssuerDailyQuota(uint256 scheme, uint96 quota) external;

    /// @notice Set the scheme's resident daily cap.
    /// @dev Requirements: Consortium; scheme exists. Emits: {ResidentDailyCapChanged}.
    function setResidentDailyCap(uint256 scheme, uint96 cap) external;

    /// @notice Make the points of `scheme` expire: points credited in a month stay spendable through the last day
    /// of the month `months` later (1: through the end of next month). Set on a scheme without points; afterwards
    /// only shortened.
    /// @dev Requirements: Consortium; scheme exists; from no expiry, `months` > 0 and total supply 0
    /// (`PointsLedgerExpiryNeedsEmptyScheme`); from an expiry, 0 < `months` < current
    /// (`PointsLedgerExpiryOnlyShortens`). Emits: {SchemeExpiryChanged}.
    function setExpiry(uint256 scheme, uint8 months) external;

    /// @notice Pause every balance change (emergency).
    /// @dev Requirements: Consortium; not paused. Emits: {LedgerPauseChanged}.
    function pauseAll() external;

    /// @notice Lift the global pause (full rule).
    /// @dev Requirements: Consortium; paused. Emits: {LedgerPauseChanged}.
    function unpauseAll() external;

    /// @notice Set the SchemeRegistry whose published rules versions {issueBatchCitingRules} checks.
    /// @dev Requirements: Consortium. Emits: {SchemeRegistrySet}.
    function setSchemeRegistry(address registry) external;

    /// @notice Set the day offset in seconds (the city's UTC offset).
    /// @dev Requirements: Consortium; |offset| <= 14 h. Emits: {DayOffsetChanged}.
    function setDayOffset(int32 offsetSeconds) external;

    /// @notice Set the ERC-1155 metadata URI (with `{id}` substitution).
    /// @dev Requirements: Consortium. Emits: {URI} for every scheme.
    function setURI(string calldata newUri) external;

    // ----------------------------------------------------------------------------------------------
    // Views
    // ----------------------------------------------------------------------------------------------

    /// @notice `account`'s change in `scheme`: value below a whole point that a redemption, exchange or refund left
    /// it, in value units (credit cents x RATE_SCALE); spent first by the next redemption in that scheme.
    function changeOf(address account, uint256 scheme) external view returns (uint256);

    /// @notice The points of `account` in `scheme` that expire first (its oldest live month's) and the last day
    /// (a day number, see {today}) they can be spent; (0, 0) when nothing of it expires.
    function expiringOf(address account, uint256 scheme) external view returns (uint256 points, uint256 lastDay);

    /// @notice Total points of `scheme` in existence (in an expiring scheme, expired points until they are swept).
    function totalSupply(uint256 scheme) external view returns (uint256);
    /// @notice Everything stored about `scheme` (quota fields as stored; see {quotaUsedToday}).
    function schemeInfo(uint256 scheme) external view returns (SchemeInfo memory);
    /// @notice Every scheme id ever added.
    function schemeIds() external view returns (uint256[] memory);
    /// @notice The account that holds points for `identityHash` until the person joins: a hash, no one's key.
    function heldAccountOf(bytes32 identityHash) external pure returns (address);

    /// @notice The identity a held account holds for while unclaimed, else zero.
    function heldIdentityOf(address heldAccount) external view returns (bytes32);

    /// @notice Where the sequence number in `ref` (its first 8 bytes) stands in `scheme`: Unused (an issuance with
    /// it would go through), Used, or BehindWindow (older than its lane's window: skipped if sent; the events say
    /// whether it was issued).
    function refState(uint256 scheme, bytes32 ref) external view returns (RefState);

    /// @notice Sequence numbers of a lane the ledger remembers (the window): 256 words of 224.
    // solhint-disable-next-line func-name-mixedcase
    function REF_WINDOW() external pure returns (uint256);
    /// @notice Issuer quota of `scheme` used today.
    function quotaUsedToday(uint256 scheme) external view returns (uint256);
    /// @notice Points of `scheme` `account` received by issuance today.
    function receivedToday(uint256 scheme, address account) external view returns (uint256);
    /// @notice The current day number.
    function today() external view returns (uint256);
    /// @notice The governed day offset.
    function dayOffset() external view returns (int32);
    /// @notice The SchemeRegistry issuance citations are checked against (zero until governance sets it).
    function schemeRegistry() external view returns (address);
    /// @notice Whether the whole ledger is paused.
    function paused() external view returns (bool);
    /// @notice The Membership contract.
    function membership() external view returns (address);
}
