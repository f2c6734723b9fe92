// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IConsortiumGoverned} from "../interfaces/IConsortiumGoverned.sol";

/// @title ConsortiumGoverned
/// @notice Base for contracts whose rule changes are accepted only from the Consortium contract.
/// @dev The consortium address is immutable: moving governance means deploying new contracts, on purpose.
abstract contract ConsortiumGoverned is IConsortiumGoverned {
    address private immutable _consortium;

    constructor(address consortium_) {
        _consortium = consortium_;
    }

    modifier onlyConsortium() {
        _checkConsortium();
        _;
    }

    /// @inheritdoc IConsortiumGoverned
    function consortium() public view returns (address) {
        return _consortium;
    }

    function _checkConsortium() internal view {
        if (msg.sender != _consortium) revert ConsortiumGovernedUnauthorized(msg.sender);
    }
}
