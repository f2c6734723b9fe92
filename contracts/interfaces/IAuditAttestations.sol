// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IAuditAttestations
/// @notice Where auditors publish what their replay of the chain found, so anyone can read it.
///
/// An auditor (an account holding Membership's AUDITOR_ROLE, `keccak256("CityPoints.AUDITOR")`) replays every
/// event from a block range, rebuilds the ledger's state, signs a JSON report and records here the report's
/// hash and the Merkle root of every balance at the range's last block. The tree is OpenZeppelin's
/// `StandardMerkleTree` with leaf encoding `["address","uint256","uint256"]` = (account, scheme, balance):
/// `leaf = keccak256(bytes.concat(keccak256(abi.encode(account, scheme, balance))))`, sorted-pair hashing, so a
/// resident checks their own line with the proof the report gives ({verifyBalance}).
/// Attestations are append-only: a later audit is a new attestation, never an edit.
interface IAuditAttestations {
    /// @notice One published audit.
    struct Attestation {
        bytes32 reportHash; // keccak256 of the report's canonical JSON (see ledger_node/audit/report.py)
        bytes32 merkleRoot; // root of (account, scheme, balance) at `toBlock`
        uint64 fromBlock;
        uint64 toBlock;
        uint64 attestedAt;
        address auditor;
    }

    /// @notice The caller does not hold AUDITOR_ROLE in Membership.
    error AuditAttestationsNotAuditor(address caller);
    /// @notice The report hash or the Merkle root is zero.
    error AuditAttestationsZeroValue();
    /// @notice `fromBlock` is after `toBlock`, or `toBlock` is in the future.
    error AuditAttestationsInvalidRange(uint256 fromBlock, uint256 toBlock, uint256 currentBlock);
    /// @notice This report hash was attested before (as attestation `id`).
    error AuditAttestationsAlreadyAttested(bytes32 reportHash, uint256 id);
    /// @notice No attestation has this id.
    error AuditAttestationsUnknown(uint256 id);

    /// @notice `auditor` attested report `reportHash` covering blocks `fromBlock`..`toBlock` with balances root
    /// `merkleRoot`; `id` numbers attestations from 1.
    event AuditAttested(
        uint256 indexed id,
        address indexed auditor,
        bytes32 indexed reportHash,
        bytes32 merkleRoot,
        uint64 fromBlock,
        uint64 toBlock
    );

    /// @notice Record an audit report's hash and balances root.
    /// @dev Requirements: caller holds Membership's AUDITOR_ROLE; `reportHash` and `merkleRoot` nonzero;
    /// `fromBlock <= toBlock <= block.number`; `reportHash` not attested before.
    /// Emits: {AuditAttested}.
    /// @return id The new attestation's id (1, 2, 3, ...).
    function attest(bytes32 reportHash, bytes32 merkleRoot, uint64 fromBlock, uint64 toBlock)
        external
        returns (uint256 id);

    /// @notice The attestation `id`.
    /// @dev Requirements: `id` exists (else {AuditAttestationsUnknown}).
    function attestation(uint256 id) external view returns (Attestation memory);

    /// @notice How many attestations were made (the latest has this id).
    function attestationCount() external view returns (uint256);

    /// @notice The id of the attestation of `reportHash` (0 if none).
    function attestationOf(bytes32 reportHash) external view returns (uint256);

    /// @notice Whether (account, scheme, balance) is a line of attestation `id`'s balances tree.
    /// @dev Requirements: `id` exists. `proof` is the line's proof from the report (sibling hashes, leaf to root).
    function verifyBalance(uint256 id, bytes32[] calldata proof, address account, uint256 scheme, uint256 balance)
        external
        view
        returns (bool);

    /// @notice The leaf of (account, scheme, balance): keccak256(bytes.concat(keccak256(abi.encode(...)))).
    function leafOf(address account, uint256 scheme, uint256 balance) external pure returns (bytes32);

    /// @notice The Membership contract whose AUDITOR_ROLE may attest.
    function membership() external view returns (address);
}
