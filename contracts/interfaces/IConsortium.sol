// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IConsortium
/// @notice The consortium of member organisations (city authority, each issuer organisation, the merchant
/// association, the auditor organisation) and the only way rules change on chain.
///
/// A proposal is a list of calls `(target, data)`. Members approve it; once approvals reach the
/// required number it is *queued* and becomes executable after its notice delay, the largest
/// delay governed for any of its calls (per `(target, selector)`, see `setCallPolicy`). When executed,
/// the Consortium makes the calls in order, all or nothing.
///
/// Required approvals: `threshold` (M of N). A proposal every call of which is marked *emergency* in
/// the call policy (for example pausing a scheme or the whole ledger) needs only `emergencyThreshold`
/// approvals. Unpausing is not marked emergency, so it passes only by the full rule.
///
/// Approvals are counted over the *current* members, so removing a member removes their approvals.
/// A proposal expires `proposalLifetime` seconds after creation, or, once queued, `proposalLifetime`
/// seconds after it became executable, whichever is later. It can be cancelled by its proposer or
/// by governance (`cancelByGovernance`, itself a proposal).
interface IConsortium {
    /// @notice One call of a proposal.
    struct Call {
        address target;
        bytes data;
    }

    /// @notice Governed policy of a `(target, selector)`: notice delay and whether it is an emergency action.
    struct CallPolicy {
        uint64 delay;
        bool emergency;
    }

    /// @notice Lifecycle of a proposal.
    /// Pending: awaiting approvals. Queued: approved, notice delay running. Ready: executable now.
    enum ProposalState {
        None,
        Pending,
        Queued,
        Ready,
        Executed,
        Cancelled,
        Expired
    }

    /// @notice Stored summary of a proposal.
    struct Proposal {
        address proposer;
        uint64 createdAt;
        uint64 readyAt; // meaningful once queued
        uint64 expiresAt;
        bool queued;
        bool emergency;
        bool executed;
        bool cancelled;
    }

    // ----------------------------------------------------------------------------------------------
    // Errors
    // ----------------------------------------------------------------------------------------------

    /// @notice The caller is not a consortium member.
    error ConsortiumNotMember(address caller);
    /// @notice A rule-changing function was called other than by an executed proposal.
    error ConsortiumOnlySelf(address caller);
    /// @notice No proposal has this id.
    error ConsortiumUnknownProposal(uint256 proposalId);
    /// @notice A proposal must have at least one call.
    error ConsortiumEmptyProposal();
    /// @notice A call's data is shorter than a selector.
    error ConsortiumMalformedCall(uint256 index);
    /// @notice The member already approved this proposal.
    error ConsortiumAlreadyApproved(uint256 proposalId, address member);
    /// @notice The proposal can no longer be approved, queued, executed or cancelled.
    error ConsortiumProposalNotOpen(uint256 proposalId, ProposalState state);
    /// @notice The proposal has not reached its required approvals.
    error ConsortiumInsufficientApprovals(uint256 proposalId, uint256 approvals, uint256 required);
    /// @notice The proposal is already queued.
    error ConsortiumAlreadyQueued(uint256 proposalId, uint64 readyAt);
    /// @notice The proposal's notice delay has not passed.
    error ConsortiumNoticePending(uint256 proposalId, uint64 readyAt, uint256 nowTimestamp);
    /// @notice Only the proposer (or governance via `cancelByGovernance`) can cancel.
    error ConsortiumNotProposer(uint256 proposalId, address caller, address proposer);
    /// @notice A call of an executed proposal reverted; `reason` is its revert data.
    error ConsortiumCallFailed(uint256 proposalId, uint256 index, bytes reason);
    /// @notice The account is already a member.
    error ConsortiumAlreadyMember(address account);
    /// @notice The zero address cannot be a member.
    error ConsortiumZeroAddress();
    /// @notice The thresholds would be unreachable or inconsistent: need 1 <= emergency <= threshold <= members.
    error ConsortiumInvalidThreshold(uint256 threshold, uint256 emergencyThreshold, uint256 members);
    /// @notice The proposal lifetime must be positive.
    error ConsortiumInvalidLifetime(uint64 lifetime);
    /// @notice A signed approval names an account that is not a current member.
    error ConsortiumSignerNotMember(address member);
    /// @notice A signed approval's deadline has passed.
    error ConsortiumSignatureExpired(uint256 deadline, uint256 nowTimestamp);
    /// @notice The signature is not `member`'s approval of this proposal's calls (another proposal's, another
    /// chain's or contract's, another deadline, or not `member`'s at all).
    error ConsortiumInvalidSignature(uint256 proposalId, address member);

