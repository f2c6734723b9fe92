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
        "RedemptionConsent(address resident,address merchant,uint256 credits,bytes32 orderRef,bytes32 nonce,uint256 deadline)"
    );
    bytes32 public constant PREFERRED_ORDER_TYPEHASH =
        keccak256("PreferredOrder(address resident,uint256[] schemes,bytes32 nonce,uint256 deadline)");
    bytes32 public constant RELAYER_ROLE = Roles.RELAYER;

    IPointsLedger public immutable ledger;
    IRates public immutable rates;
    IClearing public immutable clearing;
    IMembership public immutable membership;

    uint64 private _refundWindow;
    mapping(address resident => uint256[]) private _preferred;
    mapping(bytes32 redemptionId => Record) private _records;

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
    function redeem(
        address resident,
        address merchant,
        uint256 credits,
        bytes32 orderRef,
        bytes32 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external returns (bytes32 redemptionId) {
        if (credits == 0) revert RedemptionZeroCredits();
        if (credits > type(uint96).max) revert RedemptionTooLarge(credits);
        _checkSubmitter(merchant);
        if (!membership.isMerchantActive(merchant)) revert RedemptionMerchantNotActive(merchant);
        _consume(
            resident,
            keccak256(abi.encode(REDEMPTION_CONSENT_TYPEHASH, resident, merchant, credits, orderRef, nonce, deadline)),
            nonce,
            deadline,
            signature
        );
        Part[] memory parts = _planOrRevert(resident, credits);
        redemptionId = redemptionIdOf(resident, nonce);
        for (uint256 i = 0; i < parts.length; ++i) {
            ledger.burnFrom(parts[i].scheme, resident, parts[i].points, redemptionId);
            clearing.recordRedemption(parts[i].scheme, merchant, parts[i].credits);
        }
        _records[redemptionId] = Record({
            partiesHash: keccak256(abi.encode(resident, merchant, parts)),
            credits: uint96(credits),
            refunded: 0,
            redeemedAt: uint64(block.timestamp)
        });
        emit Redeemed(redemptionId, resident, merchant, orderRef, nonce, credits, parts);
    }

    /// @inheritdoc IRedemption
    function refund(bytes32 redemptionId, address resident, address merchant, Part[] calldata parts, uint256 credits)
        external
    {
        Record storage record = _records[redemptionId];
        if (record.redeemedAt == 0) revert RedemptionUnknown(redemptionId);
        _checkSubmitter(merchant);
        if (keccak256(abi.encode(resident, merchant, parts)) != record.partiesHash) {
            revert RedemptionPartsMismatch(redemptionId);
        }
        uint256 until = uint256(record.redeemedAt) + _refundWindow;
        if (block.timestamp > until) revert RedemptionRefundWindowClosed(redemptionId, until, block.timestamp);
        uint256 before = record.refunded;
        uint256 refundable = record.credits - before;
        if (credits == 0 || credits > refundable) revert RedemptionRefundTooLarge(redemptionId, credits, refundable);
        uint256 total = before + credits;
        record.refunded = uint96(total);
        // After a recovery the points go to the key that holds the resident's registration now, never the old one.
        address creditedTo = membership.currentAccountOf(resident);
        Part[] memory given = _giveBack(RefundStep(redemptionId, creditedTo, merchant, before, total), parts);
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
        _consume(
            resident,
            keccak256(
                abi.encode(PREFERRED_ORDER_TYPEHASH, resident, keccak256(abi.encodePacked(schemes)), nonce, deadline)
            ),
            nonce,
            deadline,
            signature
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
    function previewParts(address resident, uint256 credits) external view returns (Part[] memory) {
        return _planOrRevert(resident, credits);
    }

    /// @inheritdoc IRedemption
    function availableCredits(address resident) public view returns (uint256 total) {
        uint256[] memory order = _order(resident);
        for (uint256 i = 0; i < order.length; ++i) {
            (uint256 rate, uint256 balance) = _spendable(order[i], resident);
            if (rate != 0) total += CreditMath.creditsOf(balance, rate);
        }
    }

    /// @inheritdoc IRedemption
    function preferredOrder(address resident) external view returns (uint256[] memory) {
        return _preferred[resident];
    }

    /// @inheritdoc IRedemption
    function redemption(bytes32 redemptionId) external view returns (Record memory) {
        return _records[redemptionId];
    }

    /// @inheritdoc IRedemption
    function redemptionIdOf(address resident, bytes32 nonce) public pure returns (bytes32) {
        return keccak256(abi.encode(resident, nonce));
    }

    /// @inheritdoc IRedemption
    function refundWindow() external view returns (uint64) {
        return _refundWindow;
    }

    // ----------------------------------------------------------------------------------------------
    // Internals
    // ----------------------------------------------------------------------------------------------

    function _checkSubmitter(address merchant) private view {
        if (msg.sender != merchant && !IAccessControl(address(membership)).hasRole(RELAYER_ROLE, msg.sender)) {
            revert RedemptionNotSubmitter(msg.sender, merchant);
        }
    }

    /// @dev The burn plan for `credits`, in the documented order; reverts when the points are worth less.
    function _planOrRevert(address resident, uint256 credits) private view returns (Part[] memory parts) {
        uint256[] memory order = _order(resident);
        parts = new Part[](order.length);
        uint256 n;
        uint256 remaining = credits;
        for (uint256 i = 0; i < order.length && remaining > 0; ++i) {
            (uint256 rate, uint256 balance) = _spendable(order[i], resident);
            if (rate == 0 || balance == 0) continue;
            uint256 need = CreditMath.pointsToPay(remaining, rate);
            if (balance >= need) {
                parts[n++] = Part(order[i], need, remaining);
                remaining = 0;
            } else {
                uint256 value = CreditMath.creditsOf(balance, rate);
                if (value == 0) continue;
                parts[n++] = Part(order[i], balance, value);
                remaining -= value;
            }
        }
        if (remaining > 0) revert RedemptionInsufficientCredits(resident, credits, availableCredits(resident));
        assembly {
            mstore(parts, n)
        }
    }

    /// @dev The resident's preferred schemes, then every other scheme in the ledger's order.
    function _order(address resident) private view returns (uint256[] memory order) {
        uint256[] storage preferred = _preferred[resident];
        uint256[] memory all = ledger.schemeIds();
        order = new uint256[](preferred.length + all.length);
        uint256 n;
        for (uint256 i = 0; i < preferred.length; ++i) {
            order[n++] = preferred[i];
        }
        for (uint256 i = 0; i < all.length; ++i) {
            bool seen;
            for (uint256 j = 0; j < preferred.length && !seen; ++j) {
                seen = preferred[j] == all[i];
            }
            if (!seen) order[n++] = all[i];
        }
        assembly {
            mstore(order, n)
        }
    }

    /// @dev (rate, balance) of a scheme the resident can spend now; rate 0 when it cannot be spent.
    function _spendable(uint256 scheme, address resident) private view returns (uint256 rate, uint256 balance) {
        IPointsLedger.SchemeStatus status = ledger.schemeInfo(scheme).status;
        if (status != IPointsLedger.SchemeStatus.Active && status != IPointsLedger.SchemeStatus.Retired) {
            return (0, 0);
        }
        rate = rates.rateOf(scheme);
        if (rate != 0) balance = ledger.balanceOf(resident, scheme);
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

    /// @dev Give back the parts' shares of the credits refunded between `before` and `total`, last part first.
    function _giveBack(RefundStep memory step, Part[] calldata parts) private returns (Part[] memory given) {
        given = new Part[](parts.length);
        uint256 n;
        uint256 later; // credits of the parts after the current one
        for (uint256 i = parts.length; i > 0; --i) {
            (uint256 points, uint256 credits) = _share(parts[i - 1], step.before, step.total, later);
            later += parts[i - 1].credits;
            if (credits == 0) continue;
            uint256 scheme = parts[i - 1].scheme;
            if (points > 0) ledger.restoreTo(scheme, step.creditedTo, points, step.redemptionId);
            clearing.recordRefund(scheme, step.merchant, credits);
            given[n++] = Part(scheme, points, credits);
        }
        assembly {
            mstore(given, n)
        }
    }

    /// @dev Points and credits of part `p` refunded when the total refunded goes from `before` to `total`.
    function _share(Part calldata p, uint256 before, uint256 total, uint256 later)
        private
        pure
        returns (uint256 points, uint256 credits)
    {
        uint256 oldShare = _clamp(before, later, p.credits);
        uint256 newShare = _clamp(total, later, p.credits);
        credits = newShare - oldShare;
        points = p.points * newShare / p.credits - p.points * oldShare / p.credits;
    }

    function _clamp(uint256 refunded, uint256 later, uint256 cap) private pure returns (uint256) {
        if (refunded <= later) return 0;
        uint256 share = refunded - later;
        return share < cap ? share : cap;
    }
}
