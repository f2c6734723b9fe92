// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IClearing
/// @notice Real-time clearing between the parties of CityPoints, in credit cents, and period settlement.
///
/// Parties: the issuer organisation of each scheme (identified by the scheme id; any issuer account
/// of the scheme acts for it) and each merchant (its account).
///
/// Positions: every redemption records, in the same transaction, what each scheme's issuer owes the
/// merchant; every exchange records what the issuer of scheme A owes the issuer of scheme B. A refund
/// reverses what its redemption recorded, as a new record. Positions accumulate per *period* (the open
/// period is the real-time position) and are signed, so they net: a merchant pair is positive when the
/// issuer owes the merchant; an issuer pair `(lo, hi)` with lo < hi is positive when lo owes hi, so
/// A→B and B→A activity nets into one amount.
///
/// A party's multilateral net (what it owes in total minus what it is owed, over everything not yet settled) is
/// not stored: no rule reads it, and every change of it is an event here (a position's `delta`, a confirmed
/// payment's `amount`), so the auditor and the API's indexer sum it from the events. A merchant's positions in a
/// period are kept four schemes to a storage word (schemes 1-4, 5-8, ...; signed 64-bit amounts, +-9.2e16 credits
/// each): a redemption paying in several of them writes one word, and a merchant's first sale of a period in another
/// of them writes no new slot.
///
/// Settlement: the operator closes the open period; its statements (the pair amounts of that period)
/// are then immutable. For each nonzero statement the debtor records a payment (the hash of its bank
/// reference) and the creditor confirms it, which settles it and moves the nets, or disputes it, after
/// which the debtor may record a payment again.
interface IClearing {
    enum SettlementState {
        Open,
        Paid,
        Confirmed,
        Disputed
    }

    struct Settlement {
        SettlementState state;
        bytes32 bankRefHash;
    }

    /// @notice The caller is not a contract allowed to record positions (LEDGER_OPERATOR role).
    error ClearingNotRecorder(address caller);
    /// @notice The caller lacks the operator role.
    error ClearingNotOperator(address caller);
    /// @notice The period is not closed (or does not exist yet).
    error ClearingPeriodNotClosed(uint256 period, uint256 openPeriod);
    /// @notice The statement is zero: nothing to pay.
    error ClearingNothingOwed(bytes32 statementId);
    /// @notice The caller does not act for the statement's debtor.
    error ClearingNotDebtor(bytes32 statementId, address caller);
    /// @notice The caller does not act for the statement's creditor.
    error ClearingNotCreditor(bytes32 statementId, address caller);
    /// @notice The statement is in `state`, which does not allow this step.
    error ClearingWrongState(bytes32 statementId, SettlementState state);
    /// @notice An issuer pair must name two different schemes.
    error ClearingSameScheme(uint256 scheme);
    /// @notice The bank reference hash is zero.
    error ClearingZeroReference();
    /// @notice The merchant's position in the scheme would leave what its 64 bits hold (+-9.2e16 credits in a period).
    error ClearingPositionOverflow(uint256 period, uint256 scheme, address merchant, int256 amount);

    /// @notice A merchant pair's position in `period` changed by `delta` to `periodAmount` (the state after): the
    /// scheme's issuer owes `delta` more, the merchant is owed as much more (its net falls by `delta`).
    event MerchantPositionChanged(
        uint256 indexed period, uint256 indexed scheme, address indexed merchant, int256 delta, int256 periodAmount
    );
    /// @notice An issuer pair's position in `period` changed: `fromScheme`'s issuer now owes `toScheme`'s `credits` more
    /// (its net rises and the other's falls by as much); `periodAmountLoHi` is the pair's amount after (positive
    /// when the lower scheme owes the higher).
    event IssuerPositionChanged(
        uint256 indexed period,
        uint256 indexed fromScheme,
        uint256 indexed toScheme,
        uint256 credits,
        int256 periodAmountLoHi
    );
    /// @notice `period` was closed by `operator`; activity now goes to `period + 1`.
    event PeriodClosed(uint256 indexed period, uint64 closedAt, address indexed operator);
    /// @notice The debtor recorded paying statement `statementId` (`amount` credit cents) with `bankRefHash`.
    event PaymentRecorded(bytes32 indexed statementId, uint256 indexed period, uint256 amount, bytes32 bankRefHash, address by);
    /// @notice The creditor confirmed the payment; the statement is settled (the debtor's net falls and the
    /// creditor's rises by `amount`).
    event PaymentConfirmed(bytes32 indexed statementId, uint256 indexed period, uint256 amount, address by);
    /// @notice The creditor disputed the payment with `reasonHash`.
    event PaymentDisputed(bytes32 indexed statementId, uint256 indexed period, bytes32 reasonHash, address by);

