// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ConsortiumGoverned} from "./governance/ConsortiumGoverned.sol";
import {IClearing} from "./interfaces/IClearing.sol";
import {IExchange} from "./interfaces/IExchange.sol";
import {IPointsLedger} from "./interfaces/IPointsLedger.sol";
import {IRates} from "./interfaces/IRates.sol";
import {CreditMath} from "./libraries/CreditMath.sol";
import {ResidentIntents} from "./residents/ResidentIntents.sol";

/// @title Exchange
/// @notice Resident-signed exchanges between schemes at the governed rates. See {IExchange}.
contract Exchange is IExchange, ResidentIntents, ConsortiumGoverned {
    bytes32 public constant EXCHANGE_INTENT_TYPEHASH = keccak256(
        "ExchangeIntent(address resident,uint256 fromScheme,uint256 toScheme,uint256 points,uint256 minReceived,bytes32 nonce,uint256 deadline)"
    );

    IPointsLedger public immutable ledger;
    IRates public immutable rates;
    IClearing public immutable clearing;

    uint256 public constant MAX_BATCH = 200;
    uint256 public constant ITEM_GAS = 1_000_000;
    uint256 private constant _MASK64 = type(uint64).max;
    uint256 private constant _MASK96 = type(uint96).max;
    uint256 private constant _NONCE_BITS = type(uint128).max;
    uint256 private constant _WINDOW = 64;

    mapping(uint256 fromScheme => mapping(uint256 toScheme => bool)) private _pairAllowed;
    uint256 private _dailyLimit;
    /// @dev Per resident, one word written by every exchange: the day number (bits 224-255) and the credits
    /// exchanged that day (128-223); the highest nonce used (64-127) and which of the 64 nonces below it were used
    /// (0-63; bit i: nonce top - 1 - i). A random nonce would be a new word each exchange (22,100 gas).
    mapping(address resident => uint256) private _usage;

    constructor(address consortium_, IPointsLedger ledger_, IRates rates_, IClearing clearing_)
        ConsortiumGoverned(consortium_)
    {
        ledger = ledger_;
        rates = rates_;
        clearing = clearing_;
    }

    /// @inheritdoc IExchange
    function exchange(
        address resident,
        uint256 fromScheme,
        uint256 toScheme,
        uint256 points,
        uint256 minReceived,
        bytes32 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external {
        // the pair, the points and both rates, checked before the signature (as `quote` checks them)
        (uint256 fromRate, uint256 toRate) = _rates(fromScheme, toScheme, points);
        _checkDeadline(deadline);
        _useNonce(resident, nonce);
        _checkSignature(
            resident,
            _hashTypedDataV4(
                keccak256(
                    abi.encode(
                        EXCHANGE_INTENT_TYPEHASH, resident, fromScheme, toScheme, points, minReceived, nonce, deadline
                    )
                )
            ),
            signature
        );
        _settle(resident, fromScheme, toScheme, points, minReceived, nonce, fromRate, toRate);
    }

    /// @inheritdoc IExchange
    function exchangeMany(SignedIntent[] calldata batch) external returns (uint256 exchanged) {
        uint256 n = batch.length;
        if (n == 0 || n > MAX_BATCH) revert ExchangeInvalidBatch(n);
        for (uint256 i = 0; i < n; ++i) {
            SignedIntent calldata x = batch[i];
            try this.exchange{gas: ITEM_GAS}(
                x.resident, x.fromScheme, x.toScheme, x.points, x.minReceived, x.nonce, x.deadline, x.signature
            ) {
                ++exchanged;
            } catch (bytes memory reason) {
                emit ExchangeSkipped(x.resident, x.nonce, reason);
            }
        }
    }

    /// @inheritdoc IExchange
    function setPairAllowed(uint256 fromScheme, uint256 toScheme, bool allowed) external onlyConsortium {
        if (fromScheme == toScheme) revert ExchangePairNotAllowed(fromScheme, toScheme);
        _pairAllowed[fromScheme][toScheme] = allowed;
        emit PairAllowed(fromScheme, toScheme, allowed);
    }

    /// @inheritdoc IExchange
    function setDailyLimit(uint256 limit) external onlyConsortium {
        _dailyLimit = limit;
        emit DailyLimitSet(limit);
    }

    /// @inheritdoc IExchange
    function quote(uint256 fromScheme, uint256 toScheme, uint256 points)
        public
        view
        returns (uint256 received, uint256 credits)
    {
        (uint256 fromRate, uint256 toRate) = _rates(fromScheme, toScheme, points);
        credits = CreditMath.creditsOf(points, fromRate);
        received = CreditMath.pointsBought(credits, toRate);
    }

    /// @inheritdoc IExchange
    function pairAllowed(uint256 fromScheme, uint256 toScheme) external view returns (bool) {
        return _pairAllowed[fromScheme][toScheme];
    }

    /// @inheritdoc IExchange
    function dailyLimit() external view returns (uint256) {
        return _dailyLimit;
    }

    /// @inheritdoc IExchange
    function usedToday(address resident) external view returns (uint256) {
        uint256 usage = _usage[resident];
        return usage >> 224 == ledger.today() ? (usage >> 128) & _MASK96 : 0;
    }

    /// @inheritdoc IExchange
    function nextNonce(address resident) external view returns (uint256) {
        return ((_usage[resident] >> 64) & _MASK64) + 1;
    }

    /// @notice Whether `resident`'s exchange nonce can no longer be used: used, or more than 64 below the highest
    /// used (false for a number that is not a nonce at all: 0, or above 2**64-1; exchange refuses it).
    function nonceUsed(address resident, bytes32 nonce) external view override returns (bool) {
        uint256 n = uint256(nonce);
        uint256 usage = _usage[resident];
        uint256 top = (usage >> 64) & _MASK64;
        if (n == 0 || n > top) return false;
        uint256 below = top - n;
        return below == 0 || below > _WINDOW || (usage >> (below - 1)) & 1 == 1;
    }

    /// @dev The pair allowed, the points positive, and both schemes' rates (each nonzero).
    function _rates(uint256 fromScheme, uint256 toScheme, uint256 points)
        private
        view
        returns (uint256 fromRate, uint256 toRate)
    {
        if (!_pairAllowed[fromScheme][toScheme]) revert ExchangePairNotAllowed(fromScheme, toScheme);
        if (points == 0) revert ExchangeZeroPoints();
        fromRate = rates.rateOf(fromScheme);
        if (fromRate == 0) revert IRates.RatesNoRate(fromScheme);
        toRate = rates.rateOf(toScheme);
        if (toRate == 0) revert IRates.RatesNoRate(toScheme);
    }

    /// @dev The exchange once consented: value moved, minimum and daily limit checked, Clearing told, event.
    function _settle(
        address resident,
        uint256 fromScheme,
        uint256 toScheme,
        uint256 points,
        uint256 minReceived,
        bytes32 nonce,
        uint256 fromRate,
        uint256 toRate
    ) private {
        bytes32 ref = intentIdOf(resident, nonce);
        (uint256 credits, SideValue memory taken, SideValue memory given) =
            _move(resident, fromScheme, toScheme, points, ref, fromRate, toRate);
        if (given.points == 0 || given.points < minReceived) revert ExchangeBelowMinimum(given.points, minReceived);
        uint256 usedAfter = _spendAllowance(resident, credits);
        clearing.recordExchange(fromScheme, toScheme, credits);
        emit Exchanged(resident, fromScheme, toScheme, points, given.points, credits, nonce, usedAfter, taken, given);
    }

    /// @dev Burn `points` of `fromScheme` (with the change there) for whole credit cents, buy `toScheme` with them
    /// (with the change there); each side's rest stays as change.
    function _move(
        address resident,
        uint256 fromScheme,
        uint256 toScheme,
        uint256 points,
        bytes32 ref,
        uint256 fromRate,
        uint256 toRate
    ) private returns (uint256 credits, SideValue memory taken, SideValue memory given) {
        taken.points = points;
        taken.value = points * fromRate; // overflow panics: points above any balance (< 2**96) cannot be burned
        // slither-disable-next-line divide-before-multiply (whole credit cents: the rest below a cent stays as change)
        credits = (taken.value + ledger.changeOf(resident, fromScheme)) / CreditMath.RATE_SCALE;
        if (credits == 0) return (0, taken, given); // nothing bought: the caller refuses it (below the minimum)
        uint256 value = credits * CreditMath.RATE_SCALE;
        (taken.changeBefore, taken.changeAfter) = ledger.spend(fromScheme, resident, points, fromRate, value, ref);
        (given.points, given.changeBefore, given.changeAfter) = ledger.mintValue(toScheme, resident, value, toRate, ref);
        given.value = given.points * toRate;
    }

    /// @dev Spend `resident`'s exchange nonce in its word (written before any other contract is called).
    function _useNonce(address resident, bytes32 nonce) private {
        uint256 n = uint256(nonce);
        if (n == 0 || n > _MASK64) revert ExchangeNonceOutOfRange(resident, nonce);
        uint256 usage = _usage[resident];
        uint256 top = (usage >> 64) & _MASK64;
        uint256 seen = usage & _MASK64;
        if (n > top) {
            uint256 shift = n - top; // the window moves up to n; the old top becomes bit shift - 1
            seen = shift < _WINDOW ? (seen << shift) & _MASK64 : 0;
            if (top != 0 && shift <= _WINDOW) seen |= 1 << (shift - 1);
            top = n;
        } else {
            uint256 below = top - n;
            if (below == 0 || below > _WINDOW || (seen >> (below - 1)) & 1 == 1) {
                revert ResidentNonceUsed(resident, nonce);
            }
            seen |= 1 << (below - 1);
        }
        _usage[resident] = (usage & ~_NONCE_BITS) | (top << 64) | seen;
    }

    function _spendAllowance(address resident, uint256 credits) private returns (uint256 usedAfter) {
        uint256 day = ledger.today();
        uint256 usage = _usage[resident];
        uint256 used = usage >> 224 == day ? (usage >> 128) & _MASK96 : 0;
        usedAfter = used + credits;
        if (usedAfter > _dailyLimit || usedAfter > _MASK96) {
            revert ExchangeDailyLimitExceeded(resident, used, credits, _dailyLimit);
        }
        _usage[resident] = (day << 224) | (usedAfter << 128) | (usage & _NONCE_BITS);
    }
}
