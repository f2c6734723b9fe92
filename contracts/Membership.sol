// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {AccessControlEnumerable} from "@openzeppelin/contracts/access/extensions/AccessControlEnumerable.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {ConsortiumGoverned} from "./governance/ConsortiumGoverned.sol";
import {IConsortium} from "./interfaces/IConsortium.sol";
import {IMembership} from "./interfaces/IMembership.sol";
import {IPointsLedger} from "./interfaces/IPointsLedger.sol";
import {Roles} from "./libraries/Roles.sol";

/// @title Membership
/// @notice Residents (by keyed identity hash), merchants, issuer accounts and the other roles of CityPoints.
/// @dev See {IMembership}. Roles use AccessControlEnumerable; every grant/revoke comes from the Consortium.
contract Membership is IMembership, AccessControlEnumerable, EIP712, ConsortiumGoverned {
    using EnumerableSet for EnumerableSet.UintSet;

    bytes32 public constant MERCHANT_ROLE = Roles.MERCHANT;
    bytes32 public constant AUDITOR_ROLE = Roles.AUDITOR;
    bytes32 public constant ONBOARDING_ROLE = Roles.ONBOARDING;
    bytes32 public constant RELAYER_ROLE = Roles.RELAYER;
    bytes32 public constant OPERATOR_ROLE = Roles.OPERATOR;
    bytes32 public constant LEDGER_OPERATOR_ROLE = Roles.LEDGER_OPERATOR;

    bytes32 public constant RECOVERY_OBJECTION_TYPEHASH =
        keccak256("RecoveryObjection(address account,address newAccount,uint256 nonce,uint256 deadline)");

    mapping(address account => bytes32) private _identityOf;
    mapping(bytes32 identityHash => address) private _accountOf;
    mapping(address account => uint256) private _roleCount;
    mapping(address merchant => bool) private _merchantSuspended;
    mapping(address account => Recovery) private _recoveries;
    mapping(address formerAccount => bytes32) private _formerIdentityOf;
    EnumerableSet.UintSet private _issuerSchemes;
    uint64 private _recoveryNotice;
    address private _pointsLedger;
    uint32 private _lastRecoveryNonce; // packed with the two above: one slot

    /// @param consortium_ The Consortium contract.
    /// @param recoveryNotice_ Seconds the old key has to object to a recovery.
    constructor(address consortium_, uint64 recoveryNotice_)
        EIP712("CityPoints", "1")
        ConsortiumGoverned(consortium_)
    {
        _recoveryNotice = recoveryNotice_;
        emit RecoveryNoticeChanged(recoveryNotice_);
    }

    // ----------------------------------------------------------------------------------------------
    // Residents
    // ----------------------------------------------------------------------------------------------

    /// @inheritdoc IMembership
    function registerResident(address account, bytes32 identityHash) external {
        _requireRole(ONBOARDING_ROLE);
        _register(account, identityHash);
    }

    /// @inheritdoc IMembership
    function registerResidents(address[] calldata accounts, bytes32[] calldata identityHashes) external {
        _requireRole(ONBOARDING_ROLE);
        if (accounts.length != identityHashes.length) {
            revert MembershipLengthMismatch(accounts.length, identityHashes.length);
        }
        for (uint256 i = 0; i < accounts.length; ++i) {
            _register(accounts[i], identityHashes[i]);
        }
    }

    /// @inheritdoc IMembership
    function requestRecovery(address account, address newAccount) external {
        _requireRole(ONBOARDING_ROLE);
        bytes32 identityHash = _identityOf[account];
        if (identityHash == bytes32(0)) revert MembershipNotResident(account);
        address pending = _recoveries[account].newAccount;
        if (pending != address(0)) revert MembershipRecoveryPending(account, pending);
        if (newAccount == address(0)) revert MembershipZeroValue();
        _requireFresh(newAccount);
        uint64 executableAt = uint64(block.timestamp) + _recoveryNotice;
        uint32 nonce = ++_lastRecoveryNonce;
        _recoveries[account] = Recovery({newAccount: newAccount, executableAt: executableAt, nonce: nonce});
        emit RecoveryRequested(account, newAccount, identityHash, executableAt, msg.sender, nonce);
    }

    /// @inheritdoc IMembership
    function objectToRecovery() external {
        Recovery memory r = _pendingOf(msg.sender);
        delete _recoveries[msg.sender];
        emit RecoveryObjected(msg.sender, r.newAccount);
    }

    /// @inheritdoc IMembership
    function objectToRecoveryBySig(
        address account,
        address newAccount,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external {
        Recovery memory r = _pendingOf(account);
        if (r.newAccount != newAccount) revert MembershipRecoveryMismatch(account, r.newAccount, newAccount);
        if (r.nonce != nonce) revert MembershipRecoveryNonceMismatch(account, r.nonce, nonce);
        if (block.timestamp > deadline) revert MembershipSignatureExpired(deadline, block.timestamp);
        bytes32 digest = _hashTypedDataV4(
            keccak256(abi.encode(RECOVERY_OBJECTION_TYPEHASH, account, newAccount, nonce, deadline))
        );
        // slither-disable-next-line unused-return (the third value, the error argument, is not needed: err is checked)
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signature);
        if (err != ECDSA.RecoverError.NoError || signer != account) revert MembershipInvalidSignature(account, signer);
        delete _recoveries[account];
        emit RecoveryObjected(account, newAccount);
    }

    /// @inheritdoc IMembership
    function completeRecovery(address account) external {
        _requireRole(ONBOARDING_ROLE);
        Recovery memory r = _pendingOf(account);
        if (block.timestamp < r.executableAt) {
            revert MembershipRecoveryNoticePending(account, r.executableAt, block.timestamp);
        }
        _recover(account, r.newAccount, false);
    }

    /// @inheritdoc IMembership
    function approveRecovery(address account) external onlyConsortium {
        Recovery memory r = _pendingOf(account);
        _recover(account, r.newAccount, true);
    }

    /// @inheritdoc IMembership
    function cancelRecovery(address account) external {
        if (msg.sender != consortium()) _requireRole(ONBOARDING_ROLE);
        Recovery memory r = _pendingOf(account);
        delete _recoveries[account];
        emit RecoveryCancelled(account, r.newAccount, msg.sender);
    }

    // ----------------------------------------------------------------------------------------------
    // Governed
    // ----------------------------------------------------------------------------------------------

    /// @inheritdoc IMembership
    function registerMerchant(address merchant) external onlyConsortium {
        if (merchant == address(0)) revert MembershipZeroValue();
        if (hasRole(MERCHANT_ROLE, merchant)) revert MembershipAlreadyMerchant(merchant);
        _grantRole(MERCHANT_ROLE, merchant);
        emit MerchantRegistered(merchant);
    }

    /// @inheritdoc IMembership
    function setMerchantSuspended(address merchant, bool suspended) external onlyConsortium {
        if (!hasRole(MERCHANT_ROLE, merchant)) revert MembershipNotMerchant(merchant);
        if (_merchantSuspended[merchant] == suspended) revert MembershipMerchantStatusUnchanged(merchant, suspended);
        _merchantSuspended[merchant] = suspended;
        emit MerchantSuspensionChanged(merchant, suspended);
    }

    /// @inheritdoc IMembership
    function removeMerchant(address merchant) external onlyConsortium {
        if (!hasRole(MERCHANT_ROLE, merchant)) revert MembershipNotMerchant(merchant);
        delete _merchantSuspended[merchant];
        _revokeRole(MERCHANT_ROLE, merchant);
    }

    /// @inheritdoc IMembership
    function setIssuerAccounts(uint256 scheme, address[] calldata accounts) external onlyConsortium {
        bytes32 role = issuerRole(scheme);
        address[] memory current = getRoleMembers(role);
        for (uint256 i = 0; i < current.length; ++i) {
            _revokeRole(role, current[i]);
        }
        for (uint256 i = 0; i < accounts.length; ++i) {
            if (accounts[i] == address(0)) revert MembershipZeroValue();
            _grantRole(role, accounts[i]);
        }
        // set membership is idempotent: a scheme already absent or present is fine, so the bools are not needed
        if (accounts.length == 0) {
            // slither-disable-next-line unused-return
            _issuerSchemes.remove(scheme);
        } else {
            // slither-disable-next-line unused-return
            _issuerSchemes.add(scheme);
        }
        emit IssuerAccountsSet(scheme, accounts);
    }

    /// @inheritdoc IMembership
    function setRecoveryNotice(uint64 noticeSeconds) external onlyConsortium {
        _recoveryNotice = noticeSeconds;
        emit RecoveryNoticeChanged(noticeSeconds);
    }

    /// @inheritdoc IMembership
    function setPointsLedger(address ledger) external onlyConsortium {
        if (_pointsLedger != address(0)) revert MembershipLedgerAlreadySet(_pointsLedger);
        if (ledger == address(0)) revert MembershipZeroValue();
        _pointsLedger = ledger;
        emit PointsLedgerSet(ledger);
    }

    /// @notice Grant one of AUDITOR, ONBOARDING, RELAYER, OPERATOR, LEDGER_OPERATOR roles.
    /// @dev Requirements: Consortium; role is one of those; account nonzero and not a resident.
    /// Merchants and issuer accounts have their own functions. Emits: {RoleGranted} (if not held).
    function grantRole(bytes32 role, address account)
        public
        override(AccessControl, IAccessControl)
        onlyConsortium
    {
        _requireGrantable(role);
        if (account == address(0)) revert MembershipZeroValue();
        _grantRole(role, account);
    }

    /// @notice Revoke one of AUDITOR, ONBOARDING, RELAYER, OPERATOR, LEDGER_OPERATOR roles.
    /// @dev Requirements: Consortium; role is one of those. Emits: {RoleRevoked} (if held).
    function revokeRole(bytes32 role, address account)
        public
        override(AccessControl, IAccessControl)
        onlyConsortium
    {
        _requireGrantable(role);
        _revokeRole(role, account);
    }

    /// @notice Disabled: roles change only by governance.
    /// @dev Always reverts with {MembershipRenounceDisabled}.
    function renounceRole(bytes32, address) public pure override(AccessControl, IAccessControl) {
        revert MembershipRenounceDisabled();
    }

    // ----------------------------------------------------------------------------------------------
    // Views
    // ----------------------------------------------------------------------------------------------

    /// @inheritdoc IMembership
    function isResident(address account) external view returns (bool) {
        return _identityOf[account] != bytes32(0);
    }

    /// @inheritdoc IMembership
    function identityOf(address account) external view returns (bytes32) {
        return _identityOf[account];
    }

    /// @inheritdoc IMembership
    function accountOf(bytes32 identityHash) external view returns (address) {
        return _accountOf[identityHash];
    }

    /// @inheritdoc IMembership
    function currentAccountOf(address account) external view returns (address) {
        bytes32 former = _formerIdentityOf[account];
        return former == bytes32(0) ? account : _accountOf[former];
    }

    /// @inheritdoc IMembership
    function isMerchantActive(address account) public view returns (bool) {
        return hasRole(MERCHANT_ROLE, account) && !_merchantSuspended[account];
    }

    /// @inheritdoc IMembership
    function isMerchant(address account) external view returns (bool) {
        return hasRole(MERCHANT_ROLE, account);
    }

    /// @inheritdoc IMembership
    function isIssuer(uint256 scheme, address account) external view returns (bool) {
        return hasRole(issuerRole(scheme), account);
    }

    /// @inheritdoc IMembership
    function isLedgerOperator(address account) external view returns (bool) {
        return hasRole(LEDGER_OPERATOR_ROLE, account);
    }

    /// @inheritdoc IMembership
    function issuerAccounts(uint256 scheme) external view returns (address[] memory) {
        return getRoleMembers(issuerRole(scheme));
    }

    /// @inheritdoc IMembership
    function issuerRole(uint256 scheme) public pure returns (bytes32) {
        return keccak256(abi.encode("CityPoints.ISSUER", scheme));
    }

    /// @inheritdoc IMembership
    function transactingAccounts() external view returns (address[] memory accounts) {
        address[] memory memberList = IConsortium(consortium()).members();
        uint256 max = memberList.length + getRoleMemberCount(MERCHANT_ROLE) + getRoleMemberCount(AUDITOR_ROLE)
            + getRoleMemberCount(ONBOARDING_ROLE) + getRoleMemberCount(RELAYER_ROLE) + getRoleMemberCount(OPERATOR_ROLE);
        uint256[] memory schemes = _issuerSchemes.values();
        for (uint256 i = 0; i < schemes.length; ++i) {
            max += getRoleMemberCount(issuerRole(schemes[i]));
        }
        accounts = new address[](max);
        uint256 n;
        for (uint256 i = 0; i < memberList.length; ++i) {
            n = _appendUnique(accounts, n, memberList[i]);
        }
        address[] memory merchants = getRoleMembers(MERCHANT_ROLE);
        for (uint256 i = 0; i < merchants.length; ++i) {
            if (!_merchantSuspended[merchants[i]]) n = _appendUnique(accounts, n, merchants[i]);
        }
        n = _appendRole(accounts, n, AUDITOR_ROLE);
        n = _appendRole(accounts, n, ONBOARDING_ROLE);
        n = _appendRole(accounts, n, RELAYER_ROLE);
        n = _appendRole(accounts, n, OPERATOR_ROLE);
        for (uint256 i = 0; i < schemes.length; ++i) {
            n = _appendRole(accounts, n, issuerRole(schemes[i]));
        }
        assembly ("memory-safe") {
            mstore(accounts, n)
        }
    }

    /// @inheritdoc IMembership
    function pendingRecovery(address account) external view returns (Recovery memory) {
        return _recoveries[account];
    }

    /// @inheritdoc IMembership
    function recoveryNotice() external view returns (uint64) {
        return _recoveryNotice;
    }

    /// @inheritdoc IMembership
    function pointsLedger() external view returns (address) {
        return _pointsLedger;
    }

    // ----------------------------------------------------------------------------------------------
    // Internals
    // ----------------------------------------------------------------------------------------------

    function _grantRole(bytes32 role, address account) internal override returns (bool granted) {
        if (_identityOf[account] != bytes32(0)) revert MembershipAlreadyResident(account);
        granted = super._grantRole(role, account);
        if (granted) ++_roleCount[account];
    }

    function _revokeRole(bytes32 role, address account) internal override returns (bool revoked) {
        revoked = super._revokeRole(role, account);
        if (revoked) --_roleCount[account];
    }

    function _recover(address account, address newAccount, bool byGovernance) private {
        address ledger = _pointsLedger;
        if (ledger == address(0)) revert MembershipLedgerNotSet();
        _requireFresh(newAccount);
        bytes32 identityHash = _identityOf[account];
        delete _recoveries[account];
        delete _identityOf[account];
        _formerIdentityOf[account] = identityHash;
        _identityOf[newAccount] = identityHash;
        _accountOf[identityHash] = newAccount;
        emit ResidentRecovered(account, newAccount, identityHash, byGovernance);
        IPointsLedger(ledger).moveAccount(account, newAccount);
    }

    function _register(address account, bytes32 identityHash) private {
        if (account == address(0) || identityHash == bytes32(0)) revert MembershipZeroValue();
        address holder = _accountOf[identityHash];
        if (holder != address(0)) revert MembershipIdentityTaken(identityHash, holder);
        _requireFresh(account);
        _identityOf[account] = identityHash;
        _accountOf[identityHash] = account;
        emit ResidentRegistered(account, identityHash, msg.sender);
        // what issuers credited to this identity before it joined (PointsLedger.issueToIdentities) moves to it now
        address ledger = _pointsLedger;
        if (ledger != address(0)) IPointsLedger(ledger).claimHolding(identityHash, account);
    }

    function _pendingOf(address account) private view returns (Recovery memory r) {
        r = _recoveries[account];
        if (r.newAccount == address(0)) revert MembershipNoRecovery(account);
    }

    function _requireFresh(address account) private view {
        if (_identityOf[account] != bytes32(0)) revert MembershipAlreadyResident(account);
        if (_formerIdentityOf[account] != bytes32(0)) revert MembershipAccountRecovered(account);
        if (_roleCount[account] != 0) revert MembershipAccountHoldsRole(account);
    }

    function _requireRole(bytes32 role) private view {
        if (!hasRole(role, msg.sender)) revert MembershipUnauthorized(msg.sender, role);
    }

    function _requireGrantable(bytes32 role) private pure {
        if (
            role != AUDITOR_ROLE && role != ONBOARDING_ROLE && role != RELAYER_ROLE && role != OPERATOR_ROLE
                && role != LEDGER_OPERATOR_ROLE
        ) revert MembershipRoleNotGrantable(role);
    }

    function _appendRole(address[] memory accounts, uint256 n, bytes32 role) private view returns (uint256) {
        uint256 count = getRoleMemberCount(role);
        for (uint256 i = 0; i < count; ++i) {
            n = _appendUnique(accounts, n, getRoleMember(role, i));
        }
        return n;
    }

    function _appendUnique(address[] memory accounts, uint256 n, address account) private pure returns (uint256) {
        for (uint256 i = 0; i < n; ++i) {
            if (accounts[i] == account) return n;
        }
        accounts[n] = account;
        return n + 1;
    }
}
