// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title CreditMath
/// @notice The one rule for turning points into credits and back at a scheme's rate, shared by Rates,
/// Redemption and Exchange so that a quote, a redemption and an exchange can never round differently.
/// @dev A rate is credit cents per point, scaled by RATE_SCALE: `credits = points * rate / RATE_SCALE`.
/// Rounding never creates value: it always goes against the party that asks (see {IRates}).
/// Plain checked arithmetic is exact here: balances fit in 96 bits and a rate is at most MAX_RATE (< 2**47),
/// so no product of a balance or a credit amount and a rate comes near 2**256; a larger argument reverts
/// with an overflow panic rather than returning a wrong value.
library CreditMath {
    /// @notice Fixed-point scale of a rate.
    uint256 internal constant RATE_SCALE = 1e6;
    /// @notice Decimals of a credit amount: amounts are credit cents.
    uint256 internal constant CREDIT_DECIMALS = 2;
    /// @notice Highest rate governance may set: 1e6 credits per point, far above any sane program, low
    /// enough that no product of a balance and a rate overflows.
    uint256 internal constant MAX_RATE = 1e8 * RATE_SCALE;

    /// @notice Credits that `points` are worth at `rate`, rounded down: against the resident who spends
    /// or sells them.
    /// @param points Points of one scheme.
    /// @param rate The scheme's rate (credit cents per point, times RATE_SCALE).
    /// @return credits `floor(points * rate / RATE_SCALE)`.
    function creditsOf(uint256 points, uint256 rate) internal pure returns (uint256 credits) {
        return points * rate / RATE_SCALE;
    }

    /// @notice Points it takes to pay `credits` at `rate`, rounded up: against the resident who pays.
    /// @param credits Credit cents to pay.
    /// @param rate The scheme's rate; must not be zero (division by zero panics).
    /// @return points `ceil(credits * RATE_SCALE / rate)`.
    function pointsToPay(uint256 credits, uint256 rate) internal pure returns (uint256 points) {
        uint256 scaled = credits * RATE_SCALE;
        points = scaled / rate;
        // a remainder means rate > 1, so the quotient is below 2**255: adding one cannot overflow
        unchecked {
            if (scaled % rate != 0) ++points;
        }
    }

    /// @notice Points that `credits` buy at `rate`, rounded down: against the resident who receives them.
    /// @param credits Credit cents to spend.
    /// @param rate The scheme's rate; must not be zero (division by zero panics).
    /// @return points `floor(credits * RATE_SCALE / rate)`.
    function pointsBought(uint256 credits, uint256 rate) internal pure returns (uint256 points) {
        return credits * RATE_SCALE / rate;
    }
}
