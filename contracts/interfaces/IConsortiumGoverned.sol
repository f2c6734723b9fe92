// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IConsortiumGoverned
/// @notice A contract whose rules change only by calls from the Consortium contract, that is, only
/// by a proposal the consortium members approved (M of N) and executed.
interface IConsortiumGoverned {
    /// @notice A rule-changing function was called by an account other than the Consortium.
    /// @param caller The account that called.
    error ConsortiumGovernedUnauthorized(address caller);

    /// @notice The governing Consortium contract; fixed at deployment.
    function consortium() external view returns (address);
}
