// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {IConsortium} from "./interfaces/IConsortium.sol";

/// @title Consortium
/// @notice M-of-N governance of CityPoints: every rule change is a proposal of calls executed by this contract.
/// @dev See {IConsortium} for the rules. Governed contracts accept rule changes only from this address.
/// Approvals may come as EIP-712 signatures (domain "CityPoints" / "1" / chain id / this contract).
contract Consortium is IConsortium, EIP712 {
    using EnumerableSet for EnumerableSet.AddressSet;

    /// @notice EIP-712 type hash of a member's signed approval.
    bytes32 public constant PROPOSAL_APPROVAL_TYPEHASH =
        keccak256("ProposalApproval(uint256 proposalId,bytes32 callsHash,uint256 deadline)");

    EnumerableSet.AddressSet private _members;
    uint256 private _threshold;
    uint256 private _emergencyThreshold;
    uint64 private _proposalLifetime;
    uint256 private _proposalCount;

    mapping(uint256 proposalId => Proposal) private _proposals;
    // slither-disable-next-line uninitialized-state (filled by push in propose; slither misses pushes to mapped arrays)
    mapping(uint256 proposalId => Call[]) private _calls;
    mapping(uint256 proposalId => mapping(address member => bool)) private _approved;
    mapping(uint256 proposalId => bytes32) private _callsHash;
    mapping(address target => mapping(bytes4 selector => CallPolicy)) private _policies;

    modifier onlyMember() {
        if (!_members.contains(msg.sender)) revert ConsortiumNotMember(msg.sender);
        _;
    }

    modifier onlySelf() {
        if (msg.sender != address(this)) revert ConsortiumOnlySelf(msg.sender);
        _;
    }

    /// @param initialMembers Bootstrap members (for a fresh city: the operator alone, threshold 1).
    /// @param threshold_ M.
    /// @param emergencyThreshold_ Quorum for emergency-only proposals.
    /// @param proposalLifetime_ Seconds a proposal stays open.
    constructor(
        address[] memory initialMembers,
        uint256 threshold_,
        uint256 emergencyThreshold_,
        uint64 proposalLifetime_
    ) EIP712("CityPoints", "1") {
        for (uint256 i = 0; i < initialMembers.length; ++i) {
            _addMember(initialMembers[i]);
        }
        _setThresholds(threshold_, emergencyThreshold_);
        _setProposalLifetime(proposalLifetime_);
    }

    // ----------------------------------------------------------------------------------------------
    // Proposals
    // ----------------------------------------------------------------------------------------------

    /// @inheritdoc IConsortium
    function propose(Call[] calldata calls, string calldata description)
        external
        onlyMember
        returns (uint256 proposalId)
    {
        if (calls.length == 0) revert ConsortiumEmptyProposal();
        bool emergency = true;
        proposalId = ++_proposalCount;
        Call[] storage stored = _calls[proposalId];
        for (uint256 i = 0; i < calls.length; ++i) {
            if (calls[i].data.length < 4) revert ConsortiumMalformedCall(i);
            if (!_policies[calls[i].target][bytes4(calls[i].data[:4])].emergency) emergency = false;
            stored.push(calls[i]);
        }
        _callsHash[proposalId] = keccak256(abi.encode(calls));
        uint64 expiresAt = uint64(block.timestamp) + _proposalLifetime;
        _proposals[proposalId] = Proposal({
            proposer: msg.sender,
            createdAt: uint64(block.timestamp),
            readyAt: 0,
            expiresAt: expiresAt,
            queued: false,
            emergency: emergency,
            executed: false,
            cancelled: false
        });
        emit ProposalCreated(proposalId, msg.sender, calls, description, emergency, expiresAt);
        _approve(proposalId, msg.sender);
    }

    /// @inheritdoc IConsortium
    function approve(uint256 proposalId) external onlyMember {
        _requireApprovable(proposalId, msg.sender);
        _approve(proposalId, msg.sender);
    }

    /// @inheritdoc IConsortium
    function approveBySig(uint256 proposalId, address member, uint256 deadline, bytes calldata signature)
        external
    {
        if (!_members.contains(member)) revert ConsortiumSignerNotMember(member);
        _requireApprovable(proposalId, member);
        if (block.timestamp > deadline) revert ConsortiumSignatureExpired(deadline, block.timestamp);
        if (!SignatureChecker.isValidSignatureNow(member, approvalDigest(proposalId, deadline), signature)) {
            revert ConsortiumInvalidSignature(proposalId, member);
        }
        emit ProposalApprovedBySig(proposalId, member, msg.sender, deadline);
        _approve(proposalId, member);
    }

    /// @inheritdoc IConsortium
    function queue(uint256 proposalId) external onlyMember {
        ProposalState state = proposalState(proposalId);
        if (state == ProposalState.Queued || state == ProposalState.Ready) {
            revert ConsortiumAlreadyQueued(proposalId, _proposals[proposalId].readyAt);
        }
        if (state != ProposalState.Pending) revert ConsortiumProposalNotOpen(proposalId, state);
        uint256 approvals = approvalCount(proposalId);
        uint256 required = requiredApprovals(proposalId);
        if (approvals < required) revert ConsortiumInsufficientApprovals(proposalId, approvals, required);
        _queue(proposalId);
    }

    /// @inheritdoc IConsortium
    function execute(uint256 proposalId) external onlyMember {
        ProposalState state = proposalState(proposalId);
        Proposal storage p = _proposals[proposalId];
        if (state == ProposalState.Queued) revert ConsortiumNoticePending(proposalId, p.readyAt, block.timestamp);
        if (state == ProposalState.Pending) {
            revert ConsortiumInsufficientApprovals(proposalId, approvalCount(proposalId), requiredApprovals(proposalId));
        }
        if (state != ProposalState.Ready) revert ConsortiumProposalNotOpen(proposalId, state);
        uint256 approvals = approvalCount(proposalId);
        uint256 required = requiredApprovals(proposalId);
        if (approvals < required) revert ConsortiumInsufficientApprovals(proposalId, approvals, required);

        p.executed = true;
        Call[] storage calls = _calls[proposalId];
        uint256 n = calls.length;
        for (uint256 i = 0; i < n; ++i) {
            (bool ok, bytes memory reason) = calls[i].target.call(calls[i].data);
            if (!ok) revert ConsortiumCallFailed(proposalId, i, reason);
        }
        emit ProposalExecuted(proposalId, msg.sender);
    }

    /// @inheritdoc IConsortium
    function cancel(uint256 proposalId) external onlyMember {
        address proposer = _proposals[proposalId].proposer;
        if (proposer == address(0)) revert ConsortiumUnknownProposal(proposalId);
        if (proposer != msg.sender) revert ConsortiumNotProposer(proposalId, msg.sender, proposer);
        _cancel(proposalId);
    }

    /// @inheritdoc IConsortium
    function cancelByGovernance(uint256 proposalId) external onlySelf {
        _cancel(proposalId);
    }

    // ----------------------------------------------------------------------------------------------
    // Governed configuration
    // ----------------------------------------------------------------------------------------------

    /// @inheritdoc IConsortium
    function addMember(address account) external onlySelf {
        _addMember(account);
    }

    /// @inheritdoc IConsortium
    function removeMember(address account) external onlySelf {
        if (!_members.remove(account)) revert ConsortiumNotMember(account);
        uint256 count = _members.length();
        if (_threshold > count) revert ConsortiumInvalidThreshold(_threshold, _emergencyThreshold, count);
        emit MemberRemoved(account, count);
    }

    /// @inheritdoc IConsortium
    function setThresholds(uint256 threshold_, uint256 emergencyThreshold_) external onlySelf {
        _setThresholds(threshold_, emergencyThreshold_);
    }

    /// @inheritdoc IConsortium
    function setCallPolicy(address target, bytes4 selector, uint64 delay, bool emergency) external onlySelf {
        _policies[target][selector] = CallPolicy({delay: delay, emergency: emergency});
        emit CallPolicySet(target, selector, delay, emergency);
    }

    /// @inheritdoc IConsortium
    function setProposalLifetime(uint64 lifetime) external onlySelf {
        _setProposalLifetime(lifetime);
    }

    // ----------------------------------------------------------------------------------------------
    // Views
    // ----------------------------------------------------------------------------------------------

    /// @inheritdoc IConsortium
    function isMember(address account) external view returns (bool) {
        return _members.contains(account);
    }

    /// @inheritdoc IConsortium
    function members() external view returns (address[] memory) {
        return _members.values();
    }

    /// @inheritdoc IConsortium
    function threshold() external view returns (uint256) {
        return _threshold;
    }

    /// @inheritdoc IConsortium
    function emergencyThreshold() external view returns (uint256) {
        return _emergencyThreshold;
    }

    /// @inheritdoc IConsortium
    function proposalLifetime() external view returns (uint64) {
        return _proposalLifetime;
    }

    /// @inheritdoc IConsortium
    function proposalCount() external view returns (uint256) {
        return _proposalCount;
    }

    /// @inheritdoc IConsortium
    function callPolicy(address target, bytes4 selector) external view returns (CallPolicy memory) {
        return _policies[target][selector];
    }

    /// @inheritdoc IConsortium
    function getProposal(uint256 proposalId) external view returns (Proposal memory) {
        return _proposals[proposalId];
    }

    /// @inheritdoc IConsortium
    function getCalls(uint256 proposalId) external view returns (Call[] memory) {
        return _calls[proposalId];
    }

    /// @inheritdoc IConsortium
    function proposalState(uint256 proposalId) public view returns (ProposalState) {
        Proposal storage p = _proposals[proposalId];
        if (p.proposer == address(0)) revert ConsortiumUnknownProposal(proposalId);
        if (p.executed) return ProposalState.Executed;
        if (p.cancelled) return ProposalState.Cancelled;
        if (block.timestamp >= p.expiresAt) return ProposalState.Expired;
        if (!p.queued) return ProposalState.Pending;
        if (block.timestamp < p.readyAt) return ProposalState.Queued;
        return ProposalState.Ready;
    }

    /// @inheritdoc IConsortium
    function approvalCount(uint256 proposalId) public view returns (uint256 count) {
        uint256 n = _members.length();
        for (uint256 i = 0; i < n; ++i) {
            if (_approved[proposalId][_members.at(i)]) ++count;
        }
    }

    /// @inheritdoc IConsortium
    function hasApproved(uint256 proposalId, address member) external view returns (bool) {
        return _approved[proposalId][member];
    }

    /// @inheritdoc IConsortium
    function requiredApprovals(uint256 proposalId) public view returns (uint256) {
        return _proposals[proposalId].emergency ? _emergencyThreshold : _threshold;
    }

    /// @inheritdoc IConsortium
    function proposalCallsHash(uint256 proposalId) external view returns (bytes32) {
        return _callsHash[proposalId];
    }

    /// @inheritdoc IConsortium
    function approvalDigest(uint256 proposalId, uint256 deadline) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(abi.encode(PROPOSAL_APPROVAL_TYPEHASH, proposalId, _callsHash[proposalId], deadline))
        );
    }

    /// @inheritdoc IConsortium
    function noticeDelay(uint256 proposalId) public view returns (uint64 delay) {
        Call[] storage calls = _calls[proposalId];
        for (uint256 i = 0; i < calls.length; ++i) {
            uint64 d = _callDelay(calls[i].target, calls[i].data);
            if (d > delay) delay = d;
        }
    }

    // ----------------------------------------------------------------------------------------------
    // Internals
    // ----------------------------------------------------------------------------------------------

    /// @dev The proposal is open (pending, queued or ready) and `member` has not approved it.
    function _requireApprovable(uint256 proposalId, address member) private view {
        ProposalState state = proposalState(proposalId);
        if (state != ProposalState.Pending && state != ProposalState.Queued && state != ProposalState.Ready) {
            revert ConsortiumProposalNotOpen(proposalId, state);
        }
        if (_approved[proposalId][member]) revert ConsortiumAlreadyApproved(proposalId, member);
    }

    function _approve(uint256 proposalId, address member) private {
        _approved[proposalId][member] = true;
        uint256 approvals = approvalCount(proposalId);
        uint256 required = requiredApprovals(proposalId);
        emit ProposalApproved(proposalId, member, approvals, required);
        if (approvals >= required && !_proposals[proposalId].queued) _queue(proposalId);
    }

    function _queue(uint256 proposalId) private {
        Proposal storage p = _proposals[proposalId];
        uint64 readyAt = uint64(block.timestamp) + noticeDelay(proposalId);
        uint64 expiresAt = readyAt + _proposalLifetime;
        if (expiresAt < p.expiresAt) expiresAt = p.expiresAt;
        p.queued = true;
        p.readyAt = readyAt;
        p.expiresAt = expiresAt;
        emit ProposalQueued(proposalId, readyAt, expiresAt);
    }

    function _cancel(uint256 proposalId) private {
        ProposalState state = proposalState(proposalId);
        if (state != ProposalState.Pending && state != ProposalState.Queued && state != ProposalState.Ready) {
            revert ConsortiumProposalNotOpen(proposalId, state);
        }
        _proposals[proposalId].cancelled = true;
        emit ProposalCancelled(proposalId, msg.sender);
    }

    /// @dev Delay of one call. Changing a call policy waits at least the delay being changed.
    function _callDelay(address target, bytes storage data) private view returns (uint64 delay) {
        bytes memory copy = data;
        bytes4 selector = bytes4(copy);
        delay = _policies[target][selector].delay;
        if (target == address(this) && selector == this.setCallPolicy.selector && copy.length >= 68) {
            address innerTarget;
            bytes4 innerSelector;
            assembly ("memory-safe") {
                innerTarget := and(mload(add(copy, 36)), 0xffffffffffffffffffffffffffffffffffffffff)
                innerSelector := and(mload(add(copy, 68)), shl(224, 0xffffffff))
            }
            uint64 inner = _policies[innerTarget][innerSelector].delay;
            if (inner > delay) delay = inner;
        }
    }

    function _addMember(address account) private {
        if (account == address(0)) revert ConsortiumZeroAddress();
        if (!_members.add(account)) revert ConsortiumAlreadyMember(account);
        emit MemberAdded(account, _members.length());
    }

    function _setThresholds(uint256 threshold_, uint256 emergencyThreshold_) private {
        uint256 count = _members.length();
        if (emergencyThreshold_ == 0 || emergencyThreshold_ > threshold_ || threshold_ > count) {
            revert ConsortiumInvalidThreshold(threshold_, emergencyThreshold_, count);
        }
        _threshold = threshold_;
        _emergencyThreshold = emergencyThreshold_;
        emit ThresholdsChanged(threshold_, emergencyThreshold_);
    }

    function _setProposalLifetime(uint64 lifetime) private {
        if (lifetime == 0) revert ConsortiumInvalidLifetime(lifetime);
        _proposalLifetime = lifetime;
        emit ProposalLifetimeChanged(lifetime);
    }
}
