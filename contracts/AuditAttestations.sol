// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IAuditAttestations} from "./interfaces/IAuditAttestations.sol";
import {Roles} from "./libraries/Roles.sol";

/// @title AuditAttestations
/// @notice Append-only record of audit reports (hash and balances Merkle root), readable by anyone.
/// See {IAuditAttestations}.
contract AuditAttestations is IAuditAttestations {
    bytes32 public constant AUDITOR_ROLE = Roles.AUDITOR;

    address private immutable _membership;
    Attestation[] private _attestations;
    mapping(bytes32 reportHash => uint256 id) private _idOf;

    /// @param membership_ The Membership contract (AccessControl) that holds AUDITOR_ROLE.
    constructor(address membership_) {
        _membership = membership_;
    }

    /// @inheritdoc IAuditAttestations
    function attest(bytes32 reportHash, bytes32 merkleRoot, uint64 fromBlock, uint64 toBlock)
        external
        returns (uint256 id)
    {
        if (!IAccessControl(_membership).hasRole(AUDITOR_ROLE, msg.sender)) revert AuditAttestationsNotAuditor(msg.sender);
        if (reportHash == bytes32(0) || merkleRoot == bytes32(0)) revert AuditAttestationsZeroValue();
        if (fromBlock > toBlock || toBlock > block.number) {
            revert AuditAttestationsInvalidRange(fromBlock, toBlock, block.number);
        }
        uint256 existing = _idOf[reportHash];
        if (existing != 0) revert AuditAttestationsAlreadyAttested(reportHash, existing);
        _attestations.push(
            Attestation({
                reportHash: reportHash,
                merkleRoot: merkleRoot,
                fromBlock: fromBlock,
                toBlock: toBlock,
                attestedAt: uint64(block.timestamp),
                auditor: msg.sender
            })
        );
        id = _attestations.length;
        _idOf[reportHash] = id;
        emit AuditAttested(id, msg.sender, reportHash, merkleRoot, fromBlock, toBlock);
    }

    /// @inheritdoc IAuditAttestations
    function attestation(uint256 id) public view returns (Attestation memory) {
        if (id == 0 || id > _attestations.length) revert AuditAttestationsUnknown(id);
        return _attestations[id - 1];
    }

    /// @inheritdoc IAuditAttestations
    function attestationCount() external view returns (uint256) {
        return _attestations.length;
    }

    /// @inheritdoc IAuditAttestations
    function attestationOf(bytes32 reportHash) external view returns (uint256) {
        return _idOf[reportHash];
    }

    /// @inheritdoc IAuditAttestations
    function verifyBalance(uint256 id, bytes32[] calldata proof, address account, uint256 scheme, uint256 balance)
        external
        view
        returns (bool)
    {
        return MerkleProof.verifyCalldata(proof, attestation(id).merkleRoot, leafOf(account, scheme, balance));
    }

    /// @inheritdoc IAuditAttestations
    function leafOf(address account, uint256 scheme, uint256 balance) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(account, scheme, balance))));
    }

    /// @inheritdoc IAuditAttestations
    function membership() external view returns (address) {
        return _membership;
    }
}
