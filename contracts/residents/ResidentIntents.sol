// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

/// @title ResidentIntents
/// @notice Base for contracts that act on what a resident signed (EIP-712, domain "CityPoints" / "1" /
/// chain id / this contract), so the resident never sends a transaction nor holds gas money.
/// @dev Nonces are random 32-byte values, each usable once per resident, so a resident may hold several open
/// consents at once (Exchange keeps numbered ones of its own: IExchange). A used nonce is one storage word keyed by
/// its intent id `keccak256(abi.encode(resident, nonce))`, nonzero once used; the contract chooses what the word
/// holds (Redemption: the redemption's record, so the record and the spent nonce are one slot; others: 1). The intent's own event (Redeemed, Exchanged,
/// PreferredOrderSet) names the resident and the nonce: no separate event is emitted for the nonce.
/// Signatures: ECDSA first, which answers for every EOA without reading the signer's code; a signature that does not
/// recover to the resident is asked of the resident's contract wallet (EIP-1271), if it has code. (An EIP-7702
/// account's own key signs for it like any EOA's.) `eip712Domain()` (EIP-5267) comes from OpenZeppelin's EIP712.
abstract contract ResidentIntents is EIP712 {
    /// @notice The nonce was used (or cancelled) before.
    error ResidentNonceUsed(address resident, bytes32 nonce);
    /// @notice The signed deadline has passed.
    error ResidentSignatureExpired(uint256 deadline, uint256 nowTimestamp);
    /// @notice The signature is not `resident`'s.
    error ResidentSignatureInvalid(address resident);

    /// @dev intent id => nonzero once its nonce is spent (what the word holds is the contract's).
    mapping(bytes32 intentId => uint256) internal _intents;

    constructor() EIP712("CityPoints", "1") {}

    /// @notice Whether `resident`'s `nonce` was used.
    function nonceUsed(address resident, bytes32 nonce) external view virtual returns (bool) {
        return _intents[intentIdOf(resident, nonce)] != 0;
    }

    /// @notice The EIP-712 domain separator of this contract.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @notice The id of `resident`'s intent with `nonce`: keccak256(abi.encode(resident, nonce)).
    function intentIdOf(address resident, bytes32 nonce) public pure returns (bytes32 id) {
        assembly ("memory-safe") {
            mstore(0x00, resident)
            mstore(0x20, nonce)
            id := keccak256(0x00, 0x40)
        }
    }

    /// @dev Check deadline, nonce and signature of the struct hash, then spend the nonce by writing `word` (nonzero)
    /// as its intent's word. Returns the intent id.
    function _useIntent(
        address resident,
        bytes32 structHash,
        bytes32 nonce,
        uint256 deadline,
        bytes calldata signature,
        uint256 word
    ) internal returns (bytes32 id) {
        _checkDeadline(deadline);
        id = intentIdOf(resident, nonce);
        if (_intents[id] != 0) revert ResidentNonceUsed(resident, nonce);
        _checkSignature(resident, _hashTypedDataV4(structHash), signature);
        _intents[id] = word;
    }

    function _checkDeadline(uint256 deadline) internal view {
        if (block.timestamp > deadline) revert ResidentSignatureExpired(deadline, block.timestamp);
    }

    /// @dev The signature of `digest` is `resident`'s, else ResidentSignatureInvalid.
    function _checkSignature(address resident, bytes32 digest, bytes calldata signature) internal view {
        // slither-disable-next-line unused-return (the error's argument: the error itself is checked)
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (err == ECDSA.RecoverError.NoError && recovered == resident) return;
        if (resident.code.length == 0
            || !SignatureChecker.isValidERC1271SignatureNowCalldata(resident, digest, signature)) {
            revert ResidentSignatureInvalid(resident);
        }
    }
}
