// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IMembership
/// @notice Who is who on CityPoints: registered residents, and the roles of non-resident accounts.
///
/// Residents: an onboarding authority registers an account with a keyed hash of the person's identity
/// (an HMAC computed off chain; no personal data on chain). One identity hash <-> one account.
/// Residents hold no role and send no transactions (a relayer submits what they sign).
///
/// Roles (OpenZeppelin AccessControlEnumerable; granted and revoked only by the Consortium):
/// merchant (registered, may be suspended), issuer account of a scheme, auditor, onboarding authority,
/// relayer, operator, and ledger operator (contracts such as Exchange and Redemption allowed to mint and
/// burn through the PointsLedger). A resident cannot hold a role, nor a role holder be a resident.
///
/// Recovery of a lost phone: an onboarding authority requests to move a resident's registration to a
/// new account. Governance may approve it at once; otherwise it can be completed after `recoveryNotice`
/// seconds, during which the old key can object (directly or by a signed `RecoveryObjection` that
/// anyone may submit). Completing it moves the identity hash and every balance in the PointsLedger.
/// Each request gets a new `nonce` (a counter over all requests, never reused), and a signed objection names
/// it, so an objection signed against one request can never be replayed against a later one. A key whose
/// registration was recovered away is retired: it can never be registered or recovered to again, and
/// {currentAccountOf} maps it to the account that holds its identity now (refunds of its redemptions go there).
interface IMembership {
    /// @notice A pending recovery of a resident account.
    struct Recovery {
        address newAccount;
        uint64 executableAt;
        uint32 nonce; // of this request; a signed objection must name it
    }

    // ----------------------------------------------------------------------------------------------
    // Errors
    // ----------------------------------------------------------------------------------------------

    /// @notice The caller lacks `role`.
    error MembershipUnauthorized(address caller, bytes32 role);
    /// @notice The zero address or zero identity hash was given.
    error MembershipZeroValue();
    /// @notice The identity hash is already bound to `account`.
    error MembershipIdentityTaken(bytes32 identityHash, address account);
    /// @notice The account is already a registered resident.
    error MembershipAlreadyResident(address account);
    /// @notice The account is not a registered resident.
    error MembershipNotResident(address account);
    /// @notice The account holds a role, so it cannot be (or become) a resident.
    error MembershipAccountHoldsRole(address account);
    /// @notice This role is granted through its own function (merchants, issuer accounts) or not at all.
    error MembershipRoleNotGrantable(bytes32 role);
    /// @notice Roles are changed only by the Consortium; renouncing is disabled.
    error MembershipRenounceDisabled();
    /// @notice The account is not a registered merchant.
    error MembershipNotMerchant(address account);
    /// @notice The merchant is already registered.
    error MembershipAlreadyMerchant(address account);
    /// @notice The merchant's suspension is already `suspended`.
    error MembershipMerchantStatusUnchanged(address account, bool suspended);
    /// @notice A recovery for `account` is already pending.
    error MembershipRecoveryPending(address account, address newAccount);
    /// @notice No recovery is pending for `account`.
    error MembershipNoRecovery(address account);
    /// @notice The recovery's notice period has not passed.
    error MembershipRecoveryNoticePending(address account, uint64 executableAt, uint256 nowTimestamp);
    /// @notice The signed objection names another new account than the pending recovery.
    error MembershipRecoveryMismatch(address account, address pendingNewAccount, address signedNewAccount);
    /// @notice The signed objection names another request (nonce) than the pending recovery's.
    error MembershipRecoveryNonceMismatch(address account, uint32 pendingNonce, uint256 signedNonce);
    /// @notice The account's registration was recovered to another account; a recovered key is never reused.
    error MembershipAccountRecovered(address account);
    /// @notice The signature is expired.
    error MembershipSignatureExpired(uint256 deadline, uint256 nowTimestamp);
    /// @notice The signature was not made by `account`.
    error MembershipInvalidSignature(address account, address signer);
    /// @notice The arrays differ in length.
    error MembershipLengthMismatch(uint256 accounts, uint256 identityHashes);
    /// @notice The PointsLedger is already set.
    error MembershipLedgerAlreadySet(address ledger);
    /// @notice The PointsLedger is not set yet.
    error MembershipLedgerNotSet();

