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

    mapping(uint256 fromScheme => mapping(uint256 toScheme => bool)) private _pairAllowed;
    uint256 private _dailyLimit;
    /// @dev Per resident: day number in the high 128 bits, credits exchanged that day in the low 128.
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
        (uint256 received, uint256 credits) = quote(fromScheme, toScheme, points);
        _consume(
            resident,
            keccak256(
                abi.encode(
                    EXCHANGE_INTENT_TYPEHASH, resident, fromScheme, toScheme, points, minReceived, nonce, deadline
                )
            ),
            nonce,
            deadline,
            signature
        );
        if (received == 0 || received < minReceived) revert ExchangeBelowMinimum(received, minReceived);
        uint256 usedAfter = _spendAllowance(resident, credits);
        bytes32 ref = keccak256(abi.encode(resident, nonce));
        ledger.burnFrom(fromScheme, resident, points, ref);
        ledger.mintTo(toScheme, resident, received, ref);
        clearing.recordExchange(fromScheme, toScheme, credits);
        emit Exchanged(resident, fromScheme, toScheme, points, received, credits, nonce, usedAfter);
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
        if (!_pairAllowed[fromScheme][toScheme]) revert ExchangePairNotAllowed(fromScheme, toScheme);
        if (points == 0) revert ExchangeZeroPoints();
        credits = rates.creditsFor(fromScheme, points);
        uint256 toRate = rates.rateOf(toScheme);
        if (toRate == 0) revert IRates.RatesNoRate(toScheme);
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
        return usage >> 128 == ledger.today() ? uint128(usage) : 0;
    }

    function _spendAllowance(address resident, uint256 credits) private returns (uint256 usedAfter) {
        uint256 day = ledger.today();
        uint256 usage = _usage[resident];
        uint256 used = usage >> 128 == day ? uint128(usage) : 0;
        usedAfter = used + credits;
        if (usedAfter > _dailyLimit) revert ExchangeDailyLimitExceeded(resident, used, credits, _dailyLimit);
        _usage[resident] = (day << 128) | usedAfter;
    }
}
