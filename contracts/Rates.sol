// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ConsortiumGoverned} from "./governance/ConsortiumGoverned.sol";
import {IRates} from "./interfaces/IRates.sol";
import {ISchemeRegistry} from "./interfaces/ISchemeRegistry.sol";
import {CreditMath} from "./libraries/CreditMath.sol";

/// @title Rates
/// @notice Governed rates of every scheme to the credit. See {IRates}.
contract Rates is IRates, ConsortiumGoverned {
    uint256 public constant RATE_SCALE = CreditMath.RATE_SCALE;
    uint256 public constant CREDIT_DECIMALS = CreditMath.CREDIT_DECIMALS;
    /// @dev 1e6 credits per point: far above any sane program, low enough that no product overflows.
    uint256 public constant MAX_RATE = CreditMath.MAX_RATE;

    mapping(uint256 scheme => uint256) private _rates;
    ISchemeRegistry private _registry;

    constructor(address consortium_) ConsortiumGoverned(consortium_) {}

    /// @inheritdoc IRates
    function setRate(uint256 scheme, uint256 rate) external onlyConsortium {
        _set(scheme, rate);
    }

    /// @inheritdoc IRates
    function setInitialRate(uint256 scheme, uint256 rate) external onlyConsortium {
        if (_rates[scheme] != 0) revert RatesAlreadySet(scheme, _rates[scheme]);
        _set(scheme, rate);
    }

    /// @inheritdoc IRates
    function setSchemeRegistry(address registry) external onlyConsortium {
        _registry = ISchemeRegistry(registry);
        emit SchemeRegistrySet(registry);
    }

    /// @inheritdoc IRates
    function schemeRegistry() external view returns (address) {
        return address(_registry);
    }

    /// @inheritdoc IRates
    function rateOf(uint256 scheme) external view returns (uint256) {
        return _rates[scheme];
    }

    /// @inheritdoc IRates
    function creditsFor(uint256 scheme, uint256 points) external view returns (uint256) {
        return CreditMath.creditsOf(points, _rateOrRevert(scheme));
    }

    /// @inheritdoc IRates
    function pointsFor(uint256 scheme, uint256 credits) external view returns (uint256) {
        return CreditMath.pointsToPay(credits, _rateOrRevert(scheme));
    }

    function _set(uint256 scheme, uint256 rate) private {
        if (rate == 0 || rate > MAX_RATE) revert RatesInvalidRate(scheme, rate);
        if (address(_registry) != address(0) && _registry.isEligibilityOnly(scheme)) {
            revert RatesEligibilityOnly(scheme);
        }
        uint256 previous = _rates[scheme];
        _rates[scheme] = rate;
        emit RateSet(scheme, rate, previous);
    }

    function _rateOrRevert(uint256 scheme) private view returns (uint256 rate) {
        rate = _rates[scheme];
        if (rate == 0) revert RatesNoRate(scheme);
    }
}