    // ----------------------------------------------------------------------------------------------
    // Events
    // ----------------------------------------------------------------------------------------------

    /// @notice A member proposed `calls`. `emergency` is true when every call is an emergency action.
    event ProposalCreated(
        uint256 indexed proposalId,
        address indexed proposer,
        Call[] calls,
        string description,
        bool emergency,
        uint64 expiresAt
    );
    /// @notice A member approved; `approvals` is the count after, over current members.
    event ProposalApproved(uint256 indexed proposalId, address indexed member, uint256 approvals, uint256 required);
    /// @notice The proposal reached its approvals; executable from `readyAt` until `expiresAt`.
    event ProposalQueued(uint256 indexed proposalId, uint64 readyAt, uint64 expiresAt);
    /// @notice The proposal's calls were all made.
    event ProposalExecuted(uint256 indexed proposalId, address indexed executor);
    /// @notice `member`'s approval came as a signature (`approveBySig`), submitted by `submitter`; emitted just
    /// before the {ProposalApproved} it causes.
    event ProposalApprovedBySig(uint256 indexed proposalId, address indexed member, address indexed submitter,
        uint256 deadline);
    /// @notice The proposal was cancelled by `by` (its proposer, or the Consortium itself).
    event ProposalCancelled(uint256 indexed proposalId, address indexed by);
    /// @notice A member joined.
    event MemberAdded(address indexed member, uint256 memberCount);
    /// @notice A member left.
    event MemberRemoved(address indexed member, uint256 memberCount);
    /// @notice M or the emergency quorum changed.
    event ThresholdsChanged(uint256 threshold, uint256 emergencyThreshold);
    /// @notice The notice delay / emergency flag of `(target, selector)` changed.
    event CallPolicySet(address indexed target, bytes4 indexed selector, uint64 delay, bool emergency);
    /// @notice The proposal lifetime changed.
    event ProposalLifetimeChanged(uint64 lifetime);

    // ----------------------------------------------------------------------------------------------
    // Proposals
    // ----------------------------------------------------------------------------------------------

    /// @notice Propose `calls`; the proposer's approval is counted at once.
    /// @dev Requirements: caller is a member; at least one call; each call's data holds a selector.
    /// Emits: {ProposalCreated}, {ProposalApproved}, and {ProposalQueued} if the proposer's approval suffices.
    /// @return proposalId The new proposal's id (1, 2, 3, ...).
    function propose(Call[] calldata calls, string calldata description) external returns (uint256 proposalId);

    /// @notice Approve a proposal.
    /// @dev Requirements: caller is a member who has not approved it; the proposal is pending or queued.
    /// Emits: {ProposalApproved}, and {ProposalQueued} when approvals reach the required number.
    function approve(uint256 proposalId) external;

    /// @notice Approve a proposal with a member's EIP-712 signature, submitted by anyone (the signature is the
    /// authority), so members need not share a machine or hold gas money.
    /// @dev The member signs `ProposalApproval(uint256 proposalId,bytes32 callsHash,uint256 deadline)` in the
    /// domain ("CityPoints", "1", chain id, this contract), where `callsHash` is `proposalCallsHash(proposalId)`,
    /// so the approval binds the proposal's calls, not only its number (a city deployed afresh at the same
    /// address reuses numbers). Signatures are checked with OpenZeppelin's SignatureChecker (ECDSA, or EIP-1271
    /// for a contract member). A second submission of the same approval is refused and counts nothing.
    /// Requirements: `member` is a current member who has not approved; the proposal is pending or queued;
    /// `block.timestamp <= deadline`; the signature is `member`'s.
    /// Emits: {ProposalApprovedBySig}, {ProposalApproved}, and {ProposalQueued} when approvals reach the
    /// required number.
    /// @param proposalId The proposal approved.
    /// @param member The member who signed.
    /// @param deadline Last second (block timestamp) the signature may be used.
    /// @param signature 65-byte ECDSA signature (or the member contract's EIP-1271 signature).
    function approveBySig(uint256 proposalId, address member, uint256 deadline, bytes calldata signature) external;

    /// @notice Queue a proposal whose approvals became sufficient without an approval (threshold lowered).
    /// @dev Requirements: caller is a member; proposal pending; approvals >= required.
    /// Emits: {ProposalQueued}.
    function queue(uint256 proposalId) external;

