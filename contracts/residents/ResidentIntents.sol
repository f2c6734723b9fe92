// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

/// @title ResidentIntents
/// @notice Base for contracts that act on what a resident signed (EIP-712, domain "CityPoints" / "1" /
/// chain id / this contract), so the resident never sends a transaction nor holds gas money.
/// @dev Signatures are checked with OpenZeppelin's SignatureChecker: EOAs (ECDSA) and contract wallets
/// (EIP-1271). Nonces are random 32-byte values, each usable once per resident, so a resident may hold
/// several open consents at once. `eip712Domain()` (EIP-5267) comes from OpenZeppelin's EIP712.
abstract contract ResidentIntents is EIP712 {
    /// @notice The nonce was used (or cancelled) before.
    error ResidentNonceUsed(address resident, bytes32 nonce);
    /// @notice The signed deadline has passed.
    error ResidentSignatureExpired(uint256 deadline, uint256 nowTimestamp);
    /// @notice The signature is not `resident`'s.
    error ResidentSignatureInvalid(address resident);

    /// @notice `resident`'s `nonce` is spent.
    event NonceUsed(address indexed resident, bytes32 indexed nonce);

    mapping(address resident => mapping(bytes32 nonce => bool)) private _usedNonces;

    constructor() EIP712("CityPoints", "1") {}

    /// @notice Whether `resident`'s `nonce` was used.
    function nonceUsed(address resident, bytes32 nonce) external view returns (bool) {
        return _usedNonces[resident][nonce];
    }

    /// @notice The EIP-712 domain separator of this contract.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @dev Check deadline, nonce and signature of the struct hash, then spend the nonce.
    function _consume(address resident, bytes32 structHash, bytes32 nonce, uint256 deadline, bytes calldata signature)
        internal
    {
        if (block.timestamp > deadline) revert ResidentSignatureExpired(deadline, block.timestamp);
        if (_usedNonces[resident][nonce]) revert ResidentNonceUsed(resident, nonce);
        if (!SignatureChecker.isValidSignatureNow(resident, _hashTypedDataV4(structHash), signature)) {
            revert ResidentSignatureInvalid(resident);
        }
        _usedNonces[resident][nonce] = true;
        emit NonceUsed(resident, nonce);
    }
}
