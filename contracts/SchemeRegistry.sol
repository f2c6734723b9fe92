// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {ConsortiumGoverned} from "./governance/ConsortiumGoverned.sol";
import {IPointsLedger} from "./interfaces/IPointsLedger.sol";
import {IRates} from "./interfaces/IRates.sol";
import {ISchemeRegistry} from "./interfaces/ISchemeRegistry.sol";

/// @title SchemeRegistry
/// @notice Each programme's published description, earning-rules versions and eligibility proofs. See
/// {ISchemeRegistry}.
contract SchemeRegistry is ISchemeRegistry, EIP712, ConsortiumGoverned {
    /// @notice EIP-712 type hash of a resident's eligibility proof.
    bytes32 public constant ELIGIBILITY_PROOF_TYPEHASH = keccak256(
        "EligibilityProof(address resident,uint256 scheme,uint256 minPoints,address service,bytes32 nonce,uint256 deadline)"
    );
    uint256 private constant MAX_TEXT = 64;
    uint256 private constant MAX_URI = 256;

    IPointsLedger public immutable ledger;
    IRates public immutable rates;

    mapping(uint256 scheme => SchemeProfile) private _profiles;
    mapping(uint256 scheme => RulesVersion[]) private _rules;
    mapping(address resident => mapping(bytes32 nonce => bool)) private _proofNonces;

    constructor(address consortium_, address ledger_, address rates_)
        EIP712("CityPoints", "1")
        ConsortiumGoverned(consortium_)
    {
        ledger = IPointsLedger(ledger_);
        rates = IRates(rates_);
    }

    /// @inheritdoc ISchemeRegistry
    function describeScheme(uint256 scheme, SchemeProfile calldata profile) external onlyConsortium {
        if (ledger.schemeInfo(scheme).status == IPointsLedger.SchemeStatus.None) {
            revert SchemeRegistryUnknownScheme(scheme);
        }
        if (
            !_text(profile.nameZh) || !_text(profile.nameEn) || !_text(profile.unitZh) || !_text(profile.unitEn)
                || !_text(profile.organisation) || profile.kind == SchemeKind.None
        ) revert SchemeRegistryInvalidProfile(scheme);
        if (profile.kind == SchemeKind.EligibilityOnly) {
            uint256 rate = rates.rateOf(scheme);
            if (rate != 0) revert SchemeRegistryHasRate(scheme, rate);
        }
        _profiles[scheme] = profile;
        emit SchemeDescribed(scheme, profile);
    }

    /// @inheritdoc ISchemeRegistry
    function publishRules(uint256 scheme, bytes32 rulesHash, string calldata uri)
        external
        onlyConsortium
        returns (uint32 version)
    {
        if (_profiles[scheme].kind == SchemeKind.None) revert SchemeRegistryUnknownScheme(scheme);
        if (rulesHash == bytes32(0) || bytes(uri).length == 0 || bytes(uri).length > MAX_URI) {
            revert SchemeRegistryInvalidRules(scheme);
        }
        _rules[scheme].push(RulesVersion({rulesHash: rulesHash, uri: uri, publishedAt: uint64(block.timestamp)}));
        version = uint32(_rules[scheme].length);
        emit RulesPublished(scheme, version, rulesHash, uri);
    }

    /// @inheritdoc ISchemeRegistry
    function proveEligibility(EligibilityProof calldata proof, bytes calldata signature) external {
        _check(proof, signature);
        _proofNonces[proof.resident][proof.nonce] = true;
        emit EligibilityProven(proof.resident, proof.scheme, proof.service, proof.minPoints, proof.nonce);
    }

    /// @inheritdoc ISchemeRegistry
    function checkEligibility(EligibilityProof calldata proof, bytes calldata signature) external view returns (bool) {
        _check(proof, signature);
        return true;
    }

    /// @inheritdoc ISchemeRegistry
    function profileOf(uint256 scheme) external view returns (SchemeProfile memory) {
        return _profiles[scheme];
    }

    /// @inheritdoc ISchemeRegistry
    function isEligibilityOnly(uint256 scheme) external view returns (bool) {
        return _profiles[scheme].kind == SchemeKind.EligibilityOnly;
    }

    /// @inheritdoc ISchemeRegistry
    function rulesVersion(uint256 scheme) external view returns (uint32) {
        return uint32(_rules[scheme].length);
    }

    /// @inheritdoc ISchemeRegistry
    function rules(uint256 scheme, uint32 version) external view returns (RulesVersion memory) {
        if (version == 0 || version > _rules[scheme].length) revert SchemeRegistryInvalidRules(scheme);
        return _rules[scheme][version - 1];
    }

    /// @inheritdoc ISchemeRegistry
    function rulesHash(uint256 scheme, uint32 version) external view returns (bytes32) {
        RulesVersion[] storage versions = _rules[scheme];
        if (version == 0 || version > versions.length) return bytes32(0);
        return versions[version - 1].rulesHash;
    }

    /// @inheritdoc ISchemeRegistry
    function proofNonceUsed(address resident, bytes32 nonce) external view returns (bool) {
        return _proofNonces[resident][nonce];
    }

    /// @inheritdoc ISchemeRegistry
    function eligibilityDigest(EligibilityProof calldata proof) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    ELIGIBILITY_PROOF_TYPEHASH,
                    proof.resident,
                    proof.scheme,
                    proof.minPoints,
                    proof.service,
                    proof.nonce,
                    proof.deadline
                )
            )
        );
    }

    function _check(EligibilityProof calldata proof, bytes calldata signature) private view {
        if (block.timestamp > proof.deadline) revert SchemeRegistryProofExpired(proof.deadline, block.timestamp);
        if (proof.minPoints == 0) revert SchemeRegistryZeroThreshold();
        if (_proofNonces[proof.resident][proof.nonce]) revert SchemeRegistryProofUsed(proof.resident, proof.nonce);
        if (!SignatureChecker.isValidSignatureNow(proof.resident, eligibilityDigest(proof), signature)) {
            revert SchemeRegistryInvalidSignature(proof.resident);
        }
        if (ledger.balanceOf(proof.resident, proof.scheme) < proof.minPoints) {
            revert SchemeRegistryNotEligible(proof.resident, proof.scheme, proof.minPoints);
        }
    }

    function _text(string calldata s) private pure returns (bool) {
        uint256 n = bytes(s).length;
        return n > 0 && n <= MAX_TEXT;
    }
}