    /// @notice Make the proposal's calls, all or nothing.
    /// @dev Requirements: caller is a member; proposal queued, notice delay passed, not expired; approvals
    /// (over current members) still >= required; every call succeeds.
    /// Emits: {ProposalExecuted}, and whatever the calls emit.
    function execute(uint256 proposalId) external;

    /// @notice Cancel one's own proposal.
    /// @dev Requirements: caller is the proposer and still a member; proposal not executed, cancelled or expired.
    /// Emits: {ProposalCancelled}.
    function cancel(uint256 proposalId) external;

    /// @notice Cancel any open proposal by governance.
    /// @dev Requirements: called by the Consortium itself (an executed proposal); proposal open.
    /// Emits: {ProposalCancelled}.
    function cancelByGovernance(uint256 proposalId) external;

    // ----------------------------------------------------------------------------------------------
    // Governed configuration (only by an executed proposal)
    // ----------------------------------------------------------------------------------------------

    /// @notice Add a member.
    /// @dev Requirements: called by the Consortium itself; `account` nonzero and not a member.
    /// Emits: {MemberAdded}.
    function addMember(address account) external;

    /// @notice Remove a member; their approvals of open proposals stop counting.
    /// @dev Requirements: called by the Consortium itself; `account` is a member; threshold stays <= members.
    /// Emits: {MemberRemoved}.
    function removeMember(address account) external;

    /// @notice Change M (`threshold`) and the emergency quorum.
    /// @dev Requirements: called by the Consortium itself; 1 <= emergencyThreshold <= threshold <= members.
    /// Emits: {ThresholdsChanged}.
    function setThresholds(uint256 threshold, uint256 emergencyThreshold) external;

    /// @notice Set the notice delay and emergency flag of calls to `target` with `selector`.
    /// @dev A proposal calling `setCallPolicy` itself waits at least the delay currently governed for the
    /// policy it changes, so a delay cannot be shortened faster than it allows.
    /// Requirements: called by the Consortium itself. Emits: {CallPolicySet}.
    function setCallPolicy(address target, bytes4 selector, uint64 delay, bool emergency) external;

    /// @notice Set how long proposals stay open.
    /// @dev Requirements: called by the Consortium itself; lifetime > 0. Emits: {ProposalLifetimeChanged}.
    function setProposalLifetime(uint64 lifetime) external;

    // ----------------------------------------------------------------------------------------------
    // Views
    // ----------------------------------------------------------------------------------------------

    /// @notice Whether `account` is a member.
    function isMember(address account) external view returns (bool);
    /// @notice All members.
    function members() external view returns (address[] memory);
    /// @notice M: approvals required for an ordinary proposal.
    function threshold() external view returns (uint256);
    /// @notice Approvals required for a proposal made only of emergency calls.
    function emergencyThreshold() external view returns (uint256);
    /// @notice Seconds a proposal stays open.
    function proposalLifetime() external view returns (uint64);
    /// @notice Number of proposals created so far (the last id).
    function proposalCount() external view returns (uint256);
    /// @notice Policy of `(target, selector)`.
    function callPolicy(address target, bytes4 selector) external view returns (CallPolicy memory);
    /// @notice Stored summary of a proposal.
    function getProposal(uint256 proposalId) external view returns (Proposal memory);
    /// @notice The calls of a proposal.
    function getCalls(uint256 proposalId) external view returns (Call[] memory);
    /// @notice Current state of a proposal.
    function proposalState(uint256 proposalId) external view returns (ProposalState);
    /// @notice Approvals of a proposal counted over current members.
    function approvalCount(uint256 proposalId) external view returns (uint256);
    /// @notice Whether `member` approved a proposal.
    function hasApproved(uint256 proposalId, address member) external view returns (bool);
    /// @notice Approvals a proposal requires now.
    function requiredApprovals(uint256 proposalId) external view returns (uint256);
    /// @notice `keccak256(abi.encode(calls))` of a proposal, `calls` as `(address target, bytes data)[]`: what a
    /// signed approval binds (zero for an unknown proposal).
    function proposalCallsHash(uint256 proposalId) external view returns (bytes32);
    /// @notice The EIP-712 digest `member` signs to approve `proposalId` until `deadline` (for wallets and tests).
    function approvalDigest(uint256 proposalId, uint256 deadline) external view returns (bytes32);
    /// @notice Notice delay a proposal would wait if queued now (largest delay over its calls).
    function noticeDelay(uint256 proposalId) external view returns (uint64);
}
