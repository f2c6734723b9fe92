// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Roles
/// @notice The role ids of CityPoints, declared once. Membership (AccessControl) holds the roles; the other
/// contracts ask it with `hasRole(Roles.X, account)` and expose the ids they check as `X_ROLE()` getters.
/// @dev An id is `keccak256("CityPoints.<NAME>")`; off-chain code reads them from those getters
/// (ledger_node/domain.py).
library Roles {
    /// @notice A merchant: may redeem (Membership.registerMerchant grants it).
    bytes32 internal constant MERCHANT = keccak256("CityPoints.MERCHANT");
    /// @notice An auditor: may attest replay reports (AuditAttestations).
    bytes32 internal constant AUDITOR = keccak256("CityPoints.AUDITOR");
    /// @notice An onboarding authority: registers residents and requests recoveries.
    bytes32 internal constant ONBOARDING = keccak256("CityPoints.ONBOARDING");
    /// @notice A relayer: submits residents' signed intents on behalf of merchants (Redemption).
    bytes32 internal constant RELAYER = keccak256("CityPoints.RELAYER");
    /// @notice An operator: runs settlement steps of Clearing.
    bytes32 internal constant OPERATOR = keccak256("CityPoints.OPERATOR");
    /// @notice A ledger operator (Exchange, Redemption): mints, burns, restores points and records
    /// clearing moves.
    bytes32 internal constant LEDGER_OPERATOR = keccak256("CityPoints.LEDGER_OPERATOR");
}
