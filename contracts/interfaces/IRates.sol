// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IRates
/// @notice Each scheme's governed rate to the city-wide credit.
///
/// Units: credits are integers in hundredths of a credit ("credit cents", CREDIT_DECIMALS = 2).
/// A rate is the value of one point in credit cents, scaled by RATE_SCALE = 1e6:
/// `value(points) = points * rate / RATE_SCALE`. Rounding is explicit and never creates value:
/// it always rounds against the party that asks (see {creditsFor} and {pointsFor}).
///
/// Rates change only through the Consortium (`setRate` is onlyConsortium); the Consortium's call
/// policy gives `setRate` a notice delay, so a rate change takes effect only after it. A scheme's first
/// rate (`setInitialRate`) changes no one's holdings, so it needs no notice.
/// A scheme with rate zero has no value: it cannot be exchanged or redeemed.
interface IRates {
    /// @notice The scheme already has a rate: change it with {setRate}, which has the notice delay.
    error RatesAlreadySet(uint256 scheme, uint256 rate);
    /// @notice The rate is zero or above the maximum.
    error RatesInvalidRate(uint256 scheme, uint256 rate);
    /// @notice The scheme has no rate, so it has no value in credits.
    error RatesNoRate(uint256 scheme);
    /// @notice The scheme registry describes the scheme as eligibility-only: its points have no value in credits.
    error RatesEligibilityOnly(uint256 scheme);

    /// @notice The rate of `scheme` is now `rate` (credit cents per point, scaled by 1e6); `previous` was in force before.
    event RateSet(uint256 indexed scheme, uint256 rate, uint256 previous);
    /// @notice Rates asks `registry` (ISchemeRegistry) whether a scheme may have a rate at all.
    event SchemeRegistrySet(address registry);

    /// @notice Point Rates at the scheme registry, which it asks before giving a scheme a rate.
    /// @dev Requirements: called by the Consortium. Emits: {SchemeRegistrySet}.
    function setSchemeRegistry(address registry) external;

    /// @notice The scheme registry Rates asks (address zero: none, every scheme may have a rate).
    function schemeRegistry() external view returns (address);

    /// @notice Change the rate of `scheme`.
    /// @dev Requirements: called by the Consortium (after its notice delay for this call); 0 < rate <= MAX_RATE; the
    /// scheme registry does not describe the scheme as eligibility-only. Emits: {RateSet}.
    function setRate(uint256 scheme, uint256 rate) external;

    /// @notice Give a scheme that has no rate yet its first rate. No one holds value in it yet, so the
    /// Consortium gives this call no notice delay.
    /// @dev Requirements: called by the Consortium; the scheme has no rate; 0 < rate <= MAX_RATE; the scheme
    /// registry does not describe the scheme as eligibility-only. Emits: {RateSet}.
    function setInitialRate(uint256 scheme, uint256 rate) external;

    /// @notice The rate in force for `scheme` (0 when none).
    function rateOf(uint256 scheme) external view returns (uint256);

    /// @notice Credit cents that `points` of `scheme` are worth, rounded down (the holder asks).
    /// @dev Reverts {RatesNoRate} when the scheme has no rate.
    function creditsFor(uint256 scheme, uint256 points) external view returns (uint256);

    /// @notice Points of `scheme` that cover `credits`, rounded up (the holder asks to pay credits).
    /// @dev Reverts {RatesNoRate} when the scheme has no rate.
    function pointsFor(uint256 scheme, uint256 credits) external view returns (uint256);
}
