// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";

/// @title PlainERC1155Issuer
/// @notice Benchmark baseline only, never deployed by `citypoints deploy`: what issuance costs with a plain
/// OpenZeppelin ERC-1155 and a ref dedup map, without CityPoints' packed storage, quotas or caps.
contract PlainERC1155Issuer is ERC1155 {
    /// @notice A ref was used before.
    error PlainERC1155IssuerRefUsed(bytes32 ref);

    mapping(bytes32 ref => bool) public refUsed;

    constructor() ERC1155("") {}

    /// @notice Mint `amounts[i]` of `id` to `residents[i]`, each ref once.
    /// @dev Emits: {TransferSingle} per item.
    function issueBatch(uint256 id, address[] calldata residents, uint256[] calldata amounts, bytes32[] calldata refs)
        external
    {
        for (uint256 i = 0; i < residents.length; ++i) {
            if (refUsed[refs[i]]) revert PlainERC1155IssuerRefUsed(refs[i]);
            refUsed[refs[i]] = true;
            _mint(residents[i], id, amounts[i], "");
        }
    }
}
