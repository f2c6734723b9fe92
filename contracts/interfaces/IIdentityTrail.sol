// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IIdentityTrail
/// @notice The trail of every use of a resident's personal data (issue 23): who used it (the actor's registered
/// account), for whom (the resident's address), why (a purpose code) and under which request (a reference the actor
/// keeps), and when (the block's time). Never the data itself. A resident who does not recognise an entry objects
/// with a signed {TrailObjection} that anyone relays, so objecting costs the resident no gas.
///
/// Purpose codes (the same table is `ledger_node/domain.py` TRAIL_PURPOSES):
/// 1 onboarding, 2 identity-recheck, 3 issuance-lookup, 4 recovery-verification, 5 eligibility-proof,
/// 6 data-export, 7 legal-request. Any other code is refused.
///
/// Who appends: the sender must hold one of Membership's ONBOARDING, AUDITOR or RELAYER roles. An onboarding
/// office or an auditor records its own uses (each entry's actor is the sender); a relayer records uses on behalf of
/// the actor it names (the API's relayer for an issuer's resident lookup). Whether an actor's role fits the purpose
/// (an issuer account for issuance-lookup, the onboarding office for onboarding and recovery-verification, ...) is
/// checked by the auditor's replay, which knows every role's history; the chain keeps the append cheap.
///
/// Storage: only a running entry counter, written once per batch; each entry is one {IdentityUsed} event, so an
/// entry in a batch costs under 10,000 gas (tests/contracts/value/test_identity_trail.py measures it).
/// The contract does not store entries, so an objection names the entry's id and the objecting resident; the
/// auditor matches it with the entry (an objection by someone else than the entry's resident is reported as such).
interface IIdentityTrail {
    /// @notice One use of one resident's personal data.
    struct Entry {
        address resident; // whose data was used
        address actor; // the registered account that used it
        uint16 purpose; // 1..7, see the table above
        bytes32 requestRef; // the actor's reference of the request (no personal data)
    }

    /// @notice A resident's gasless objection to entry `entryId` ("I do not recognise this"), usable once (`nonce`).
    struct TrailObjection {
        uint256 entryId;
        address resident;
        bytes32 nonce;
        uint256 deadline;
    }

    /// @notice The sender holds none of ONBOARDING, AUDITOR, RELAYER.
    error IdentityTrailUnauthorized(address caller);
    /// @notice The batch is empty or longer than the limit.
    error IdentityTrailInvalidBatch(uint256 length, uint256 max);
    /// @notice Entry `index` names the zero address as resident or actor.
    error IdentityTrailZeroAddress(uint256 index);
    /// @notice Entry `index` has an unknown purpose code.
    error IdentityTrailUnknownPurpose(uint256 index, uint16 purpose);
    /// @notice Entry `index` names another actor than the sender, and the sender is not a relayer.
    error IdentityTrailActorMismatch(uint256 index, address actor, address caller);
    /// @notice No entry has this id.
    error IdentityTrailUnknownEntry(uint256 entryId);
    /// @notice The objection's deadline has passed.
    error IdentityTrailObjectionExpired(uint256 deadline, uint256 nowTime);
    /// @notice The resident used this nonce in an objection before.
    error IdentityTrailObjectionUsed(address resident, bytes32 nonce);
    /// @notice The signature is not the resident's (ECDSA or EIP-1271).
    error IdentityTrailInvalidSignature(address resident);

    /// @notice Entry `id` (numbered from 1): `actor` used `resident`'s personal data for `purpose` under
    /// `requestRef`, at block time `at`.
    event IdentityUsed(
        uint256 indexed id, address indexed resident, address indexed actor, uint16 purpose, bytes32 requestRef, uint64 at
    );
    /// @notice `resident` does not recognise entry `entryId` (signed objection `nonce`, relayed by `submitter`).
    event UseObjected(uint256 indexed entryId, address indexed resident, address indexed submitter, bytes32 nonce);

    /// @notice Append a batch of uses to the trail.
    /// @dev Requirements: the sender holds ONBOARDING, AUDITOR or RELAYER in Membership; 1..256 entries; each entry's
    /// resident and actor nonzero, purpose 1..7, and actor == sender unless the sender holds RELAYER.
    /// Emits: {IdentityUsed} per entry, ids consecutive.
    /// @return firstId The id of the batch's first entry.
    function record(Entry[] calldata entries) external returns (uint256 firstId);

    /// @notice Relay a resident's signed objection to an entry.
    /// @dev Requirements: the entry exists; deadline not passed; the resident's nonce unused; signature the
    /// resident's (ECDSA or EIP-1271). Anyone may submit it. Emits: {UseObjected}.
    function object(TrailObjection calldata objection, bytes calldata signature) external;

    /// @notice How many entries the trail holds (the latest has this id).
    function entryCount() external view returns (uint256);

    /// @notice Whether `resident` used `nonce` in an objection.
    function objectionNonceUsed(address resident, bytes32 nonce) external view returns (bool);

    /// @notice The EIP-712 digest of `objection` (domain CityPoints / 1 / chain id / this contract).
    function objectionDigest(TrailObjection calldata objection) external view returns (bytes32);

    /// @notice The Membership contract whose roles may append.
    function membership() external view returns (address);
}