    /// @notice Record that `scheme`'s issuer owes `merchant` `credits` more (a redemption).
    /// @dev Requirements: caller has LEDGER_OPERATOR role; the position stays within its 64 bits.
    /// Emits: {MerchantPositionChanged}.
    function recordRedemption(uint256 scheme, address merchant, uint256 credits) external;

    /// @notice Record that `scheme`'s issuer owes `merchant` `credits` less (a refund).
    /// @dev Requirements: caller has LEDGER_OPERATOR role; the position stays within its 64 bits.
    /// Emits: {MerchantPositionChanged}.
    function recordRefund(uint256 scheme, address merchant, uint256 credits) external;

    /// @notice Record that `fromScheme`'s issuer owes `toScheme`'s issuer `credits` more (an exchange).
    /// @dev Requirements: caller has LEDGER_OPERATOR role; schemes differ. Emits: {IssuerPositionChanged}.
    function recordExchange(uint256 fromScheme, uint256 toScheme, uint256 credits) external;

    /// @notice Close the open period, fixing its statements.
    /// @dev Requirements: caller has OPERATOR role. Emits: {PeriodClosed}.
    function closePeriod() external;

    /// @notice The debtor records paying the merchant-pair statement of a closed period.
    /// @dev Requirements: period closed; statement nonzero; caller acts for the debtor; state Open or Disputed;
    /// `bankRefHash` nonzero. Emits: {PaymentRecorded}.
    function recordMerchantPayment(uint256 period, uint256 scheme, address merchant, bytes32 bankRefHash) external;

    /// @notice The debtor records paying the issuer-pair statement of a closed period.
    /// @dev Requirements: as {recordMerchantPayment}. Emits: {PaymentRecorded}.
    function recordIssuerPayment(uint256 period, uint256 schemeA, uint256 schemeB, bytes32 bankRefHash) external;

    /// @notice The creditor confirms (`accept`) or disputes a recorded payment of statement `statementId`.
    /// @dev Requirements: state Paid; caller acts for the creditor. Emits: {PaymentConfirmed} or {PaymentDisputed}.
    function answerPayment(bytes32 statementId, bool accept, bytes32 reasonHash) external;

    /// @notice The open period (starts at 1).
    function openPeriod() external view returns (uint256);
    /// @notice When `period` was closed (0 while open).
    function closedAt(uint256 period) external view returns (uint64);
    /// @notice Signed merchant-pair amount of `period`: positive when the issuer owes the merchant.
    function merchantPosition(uint256 period, uint256 scheme, address merchant) external view returns (int256);
    /// @notice Signed issuer-pair amount of `period`: positive when `schemeA`'s issuer owes `schemeB`'s.
    function issuerPosition(uint256 period, uint256 schemeA, uint256 schemeB) external view returns (int256);
    /// @notice Id of a merchant-pair statement.
    function merchantStatementId(uint256 period, uint256 scheme, address merchant) external pure returns (bytes32);
    /// @notice Id of an issuer-pair statement (order of the schemes does not matter).
    function issuerStatementId(uint256 period, uint256 schemeA, uint256 schemeB) external pure returns (bytes32);
    /// @notice Settlement state of a statement.
    function settlement(bytes32 statementId) external view returns (Settlement memory);
}