    // ----------------------------------------------------------------------------------------------
    // Events (besides AccessControl's RoleGranted / RoleRevoked)
    // ----------------------------------------------------------------------------------------------

    /// @notice A resident was registered by `authority`.
    event ResidentRegistered(address indexed account, bytes32 indexed identityHash, address indexed authority);
    /// @notice A merchant was registered.
    event MerchantRegistered(address indexed merchant);
    /// @notice A merchant was suspended (`suspended`) or reinstated.
    event MerchantSuspensionChanged(address indexed merchant, bool suspended);
    /// @notice The issuer accounts of `scheme` were replaced by `accounts`.
    event IssuerAccountsSet(uint256 indexed scheme, address[] accounts);
    /// @notice An onboarding authority requested moving `account`'s registration to `newAccount`; `nonce` names
    /// this request (a signed objection must carry it).
    event RecoveryRequested(
        address indexed account,
        address indexed newAccount,
        bytes32 indexed identityHash,
        uint64 executableAt,
        address authority,
        uint32 nonce
    );
    /// @notice The old key objected; the recovery is dropped.
    event RecoveryObjected(address indexed account, address indexed newAccount);
    /// @notice The recovery was cancelled by `by` (an onboarding authority or the Consortium).
    event RecoveryCancelled(address indexed account, address indexed newAccount, address by);
    /// @notice The registration and all balances moved from `account` to `newAccount`.
    event ResidentRecovered(
        address indexed account, address indexed newAccount, bytes32 indexed identityHash, bool approvedByGovernance
    );
    /// @notice The recovery notice period changed.
    event RecoveryNoticeChanged(uint64 noticeSeconds);
    /// @notice The PointsLedger was set.
    event PointsLedgerSet(address ledger);

    // ----------------------------------------------------------------------------------------------
    // Residents
    // ----------------------------------------------------------------------------------------------

    /// @notice Register `account` as the resident with `identityHash`.
    /// @dev Requirements: caller has ONBOARDING_ROLE; account and hash nonzero; hash unused; account not a
    /// resident, holds no role, and was never recovered away. Emits: {ResidentRegistered}; then, if points were
    /// held for the identity before it joined, the ledger's {IPointsLedger-HoldingClaimed} and its moves.
    function registerResident(address account, bytes32 identityHash) external;

    /// @notice Register many residents: `accounts[i]` with `identityHashes[i]`, all or nothing.
    /// @dev Requirements: as {registerResident} for each; equal lengths. Emits: {ResidentRegistered} per account.
    function registerResidents(address[] calldata accounts, bytes32[] calldata identityHashes) external;

    /// @notice Start moving `account`'s registration and balances to `newAccount` (lost phone).
    /// @dev Requirements: caller has ONBOARDING_ROLE; `account` is a resident with no pending recovery;
    /// `newAccount` nonzero, not a resident, holds no role, was never recovered away. Emits: {RecoveryRequested}
    /// with the request's new nonce.
    function requestRecovery(address account, address newAccount) external;

    /// @notice The old key objects to the pending recovery of its own account.
    /// @dev Requirements: a recovery of `msg.sender` is pending. Emits: {RecoveryObjected}.
    function objectToRecovery() external;

