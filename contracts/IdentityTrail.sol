// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {IIdentityTrail} from "./interfaces/IIdentityTrail.sol";
import {Roles} from "./libraries/Roles.sol";

/// @title IdentityTrail
/// @notice Append-only trail of the uses of residents' personal data, and residents' objections. See
/// {IIdentityTrail} (purpose codes: 1 onboarding, 2 identity-recheck, 3 issuance-lookup, 4 recovery-verification,
/// 5 eligibility-proof, 6 data-export, 7 legal-request).
contract IdentityTrail is IIdentityTrail, EIP712 {
    /// @notice EIP-712 type hash of a resident's objection.
    bytes32 public constant TRAIL_OBJECTION_TYPEHASH =
        keccak256("TrailObjection(uint256 entryId,address resident,bytes32 nonce,uint256 deadline)");
    bytes32 public constant ONBOARDING_ROLE = Roles.ONBOARDING;
    bytes32 public constant AUDITOR_ROLE = Roles.AUDITOR;
    bytes32 public constant RELAYER_ROLE = Roles.RELAYER;
    /// @notice The largest purpose code (legal-request).
    uint16 public constant MAX_PURPOSE = 7;
    /// @notice The most entries one batch may hold.
    uint256 public constant MAX_BATCH = 256;

    address private immutable _membership;
    uint256 private _count;
    mapping(address resident => mapping(bytes32 nonce => bool)) private _objectionNonces;

    /// @param membership_ The Membership contract (AccessControl) that holds the roles.
    constructor(address membership_) EIP712("CityPoints", "1") {
        _membership = membership_;
    }

    /// @inheritdoc IIdentityTrail
    function record(Entry[] calldata entries) external returns (uint256 firstId) {
        uint256 n = entries.length;
        if (n == 0 || n > MAX_BATCH) revert IdentityTrailInvalidBatch(n, MAX_BATCH);
        IAccessControl m = IAccessControl(_membership);
        bool relayer = m.hasRole(RELAYER_ROLE, msg.sender);
        if (!relayer && !m.hasRole(ONBOARDING_ROLE, msg.sender) && !m.hasRole(AUDITOR_ROLE, msg.sender)) {
            revert IdentityTrailUnauthorized(msg.sender);
        }
        firstId = _count + 1;
        uint64 at = uint64(block.timestamp);
        for (uint256 i; i < n; ++i) {
            Entry calldata e = entries[i];
            if (e.resident == address(0) || e.actor == address(0)) revert IdentityTrailZeroAddress(i);
            if (e.purpose == 0 || e.purpose > MAX_PURPOSE) revert IdentityTrailUnknownPurpose(i, e.purpose);
            if (!relayer && e.actor != msg.sender) revert IdentityTrailActorMismatch(i, e.actor, msg.sender);
            emit IdentityUsed(firstId + i, e.resident, e.actor, e.purpose, e.requestRef, at);
        }
        _count = firstId + n - 1;
    }

    /// @inheritdoc IIdentityTrail
    function object(TrailObjection calldata objection, bytes calldata signature) external {
        if (objection.entryId == 0 || objection.entryId > _count) revert IdentityTrailUnknownEntry(objection.entryId);
        if (block.timestamp > objection.deadline) {
            revert IdentityTrailObjectionExpired(objection.deadline, block.timestamp);
        }
        if (_objectionNonces[objection.resident][objection.nonce]) {
            revert IdentityTrailObjectionUsed(objection.resident, objection.nonce);
        }
        if (!SignatureChecker.isValidSignatureNow(objection.resident, objectionDigest(objection), signature)) {
            revert IdentityTrailInvalidSignature(objection.resident);
        }
        _objectionNonces[objection.resident][objection.nonce] = true;
        emit UseObjected(objection.entryId, objection.resident, msg.sender, objection.nonce);
    }

    /// @inheritdoc IIdentityTrail
    function entryCount() external view returns (uint256) {
        return _count;
    }

    /// @inheritdoc IIdentityTrail
    function objectionNonceUsed(address resident, bytes32 nonce) external view returns (bool) {
        return _objectionNonces[resident][nonce];
    }

    /// @inheritdoc IIdentityTrail
    function objectionDigest(TrailObjection calldata objection) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    TRAIL_OBJECTION_TYPEHASH, objection.entryId, objection.resident, objection.nonce, objection.deadline
                )
            )
        );
    }

    /// @inheritdoc IIdentityTrail
    function membership() external view returns (address) {
        return _membership;
    }
}
