// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title ISchemeRegistry
/// @notice What each points programme (scheme) is, as the consortium published it: its names in 中文 and English, its
/// unit, its issuing organisation, its colour key, its kind, and the versions of its published earning rules (the
/// hash and address of each rules document). The API, the wallet, the console, the auditor and the SDK read
/// programmes from here, so a new programme joins as data, through governance.
///
/// Kinds: a Valued scheme's points are worth credits at the scheme's rate (Rates) and may be redeemed at merchants
/// and exchanged along the pairs Exchange allows. An EligibilityOnly scheme's points only count toward services
/// (for example residence-permit points toward school enrolment): they have no rate (Rates refuses one, and this
/// registry refuses the kind for a scheme that has one), so Redemption and Exchange refuse them. A resident proves
/// "I hold at least N points of scheme S" to a service with a signed, short-lived {EligibilityProof}; the proof is
/// used once, on chain ({proveEligibility}), and the use is an event: who asked, for which threshold, when.
interface ISchemeRegistry {
    enum SchemeKind {
        None,
        Valued,
        EligibilityOnly
    }

    struct SchemeProfile {
        string nameZh;
        string nameEn;
        string unitZh;
        string unitEn;
        string organisation; // the issuing organisation's name
        bytes3 colour; // RGB colour key the pages draw the scheme with
        SchemeKind kind;
    }

    struct RulesVersion {
        bytes32 rulesHash; // sha256 of the rules document (the earning rules table)
        string uri; // where the document is published
        uint64 publishedAt;
    }

    /// @notice Signed by the resident for one service: "I hold at least `minPoints` of `scheme`", usable once (per
    /// `nonce`) until `deadline`.
    struct EligibilityProof {
        address resident;
        uint256 scheme;
        uint256 minPoints;
        address service;
        bytes32 nonce;
        uint256 deadline;
    }

    /// @notice The scheme does not exist on the ledger.
    error SchemeRegistryUnknownScheme(uint256 scheme);
    /// @notice A name, unit or organisation is empty or longer than the limit, or the kind is None.
    error SchemeRegistryInvalidProfile(uint256 scheme);
    /// @notice The scheme has a rate, so it cannot be eligibility-only.
    error SchemeRegistryHasRate(uint256 scheme, uint256 rate);
    /// @notice A rules document needs a non-zero hash and an address of at most 256 bytes.
    error SchemeRegistryInvalidRules(uint256 scheme);
    /// @notice The proof's deadline has passed.
    error SchemeRegistryProofExpired(uint256 deadline, uint256 nowTime);
    /// @notice The proof's nonce was used before by this resident.
    error SchemeRegistryProofUsed(address resident, bytes32 nonce);
    /// @notice The signature is not the resident's (EOA or EIP-1271).
    error SchemeRegistryInvalidSignature(address resident);
    /// @notice The resident holds fewer points of the scheme than the proof claims.
    error SchemeRegistryNotEligible(address resident, uint256 scheme, uint256 minPoints);
    /// @notice The proof's threshold must be at least one point.
    error SchemeRegistryZeroThreshold();

    /// @notice `scheme` is described as `profile` (first time or again).
    event SchemeDescribed(uint256 indexed scheme, SchemeProfile profile);
    /// @notice Version `version` of `scheme`'s earning rules is published: the document's sha256 and address.
    event RulesPublished(uint256 indexed scheme, uint32 indexed version, bytes32 rulesHash, string uri);
    /// @notice `service` checked that `resident` holds at least `minPoints` of `scheme` (the resident's signed
    /// proof, `nonce`, is used); the holding itself is not published.
    event EligibilityProven(
        address indexed resident, uint256 indexed scheme, address indexed service, uint256 minPoints, bytes32 nonce
    );

    /// @notice Describe (or describe again) a scheme of the ledger.
    /// @dev Requirements: called by the Consortium; the scheme exists on PointsLedger; names, units and organisation
    /// 1..64 bytes; kind Valued or EligibilityOnly, EligibilityOnly only for a scheme without a rate.
    /// Emits: {SchemeDescribed}.
    function describeScheme(uint256 scheme, SchemeProfile calldata profile) external;

    /// @notice Publish a new version of a scheme's earning rules.
    /// @dev Requirements: called by the Consortium; the scheme is described; non-zero hash; uri 1..256 bytes.
    /// Emits: {RulesPublished}.
    /// @return version The new version (1, 2, 3, ...).
    function publishRules(uint256 scheme, bytes32 rulesHash, string calldata uri) external returns (uint32 version);

    /// @notice Use a resident's signed eligibility proof: anyone may submit it (the service, or a relayer for it).
    /// @dev Requirements: deadline not passed; nonce unused by the resident; signature the resident's (ECDSA or
    /// EIP-1271); minPoints > 0; the resident holds at least minPoints of the scheme. Emits: {EligibilityProven}.
    function proveEligibility(EligibilityProof calldata proof, bytes calldata signature) external;

    /// @notice Whether the proof would be accepted now (the same checks as {proveEligibility}, nothing used).
    function checkEligibility(EligibilityProof calldata proof, bytes calldata signature) external view returns (bool);

    /// @notice The profile of `scheme` (kind None when it was never described).
    function profileOf(uint256 scheme) external view returns (SchemeProfile memory);

    /// @notice Whether `scheme` is described as eligibility-only (Rates refuses it a rate).
    function isEligibilityOnly(uint256 scheme) external view returns (bool);

    /// @notice The latest rules version of `scheme` (0 when none was published).
    function rulesVersion(uint256 scheme) external view returns (uint32);

    /// @notice Version `version` of `scheme`'s rules.
    function rules(uint256 scheme, uint32 version) external view returns (RulesVersion memory);

    /// @notice The sha256 of version `version` of `scheme`'s rules document, or zero when that version was not
    /// published (version 0 included). What {IPointsLedger-issueBatchCitingRules} checks a citation against: one
    /// word, no revert, so the ledger pays one storage read for it.
    function rulesHash(uint256 scheme, uint32 version) external view returns (bytes32);

    /// @notice Whether `resident` used `nonce` in a proof.
    function proofNonceUsed(address resident, bytes32 nonce) external view returns (bool);

    /// @notice The EIP-712 digest of `proof` (domain CityPoints / 1 / chain id / this contract).
    function eligibilityDigest(EligibilityProof calldata proof) external view returns (bytes32);
}