    /// @notice Submit the old key's signed objection (EIP-712
    /// `RecoveryObjection(address account,address newAccount,uint256 nonce,uint256 deadline)`); anyone may submit it.
    /// @dev Requirements: a recovery of `account` to `newAccount` is pending and its request nonce is `nonce`
    /// (so a signature made for an earlier request, even to the same new account, is refused with
    /// {MembershipRecoveryNonceMismatch}); deadline not passed; signed by `account` (EOA). Emits: {RecoveryObjected}.
    function objectToRecoveryBySig(
        address account,
        address newAccount,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Complete a recovery whose notice period passed without objection.
    /// @dev Requirements: caller has ONBOARDING_ROLE; recovery pending and executable; new account still fresh.
    /// Emits: {ResidentRecovered}, and the PointsLedger's transfer events for every scheme moved.
    function completeRecovery(address account) external;

    /// @notice Complete a pending recovery at once, by governance.
    /// @dev Requirements: called by the Consortium; recovery pending; new account still fresh.
    /// Emits: {ResidentRecovered} and the PointsLedger's events.
    function approveRecovery(address account) external;

    /// @notice Drop a pending recovery.
    /// @dev Requirements: caller has ONBOARDING_ROLE or is the Consortium; recovery pending.
    /// Emits: {RecoveryCancelled}.
    function cancelRecovery(address account) external;

    // ----------------------------------------------------------------------------------------------
    // Governed (Consortium only)
    // ----------------------------------------------------------------------------------------------

    /// @notice Register a merchant (active).
    /// @dev Requirements: Consortium; account nonzero, not a merchant, not a resident.
    /// Emits: {RoleGranted}, {MerchantRegistered}.
    function registerMerchant(address merchant) external;

    /// @notice Suspend (`true`) or reinstate (`false`) a merchant.
    /// @dev Requirements: Consortium; merchant registered; status changes. Emits: {MerchantSuspensionChanged}.
    function setMerchantSuspended(address merchant, bool suspended) external;

    /// @notice Remove a merchant's registration.
    /// @dev Requirements: Consortium; merchant registered. Emits: {RoleRevoked}.
    function removeMerchant(address merchant) external;

    /// @notice Replace the issuer accounts of `scheme` by `accounts`.
    /// @dev Requirements: Consortium; no account zero or a resident. Emits: {RoleRevoked}/{RoleGranted}, {IssuerAccountsSet}.
    function setIssuerAccounts(uint256 scheme, address[] calldata accounts) external;

    /// @notice Set the recovery notice period in seconds.
    /// @dev Requirements: Consortium. Emits: {RecoveryNoticeChanged}.
    function setRecoveryNotice(uint64 noticeSeconds) external;

    /// @notice Set the PointsLedger whose balances a recovery moves (once).
    /// @dev Requirements: Consortium; not set before; nonzero. Emits: {PointsLedgerSet}.
    function setPointsLedger(address ledger) external;

    // ----------------------------------------------------------------------------------------------
    // Views
    // ----------------------------------------------------------------------------------------------

    /// @notice Whether `account` is a registered resident.
    function isResident(address account) external view returns (bool);
    /// @notice The identity hash of a resident (zero if none).
    function identityOf(address account) external view returns (bytes32);
    /// @notice The account registered with an identity hash (zero if none).
    function accountOf(bytes32 identityHash) external view returns (address);
    /// @notice The account that holds `account`'s registration now: `account` itself unless its registration was
    /// recovered away, then the account its identity is registered to now (after every later recovery too).
    function currentAccountOf(address account) external view returns (address);
    /// @notice Whether `account` is a registered merchant that is not suspended.
    function isMerchantActive(address account) external view returns (bool);
    /// @notice Whether `account` is a registered merchant (active or suspended).
    function isMerchant(address account) external view returns (bool);
    /// @notice Whether `account` is an issuer account of `scheme`.
    function isIssuer(uint256 scheme, address account) external view returns (bool);
    /// @notice Whether `account` holds LEDGER_OPERATOR_ROLE (may mint and burn through the PointsLedger).
    function isLedgerOperator(address account) external view returns (bool);
    /// @notice The issuer accounts of `scheme`.
    function issuerAccounts(uint256 scheme) external view returns (address[] memory);
    /// @notice The AccessControl role id of `scheme`'s issuer accounts.
    function issuerRole(uint256 scheme) external pure returns (bytes32);
    /// @notice Every non-resident account allowed to send transactions: consortium members, issuer accounts,
    /// active merchants, relayers, auditors, onboarding authorities, operators (no duplicates). Ledger operators
    /// are contracts and are not listed.
    function transactingAccounts() external view returns (address[] memory);
    /// @notice The pending recovery of `account` (zero if none).
    function pendingRecovery(address account) external view returns (Recovery memory);
    /// @notice The recovery notice period in seconds.
    function recoveryNotice() external view returns (uint64);
    /// @notice The PointsLedger a recovery moves balances in.
    function pointsLedger() external view returns (address);
}
