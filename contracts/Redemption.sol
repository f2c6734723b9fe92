// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ConsortiumGoverned} from "./governance/ConsortiumGoverned.sol";
import {IClearing} from "./interfaces/IClearing.sol";
import {IMembership} from "./interfaces/IMembership.sol";
import {IPointsLedger} from "./interfaces/IPointsLedger.sol";
import {IRates} from "./interfaces/IRates.sol";
import {IRedemption} from "./interfaces/IRedemption.sol";
import {CreditMath} from "./libraries/CreditMath.sol";
import {Roles} from "./libraries/Roles.sol";
import {ResidentIntents} from "./residents/ResidentIntents.sol";

/// @title Redemption
/// @notice Resident-consented redemptions at merchants, refunds, and the issuer-to-merchant positions they
/// create. See {IRedemption}.
contract Redemption is IRedemption, ResidentIntents, ConsortiumGoverned {
    bytes32 public constant REDEMPTION_CONSENT_TYPEHASH = keccak256(
        "RedemptionConsent(address resident,address merchant,uint256 credits,Part[] parts,bytes32 orderRef,bytes32 nonce,uint256 deadline)Part(uint256 scheme,uint256 points,uint256 credits)"
    );
    bytes32 public constant PART_TYPEHASH = keccak256("Part(uint256 scheme,uint256 points,uint256 credits)");
    uint256 public constant MAX_PARTS = 16;
    uint256 public constant MAX_BATCH = 200;
    uint256 public constant ITEM_GAS = 1_000_000;
    bytes32 public constant PREFERRED_ORDER_TYPEHASH =
        keccak256("PreferredOrder(address resident,uint256[] schemes,bytes32 nonce,uint256 deadline)");
    bytes32 public constant RELAYER_ROLE = Roles.RELAYER;

    IPointsLedger public immutable ledger;
    IRates public immutable rates;
    IClearing public immutable clearing;
    IMembership public immutable membership;

    /// @dev A redemption's record is its intent's word (ResidentIntents._intents[redemptionId]), one slot that also
    /// spends the consent's nonce: bits 0-39 redeemedAt, 40-135 credits refunded, 136-255 the top 120 bits of
    /// keccak256(abi.encode(resident, merchant, parts)). A preferred order's nonce word is _ORDER_USED (redeemedAt 0:
    /// not a redemption).
    uint256 private constant _REFUNDED_SHIFT = 40;
    uint256 private constant _HASH_SHIFT = 136;
    uint256 private constant _MASK40 = (1 << 40) - 1;
    uint256 private constant _MASK96 = (1 << 96) - 1;
    uint256 private constant _ORDER_USED = 1 << _HASH_SHIFT;

    uint64 private _refundWindow;
    mapping(address resident => uint256[]) private _preferred;

    constructor(
        address consortium_,
        IPointsLedger ledger_,
        IRates rates_,
        IClearing clearing_,
        IMembership membership_,
        uint64 refundWindow_
    ) ConsortiumGoverned(consortium_) {
        ledger = ledger_;
        rates = rates_;
        clearing = clearing_;
        membership = membership_;
        _refundWindow = refundWindow_;
        emit RefundWindowSet(refundWindow_);
    }

    /// @inheritdoc IRedemption
    function redeem(Consent calldata consent, bytes calldata signature) external returns (bytes32 redemptionId) {
        uint256 credits = consent.credits;
        if (credits == 0) revert RedemptionZeroCredits();
        if (credits > _MASK96) revert RedemptionTooLarge(credits);
        address resident = consent.resident;
        address merchant = consent.merchant;
        _checkSubmitter(merchant);
        if (!membership.isMerchantActive(merchant)) revert RedemptionMerchantNotActive(merchant);
        Part[] calldata parts = consent.parts;
        uint256 record = (uint256(_partiesHash(resident, merchant, parts)) >> _HASH_SHIFT << _HASH_SHIFT)
            | block.timestamp; // the timestamp fits 40 bits until the year 36812
        redemptionId = _useIntent(resident, _consentHash(consent), consent.nonce, consent.deadline, signature, record);
        PartValue[] memory taken = _take(resident, merchant, credits, parts, redemptionId);
        emit Redeemed(redemptionId, resident, merchant, consent.orderRef, consent.nonce, credits, taken);
    }

    /// @inheritdoc IRedemption
    function redeemMany(SignedConsent[] calldata batch) external returns (uint256 redeemed) {
        uint256 n = batch.length;
        if (n == 0 || n > MAX_BATCH) revert RedemptionInvalidBatch(n);
        bool relayer = IAccessControl(address(membership)).hasRole(RELAYER_ROLE, msg.sender);
        for (uint256 i = 0; i < n; ++i) {
            Consent calldata c = batch[i].consent;
            // the caller's own mistake fails the batch; what the resident's consent meets is each consent's own
            if (!relayer && msg.sender != c.merchant) revert RedemptionNotSubmitter(msg.sender, c.merchant);
            // this very contract calls redeem: _checkSubmitter takes it, the submitter being checked here
            try this.redeem{gas: ITEM_GAS}(c, batch[i].signature) {
                ++redeemed;
            } catch (bytes memory reason) {
                emit RedemptionSkipped(intentIdOf(c.resident, c.nonce), c.resident, c.nonce, reason);
            }
        }
    }

    /// @inheritdoc IRedemption
    function refund(bytes32 redemptionId, address resident, address merchant, Part[] calldata parts, uint256 credits)
        external
    {
        (uint256 before, uint256 total) = _recordRefund(redemptionId, resident, merchant, parts, credits);
        // After a recovery the points go to the key that holds the resident's registration now, never the old one.
        address creditedTo = membership.currentAccountOf(resident);
        PartValue[] memory given = _giveBack(RefundStep(redemptionId, creditedTo, merchant, before, total), parts);
        emit Refunded(redemptionId, resident, merchant, credits, total, given, creditedTo);
    }

    /// @inheritdoc IRedemption
    function setPreferredOrder(
        address resident,
        uint256[] calldata schemes,
        bytes32 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external {
        for (uint256 i = 0; i < schemes.length; ++i) {
            if (ledger.schemeInfo(schemes[i]).status == IPointsLedger.SchemeStatus.None) {
                revert RedemptionInvalidOrder(schemes[i]);
            }
            for (uint256 j = 0; j < i; ++j) {
                if (schemes[j] == schemes[i]) revert RedemptionInvalidOrder(schemes[i]);
            }
        }
        _useIntent(
            resident,
            keccak256(
                abi.encode(PREFERRED_ORDER_TYPEHASH, resident, keccak256(abi.encodePacked(schemes)), nonce, deadline)
            ),
            nonce,
            deadline,
            signature,
            _ORDER_USED
        );
        _preferred[resident] = schemes;
        emit PreferredOrderSet(resident, schemes, nonce);
    }

    /// @inheritdoc IRedemption
    function setRefundWindow(uint64 windowSeconds) external onlyConsortium {
        _refundWindow = windowSeconds;
        emit RefundWindowSet(windowSeconds);
    }

    // ----------------------------------------------------------------------------------------------
    // Views
    // ----------------------------------------------------------------------------------------------

    /// @inheritdoc IRedemption
    function availableCredits(address resident) external view returns (uint256 total) {
        uint256[] memory schemes = ledger.schemeIds();
        for (uint256 i = 0; i < schemes.length; ++i) {
            IPointsLedger.SchemeStatus status = ledger.schemeInfo(schemes[i]).status;
            if (status != IPointsLedger.SchemeStatus.Active && status != IPointsLedger.SchemeStatus.Retired) continue;
            uint256 rate = rates.rateOf(schemes[i]);
            uint256 value = ledger.balanceOf(resident, schemes[i]) * rate + ledger.changeOf(resident, schemes[i]);
            total += value / CreditMath.RATE_SCALE;
        }
    }

    /// @inheritdoc IRedemption
    function preferredOrder(address resident) external view returns (uint256[] memory) {
        return _preferred[resident];
    }

    /// @inheritdoc IRedemption
    function redemption(bytes32 redemptionId) external view returns (Record memory r) {
        uint256 record = _intents[redemptionId];
        // slither-disable-next-line incorrect-equality (time zero: unknown, or a preferred order's nonce)
        if (record & _MASK40 == 0) return r;
        return Record({
            partiesHash: bytes32(record >> _HASH_SHIFT << _HASH_SHIFT),
            refunded: uint96(record >> _REFUNDED_SHIFT),
            redeemedAt: uint40(record)
        });
    }

    /// @inheritdoc IRedemption
    function redemptionIdOf(address resident, bytes32 nonce) external pure returns (bytes32) {
        return intentIdOf(resident, nonce);
    }

    /// @inheritdoc IRedemption
    function refundWindow() external view returns (uint64) {
        return _refundWindow;
    }

    // ----------------------------------------------------------------------------------------------
    // Internals
    // ----------------------------------------------------------------------------------------------

    function _checkSubmitter(address merchant) private view {
        // address(this): a consent of redeemMany, whose submitter redeemMany checked
        if (msg.sender != merchant && msg.sender != address(this)
                && !IAccessControl(address(membership)).hasRole(RELAYER_ROLE, msg.sender)) {
            revert RedemptionNotSubmitter(msg.sender, merchant);
        }
    }

    /// @dev The EIP-712 struct hash of a consent (its parts hashed as an array of `Part` structs).
    function _consentHash(Consent calldata c) private pure returns (bytes32) {
        Part[] calldata parts = c.parts;
        bytes32 partsHash;
        bytes32 partTypehash = PART_TYPEHASH;
        assembly ("memory-safe") {
            // each part's struct hash keccak256(PART_TYPEHASH, scheme, points, credits), then their concatenation's
            let p := mload(0x40)
            let hashes := add(p, 0x80)
            mstore(p, partTypehash)
            for { let i := 0 } lt(i, parts.length) { i := add(i, 1) } {
                calldatacopy(add(p, 0x20), add(parts.offset, mul(i, 0x60)), 0x60)
                mstore(add(hashes, mul(i, 0x20)), keccak256(p, 0x80))
            }
            partsHash := keccak256(hashes, mul(parts.length, 0x20))
        }
        return keccak256(
            abi.encode(
                REDEMPTION_CONSENT_TYPEHASH, c.resident, c.merchant, c.credits, partsHash, c.orderRef, c.nonce,
                c.deadline
            )
        );
    }

    /// @dev Check a refund against the redemption's record (known, its parties, the window, what is left to refund)
    /// and write the refunded total. Returns the refunded total before and after.
    function _recordRefund(
        bytes32 redemptionId,
        address resident,
        address merchant,
        Part[] calldata parts,
        uint256 credits
    ) private returns (uint256 before, uint256 total) {
        uint256 record = _intents[redemptionId];
        uint256 redeemedAt = record & _MASK40;
        // slither-disable-next-line incorrect-equality (time zero: no redemption has this id)
        if (redeemedAt == 0) revert RedemptionUnknown(redemptionId);
        _checkSubmitter(merchant);
        if (uint256(_partiesHash(resident, merchant, parts)) >> _HASH_SHIFT != record >> _HASH_SHIFT) {
            revert RedemptionPartsMismatch(redemptionId);
        }
        uint256 until = redeemedAt + _refundWindow;
        if (block.timestamp > until) revert RedemptionRefundWindowClosed(redemptionId, until, block.timestamp);
        before = (record >> _REFUNDED_SHIFT) & _MASK96;
        uint256 refundable = _sumCredits(parts) - before;
        if (credits == 0 || credits > refundable) revert RedemptionRefundTooLarge(redemptionId, credits, refundable);
        total = before + credits; // <= the redemption's credits < 2**96
        _intents[redemptionId] = (record & ~(_MASK96 << _REFUNDED_SHIFT)) | (total << _REFUNDED_SHIFT);
    }

    /// @dev keccak256(abi.encode(resident, merchant, parts)): what a redemption's record binds (its top 120 bits).
    function _partiesHash(address resident, address merchant, Part[] calldata parts)
        private
        pure
        returns (bytes32 h)
    {
        assembly ("memory-safe") {
            // abi.encode(resident, merchant, parts): two words, the array's offset and length, its static parts
            let p := mload(0x40)
            mstore(p, resident)
            mstore(add(p, 0x20), merchant)
            mstore(add(p, 0x40), 0x60)
            mstore(add(p, 0x60), parts.length)
            let size := mul(parts.length, 0x60)
            calldatacopy(add(p, 0x80), parts.offset, size)
            h := keccak256(p, add(0x80, size))
        }
    }

    function _sumCredits(Part[] calldata parts) private pure returns (uint256 sum) {
        for (uint256 i = 0; i < parts.length; ++i) {
            sum += parts[i].credits;
        }
    }

    /// @dev Take each part of the signed plan: its points burned, its credits paid from their worth and the change,
    /// the rest left as change; the merchant's position recorded. Checks the plan's shape and that it adds up.
    function _take(address resident, address merchant, uint256 credits, Part[] calldata parts, bytes32 redemptionId)
        private
        returns (PartValue[] memory taken)
    {
        uint256 n = parts.length;
        if (n == 0 || n > MAX_PARTS) revert RedemptionInvalidPlan(n);
        taken = new PartValue[](n);
        uint256 sum = 0;
        for (uint256 i = 0; i < n; ++i) {
            Part calldata p = parts[i];
            if (p.credits == 0 || p.credits > credits) revert RedemptionInvalidPlan(i);
            for (uint256 j = 0; j < i; ++j) {
                if (parts[j].scheme == p.scheme) revert RedemptionInvalidPlan(i);
            }
            taken[i] = _takePart(resident, merchant, p, redemptionId);
            sum += p.credits; // each part <= credits < 2**96, at most MAX_PARTS of them
        }
        if (sum != credits) revert RedemptionPlanMismatch(credits, sum);
    }

    /// @dev What a refund moves: the redemption, who is credited, the merchant, and the refunded total before
    /// and after.
    struct RefundStep {
        bytes32 redemptionId;
        address creditedTo;
        address merchant;
        uint256 before;
        uint256 total;
    }

    /// @dev One part of a plan: its points burned and its credits taken from their worth and the change.
    function _takePart(address resident, address merchant, Part calldata p, bytes32 redemptionId)
        private
        returns (PartValue memory taken)
    {
        uint256 rate = rates.rateOf(p.scheme);
        if (rate == 0) revert RedemptionNoRate(p.scheme);
        (uint256 changeBefore, uint256 changeAfter) =
            ledger.spend(p.scheme, resident, p.points, rate, p.credits * CreditMath.RATE_SCALE, redemptionId);
        // the points burned may not be worth a whole point more than the part's credits (whatever change the resident
        // held: a plan made before an earlier redemption left change stays valid); points < 2**96 once burned
        if (p.points > 0 && (p.points - 1) * rate >= p.credits * CreditMath.RATE_SCALE) {
            revert RedemptionPlanTakesTooMuch(p.scheme, p.points, p.credits, rate);
        }
        clearing.recordRedemption(p.scheme, merchant, p.credits);
        return PartValue(p.scheme, p.points, p.points * rate, p.credits, changeBefore, changeAfter);
    }

    /// @dev Give back the parts' shares of the credits refunded between `before` and `total`, last part first, as
    /// value at each scheme's rate now (whole points, the rest as change).
    function _giveBack(RefundStep memory step, Part[] calldata parts) private returns (PartValue[] memory given) {
        given = new PartValue[](parts.length);
        uint256 n;
        uint256 later; // credits of the parts after the current one
        for (uint256 i = parts.length; i > 0; --i) {
            Part calldata p = parts[i - 1];
            uint256 credits = _clamp(step.total, later, p.credits) - _clamp(step.before, later, p.credits);
            later += p.credits;
            // slither-disable-next-line incorrect-equality (a part this refund gives nothing back of is skipped)
            if (credits == 0) continue;
            given[n++] = _givePartBack(step, p.scheme, credits);
        }
        assembly {
            mstore(given, n)
        }
    }

    /// @dev `credits` of one part refunded: their value restored at the scheme's rate now, the position reversed.
    function _givePartBack(RefundStep memory step, uint256 scheme, uint256 credits)
        private
        returns (PartValue memory)
    {
        uint256 rate = rates.rateOf(scheme);
        (uint256 points, uint256 changeBefore, uint256 changeAfter) =
            ledger.restoreValue(scheme, step.creditedTo, credits * CreditMath.RATE_SCALE, rate, step.redemptionId);
        clearing.recordRefund(scheme, step.merchant, credits);
        return PartValue(scheme, points, points * rate, credits, changeBefore, changeAfter);
    }

    function _clamp(uint256 refunded, uint256 later, uint256 cap) private pure returns (uint256) {
        if (refunded <= later) return 0;
        uint256 share = refunded - later;
        return share < cap ? share : cap;
    }
}
