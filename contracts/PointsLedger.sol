// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {IERC1155MetadataURI} from "@openzeppelin/contracts/token/ERC1155/extensions/IERC1155MetadataURI.sol";
import {ConsortiumGoverned} from "./governance/ConsortiumGoverned.sol";
import {IMembership} from "./interfaces/IMembership.sol";
import {IPointsLedger} from "./interfaces/IPointsLedger.sol";
import {ISchemeRegistry} from "./interfaces/ISchemeRegistry.sol";

/// @title PointsLedger
/// @notice Balances of every scheme's points: a non-transferable ERC-1155 with issuance rules on chain.
/// @dev See {IPointsLedger} for the rules and contracts/README.md for the storage layout and its gas reasoning.
/// Every balance change flows through {_update}.
contract PointsLedger is IPointsLedger, ConsortiumGoverned {
    /// @dev Per (scheme, account) one slot: bits 0-95 balance, 96-127 day of `receivedToday`,
    /// 128-191 receivedToday, 192-254 change (value units, see {changeOf}), bit 255 "known": the account was
    /// checked to be a resident when first credited. Change shares the balance's slot so that a redemption or an
    /// exchange that leaves change writes no extra slot.
    uint256 private constant _MASK96 = (1 << 96) - 1;
    uint256 private constant _MASK64 = (1 << 64) - 1;
    uint256 private constant _MASK63 = (1 << 63) - 1;
    uint256 private constant _MASK32 = (1 << 32) - 1;
    uint256 private constant _CHANGE_SHIFT = 192;
    uint256 private constant _CHANGE_BITS = _MASK63 << _CHANGE_SHIFT;
    uint256 private constant _KNOWN = 1 << 255;
    uint256 private constant _NO_CAP = type(uint256).max;
    uint256 private constant _SEQ_BITS = 224; // sequence numbers per word; the word's top 32 bits are its tag
    uint256 private constant _RING = 256; // words per lane
    uint256 private constant _NO_SLOT = type(uint256).max;
    int32 private constant _MAX_OFFSET = 14 hours;
    /// @dev Expiring schemes (contracts/README.md, "Points expiry"): a bucket word holds one calendar quarter of an
    /// account's credits, 80 bits a month (bits 0-79 its first month, 80-159 its second, 160-239 its third) and the
    /// quarter's index in bits 240-255 (its tag), in a ring of words per account.
    uint256 private constant _MONTH_BITS = 80;
    uint256 private constant _MASK80 = (1 << 80) - 1;
    uint256 private constant _QUARTER_SHIFT = 240;
    /// @dev Held accounts are keccak256(domain, identity hash) cut to 160 bits: no private key of one is known.
    bytes32 private constant _HELD_DOMAIN = keccak256("CityPoints.PointsLedger.heldFor");

    /// @dev One slot: read on every issuance call, written once per call; also read (warm) by every balance change,
    /// for its expiry: the value flows' status checks have loaded it already.
    struct Scheme {
        SchemeStatus status;
        uint32 quotaDay;
        uint96 issuedToday;
        uint96 issuerDailyQuota;
        uint8 expiryMonths; // 0: points never expire
        uint8 expiryRing; // bucket words per account, fixed when expiry is first set (enough for any shorter expiry)
        uint96 residentDailyCap; // second slot: read once per call
    }

    IMembership private immutable _membership;

    bool private _paused;
    int32 private _dayOffset;
    ISchemeRegistry private _registry; // shares the word of `_paused`, which every issuance reads anyway
    string private _uri;
    uint256[] private _schemeIds;
    mapping(uint256 scheme => Scheme) private _schemes;
    mapping(uint256 scheme => uint256) private _totalSupply;
    mapping(uint256 scheme => mapping(address account => uint256 packed)) private _holders;
    /// @dev Issuance dedup (see {IPointsLedger} and contracts/README.md): per scheme a ring of 256 words per lane, at
    /// key `lane << 8 | wordIndex % 256`; a word is its index within the lane (bits 224-255, the tag) and one bit per
    /// sequence number of that index (bits 0-223).
    mapping(uint256 scheme => mapping(uint256 slot => uint256 word)) private _sequences;
    mapping(address heldAccount => bytes32 identityHash) private _heldIdentity; // open, unclaimed holdings
    /// @dev Expiring schemes only: each account's ring of `expiryRing` quarter words, at key `quarter % expiryRing`.
    mapping(uint256 scheme => mapping(address account => mapping(uint256 key => uint256 word))) private _buckets;

    /// @param consortium_ The Consortium contract.
    /// @param membership_ The Membership contract.
    /// @param uri_ ERC-1155 metadata URI with `{id}`.
    constructor(address consortium_, address membership_, string memory uri_) ConsortiumGoverned(consortium_) {
        _membership = IMembership(membership_);
        _uri = uri_;
    }

    // ----------------------------------------------------------------------------------------------
    // Issuance
    // ----------------------------------------------------------------------------------------------

    /// @inheritdoc IPointsLedger
    function issue(uint256 scheme, address resident, uint256 amount, bytes32 ref) external {
        (address[] memory r, uint256[] memory a, bytes32[] memory f) = _single(resident, amount, ref);
        _issue(scheme, 0, r, a, f, new uint32[](0));
    }

    /// @inheritdoc IPointsLedger
    function issueWithReason(uint256 scheme, address resident, uint256 amount, bytes32 ref, uint32 reasonCode)
        external
    {
        (address[] memory r, uint256[] memory a, bytes32[] memory f) = _single(resident, amount, ref);
        uint32[] memory c = new uint32[](1);
        c[0] = reasonCode;
        _issue(scheme, 0, r, a, f, c);
    }

    /// @inheritdoc IPointsLedger
    function issueBatch(uint256 scheme, address[] calldata residents, uint256[] calldata amounts, bytes32[] calldata refs)
        external
    {
        _issue(scheme, 0, residents, amounts, refs, new uint32[](0));
    }

    /// @inheritdoc IPointsLedger
    function issueBatchWithReason(
        uint256 scheme,
        address[] calldata residents,
        uint256[] calldata amounts,
        bytes32[] calldata refs,
        uint32[] calldata reasonCodes
    ) external {
        if (reasonCodes.length != residents.length) {
            revert PointsLedgerLengthMismatch(residents.length, amounts.length, refs.length, reasonCodes.length);
        }
        _issue(scheme, 0, residents, amounts, refs, reasonCodes);
    }

    /// @inheritdoc IPointsLedger
    function issueBatchCitingRules(
        uint256 scheme,
        uint32 rulesVersion,
        address[] calldata residents,
        uint256[] calldata amounts,
        bytes32[] calldata refs,
        uint32[] calldata reasonCodes
    ) external {
        if (reasonCodes.length != residents.length) {
            revert PointsLedgerLengthMismatch(residents.length, amounts.length, refs.length, reasonCodes.length);
        }
        if (rulesVersion == 0) revert PointsLedgerRulesNotPublished(scheme, 0); // 0 is "cites nothing" in _issue
        _issue(scheme, rulesVersion, residents, amounts, refs, reasonCodes);
    }

    /// @inheritdoc IPointsLedger
    function issueToIdentities(
        uint256 scheme,
        uint32 rulesVersion,
        bytes32[] calldata identityHashes,
        uint256[] calldata amounts,
        bytes32[] calldata refs,
        uint32[] calldata reasonCodes
    ) external {
        uint256 n = identityHashes.length;
        if (reasonCodes.length != 0 && reasonCodes.length != n) {
            revert PointsLedgerLengthMismatch(n, amounts.length, refs.length, reasonCodes.length);
        }
        address[] memory accounts = new address[](n);
        for (uint256 i = 0; i < n; ++i) {
            accounts[i] = _accountForIdentity(scheme, identityHashes[i], i);
        }
        _issue(scheme, rulesVersion, accounts, amounts, refs, reasonCodes);
    }

    /// @inheritdoc IPointsLedger
    function claimHolding(bytes32 identityHash, address account) external {
        if (msg.sender != address(_membership)) revert PointsLedgerNotMembership(msg.sender);
        address held = heldAccountOf(identityHash);
        // slither-disable-next-line incorrect-equality (nothing was ever held for this identity: nothing to move)
        if (_heldIdentity[held] == bytes32(0)) return;
        delete _heldIdentity[held];
        emit HoldingClaimed(identityHash, held, account);
        _moveRecords(held, account);
    }

    /// @inheritdoc IPointsLedger
    function revoke(uint256 scheme, address resident, uint256 amount, bytes32 ref, uint32 reasonCode) external {
        _requireIssuer(scheme);
        _requireSpendable(scheme);
        if (amount == 0) revert PointsLedgerZeroAmount(0);
        if (!_takeOne(scheme, ref)) {
            emit RevocationSkipped(scheme, resident, msg.sender, ref);
            return;
        }
        uint256 balanceAfter = _update(scheme, resident, address(0), amount, 0, _NO_CAP, 0);
        emit PointsRevoked(scheme, resident, msg.sender, amount, ref, reasonCode, balanceAfter, _totalSupply[scheme]);
    }

    // ----------------------------------------------------------------------------------------------
    // Ledger operators and Membership
    // ----------------------------------------------------------------------------------------------

    /// @inheritdoc IPointsLedger
    function mintValue(uint256 scheme, address account, uint256 value, uint256 rate, bytes32 ref)
        external
        returns (uint256 points, uint256 changeBefore, uint256 changeAfter)
    {
        _requireLedgerOperator();
        _requireIssuable(scheme);
        return _creditValue(scheme, account, value, rate, ref, false);
    }

    /// @inheritdoc IPointsLedger
    function restoreValue(uint256 scheme, address account, uint256 value, uint256 rate, bytes32 ref)
        external
        returns (uint256 points, uint256 changeBefore, uint256 changeAfter)
    {
        _requireLedgerOperator();
        _requireExists(scheme); // Active, Paused or Retired: the merchant owes the refund whatever the status
        if (_paused) revert PointsLedgerPaused();
        return _creditValue(scheme, account, value, rate, ref, true);
    }

    /// @inheritdoc IPointsLedger
    function spend(uint256 scheme, address account, uint256 points, uint256 rate, uint256 value, bytes32 ref)
        external
        returns (uint256 changeBefore, uint256 changeAfter)
    {
        _requireLedgerOperator();
        _requireSpendable(scheme);
        if (points == 0 && value == 0) revert PointsLedgerZeroAmount(0);
        changeBefore = (_holders[scheme][account] >> _CHANGE_SHIFT) & _MASK63;
        if (points > 0) _burn(scheme, account, points, ref);
        uint256 available = changeBefore + points * rate; // points < 2**96 (burned), rate < 2**47: no overflow
        if (available < value) revert PointsLedgerValueShort(scheme, account, available, value);
        changeAfter = available - value;
        _setChange(scheme, account, changeBefore, changeAfter, ref);
    }

    /// @inheritdoc IPointsLedger
    function moveAccount(address account, address newAccount) external {
        if (msg.sender != address(_membership)) revert PointsLedgerNotMembership(msg.sender);
        _moveRecords(account, newAccount);
    }

    /// @dev Every scheme's record of `account` to `newAccount` (a recovery, or a holding claimed).
    function _moveRecords(address account, address newAccount) private {
        uint256 n = _schemeIds.length;
        for (uint256 i = 0; i < n; ++i) {
            uint256 scheme = _schemeIds[i];
            uint256 packed = _holders[scheme][account];
            // slither-disable-next-line incorrect-equality (an empty record is skipped; nothing to move)
            if (packed == 0) continue;
            uint256 moved = _update(scheme, account, newAccount, packed & _MASK96, 0, _NO_CAP, 0);
            emit AccountMoved(scheme, account, newAccount, moved);
        }
    }

    // ----------------------------------------------------------------------------------------------
    // Governed
    // ----------------------------------------------------------------------------------------------

    /// @inheritdoc IPointsLedger
    function addScheme(uint256 scheme, uint96 issuerDailyQuota, uint96 residentDailyCap) external onlyConsortium {
        if (scheme == 0) revert PointsLedgerUnknownScheme(scheme);
        if (_schemes[scheme].status != SchemeStatus.None) revert PointsLedgerSchemeExists(scheme);
        _schemes[scheme] = Scheme({
            status: SchemeStatus.Active,
            quotaDay: 0,
            issuedToday: 0,
            issuerDailyQuota: issuerDailyQuota,
            expiryMonths: 0,
            expiryRing: 0,
            residentDailyCap: residentDailyCap
        });
        _schemeIds.push(scheme);
        emit SchemeAdded(scheme, issuerDailyQuota, residentDailyCap);
        emit SchemeStatusChanged(scheme, SchemeStatus.None, SchemeStatus.Active);
    }

    /// @inheritdoc IPointsLedger
    function pauseScheme(uint256 scheme) external onlyConsortium {
        _transition(scheme, SchemeStatus.Active, SchemeStatus.Active, SchemeStatus.Paused);
    }

    /// @inheritdoc IPointsLedger
    function unpauseScheme(uint256 scheme) external onlyConsortium {
        _transition(scheme, SchemeStatus.Paused, SchemeStatus.Paused, SchemeStatus.Active);
    }

    /// @inheritdoc IPointsLedger
    function retireScheme(uint256 scheme) external onlyConsortium {
        _transition(scheme, SchemeStatus.Active, SchemeStatus.Paused, SchemeStatus.Retired);
    }

    /// @inheritdoc IPointsLedger
    function setIssuerDailyQuota(uint256 scheme, uint96 quota) external onlyConsortium {
        _requireExists(scheme);
        _schemes[scheme].issuerDailyQuota = quota;
        emit IssuerDailyQuotaChanged(scheme, quota);
    }

    /// @inheritdoc IPointsLedger
    function setResidentDailyCap(uint256 scheme, uint96 cap) external onlyConsortium {
        _requireExists(scheme);
        _schemes[scheme].residentDailyCap = cap;
        emit ResidentDailyCapChanged(scheme, cap);
    }

    /// @inheritdoc IPointsLedger
    function setExpiry(uint256 scheme, uint8 months) external onlyConsortium {
        _requireExists(scheme);
        Scheme storage s = _schemes[scheme];
        uint8 current = s.expiryMonths;
        if (current == 0 && months != 0) {
            // every point must have its bucket: only a scheme with no points yet starts to expire
            uint256 supply = _totalSupply[scheme];
            if (supply != 0) revert PointsLedgerExpiryNeedsEmptyScheme(scheme, supply);
            s.expiryRing = uint8(uint256(months) / 3 + 2); // the quarters a window spans, and one for the clock's offset
        } else if (months == 0 || months >= current) {
            // a longer window (or none) would give expired points back to accounts not swept yet, not to the others
            revert PointsLedgerExpiryOnlyShortens(scheme, current, months);
        }
        s.expiryMonths = months;
        emit SchemeExpiryChanged(scheme, current, months);
    }

    /// @inheritdoc IPointsLedger
    function pauseAll() external onlyConsortium {
        if (_paused) revert PointsLedgerPauseUnchanged(true);
        _paused = true;
        emit LedgerPauseChanged(true);
    }

    /// @inheritdoc IPointsLedger
    function unpauseAll() external onlyConsortium {
        if (!_paused) revert PointsLedgerPauseUnchanged(false);
        _paused = false;
        emit LedgerPauseChanged(false);
    }

    /// @inheritdoc IPointsLedger
    function setDayOffset(int32 offsetSeconds) external onlyConsortium {
        if (offsetSeconds > _MAX_OFFSET || offsetSeconds < -_MAX_OFFSET) revert PointsLedgerInvalidDayOffset(offsetSeconds);
        _dayOffset = offsetSeconds;
        emit DayOffsetChanged(offsetSeconds);
    }

    /// @inheritdoc IPointsLedger
    function setSchemeRegistry(address registry) external onlyConsortium {
        _registry = ISchemeRegistry(registry);
        emit SchemeRegistrySet(registry);
    }

    /// @inheritdoc IPointsLedger
    function setURI(string calldata newUri) external onlyConsortium {
        _uri = newUri;
        uint256 n = _schemeIds.length;
        for (uint256 i = 0; i < n; ++i) {
            emit URI(newUri, _schemeIds[i]);
        }
    }

    // ----------------------------------------------------------------------------------------------
    // ERC-1155
    // ----------------------------------------------------------------------------------------------

    /// @notice Disabled: points cannot move between residents.
    /// @dev Always reverts with {PointsLedgerNonTransferable}.
    function safeTransferFrom(address, address, uint256, uint256, bytes calldata) external pure {
        revert PointsLedgerNonTransferable();
    }

    /// @notice Disabled: points cannot move between residents.
    /// @dev Always reverts with {PointsLedgerNonTransferable}.
    function safeBatchTransferFrom(address, address, uint256[] calldata, uint256[] calldata, bytes calldata)
        external
        pure
    {
        revert PointsLedgerNonTransferable();
    }

    /// @notice Disabled: nobody can be approved to move points.
    /// @dev Always reverts with {PointsLedgerNonTransferable}.
    function setApprovalForAll(address, bool) external pure {
        revert PointsLedgerNonTransferable();
    }

    /// @notice Always false: nobody can be approved to move points.
    function isApprovedForAll(address, address) external pure returns (bool) {
        return false;
    }

    /// @notice Balance of `account` in scheme `id`: in an expiring scheme, the points not expired (at most
    /// expiryMonths + 1 months of credits are read, however many issuances they came from).
    function balanceOf(address account, uint256 id) external view returns (uint256) {
        return _balanceOf(account, id);
    }

    /// @notice Balances of `accounts[i]` in `ids[i]`.
    function balanceOfBatch(address[] calldata accounts, uint256[] calldata ids)
        external
        view
        returns (uint256[] memory balances)
    {
        if (accounts.length != ids.length) revert PointsLedgerLengthMismatch(accounts.length, ids.length, 0, 0);
        balances = new uint256[](accounts.length);
        for (uint256 i = 0; i < accounts.length; ++i) {
            balances[i] = _balanceOf(accounts[i], ids[i]);
        }
    }

    /// @notice The metadata URI (same for every id, with `{id}` substitution).
    function uri(uint256) external view returns (string memory) {
        return _uri;
    }

    /// @notice ERC-165: IERC1155, IERC1155MetadataURI, IERC165.
    function supportsInterface(bytes4 interfaceId) external pure returns (bool) {
        return interfaceId == type(IERC1155).interfaceId || interfaceId == type(IERC1155MetadataURI).interfaceId
            || interfaceId == type(IERC165).interfaceId;
    }

    // ----------------------------------------------------------------------------------------------
    // Views
    // ----------------------------------------------------------------------------------------------

    /// @inheritdoc IPointsLedger
    function changeOf(address account, uint256 scheme) external view returns (uint256) {
        return (_holders[scheme][account] >> _CHANGE_SHIFT) & _MASK63;
    }

    /// @inheritdoc IPointsLedger
    function expiringOf(address account, uint256 scheme) external view returns (uint256 points, uint256 lastDay) {
        return _expiringOf(account, scheme);
    }

    /// @inheritdoc IPointsLedger
    function totalSupply(uint256 scheme) external view returns (uint256) {
        return _totalSupply[scheme];
    }

    /// @inheritdoc IPointsLedger
    function schemeInfo(uint256 scheme) external view returns (SchemeInfo memory) {
        Scheme memory s = _schemes[scheme];
        return SchemeInfo({
            status: s.status,
            issuerDailyQuota: s.issuerDailyQuota,
            residentDailyCap: s.residentDailyCap,
            quotaDay: s.quotaDay,
            issuedToday: s.issuedToday,
            totalSupply: _totalSupply[scheme],
            expiryMonths: s.expiryMonths
        });
    }

    /// @inheritdoc IPointsLedger
    function schemeIds() external view returns (uint256[] memory) {
        return _schemeIds;
    }

    /// @inheritdoc IPointsLedger
    function heldAccountOf(bytes32 identityHash) public pure returns (address) {
        return address(uint160(uint256(keccak256(abi.encode(_HELD_DOMAIN, identityHash)))));
    }

    /// @inheritdoc IPointsLedger
    function heldIdentityOf(address heldAccount) external view returns (bytes32) {
        return _heldIdentity[heldAccount];
    }

    /// @inheritdoc IPointsLedger
    function refState(uint256 scheme, bytes32 ref) external view returns (RefState) {
        (uint256 slot, uint256 tag, uint256 bit) = _position(ref);
        uint256 word = _sequences[scheme][slot];
        uint256 wordTag = word >> _SEQ_BITS;
        if (wordTag > tag) return RefState.BehindWindow;
        if (wordTag == tag && (word >> bit) & 1 == 1) return RefState.Used;
        return RefState.Unused;
    }

    /// @inheritdoc IPointsLedger
    // solhint-disable-next-line func-name-mixedcase
    function REF_WINDOW() external pure returns (uint256) {
        return _SEQ_BITS * _RING;
    }

    /// @inheritdoc IPointsLedger
    function quotaUsedToday(uint256 scheme) external view returns (uint256) {
        Scheme storage s = _schemes[scheme];
        return _today() > s.quotaDay ? 0 : s.issuedToday;
    }

    /// @inheritdoc IPointsLedger
    function receivedToday(uint256 scheme, address account) external view returns (uint256) {
        uint256 packed = _holders[scheme][account];
        return _today() > ((packed >> 96) & _MASK32) ? 0 : (packed >> 128) & _MASK64;
    }

    /// @inheritdoc IPointsLedger
    function today() external view returns (uint256) {
        return _today();
    }

    /// @inheritdoc IPointsLedger
    function dayOffset() external view returns (int32) {
        return _dayOffset;
    }

    /// @inheritdoc IPointsLedger
    function paused() external view returns (bool) {
        return _paused;
    }

    /// @inheritdoc IPointsLedger
    function schemeRegistry() external view returns (address) {
        return address(_registry);
    }

    /// @inheritdoc IPointsLedger
    function membership() external view returns (address) {
        return address(_membership);
    }

    // ----------------------------------------------------------------------------------------------
    // Internals
    // ----------------------------------------------------------------------------------------------

    /// @dev Working state of one issuance call, in memory to keep the stack small.
    struct Batch {
        uint256 day;
        uint256 quotaDay;
        uint256 used;
        uint256 quota;
        uint256 cap;
        uint256 issuedAmount;
        uint256 skippedCount;
        uint256 totalSupplyAfter;
        uint256[] balancesAfter;
        uint256[] skipped;
        bytes32[] refs;
        uint32[] reasonCodes;
        uint256 slot; // the dedup word in hand: its key, value, and whether it changed
        uint256 word;
        bool dirty;
    }

    /// @dev The issuance path: dedup, quota, then one {_update} per item; the scheme slot is written once.
    /// `rulesVersion` 0: the call cites no rules; else the version must be published for the scheme in the registry.
    function _issue(
        uint256 scheme,
        uint32 rulesVersion,
        address[] memory residents,
        uint256[] memory amounts,
        bytes32[] memory refs,
        uint32[] memory reasonCodes
    ) private {
        uint256 n = residents.length;
        if (amounts.length != n || refs.length != n) {
            revert PointsLedgerLengthMismatch(n, amounts.length, refs.length, reasonCodes.length);
        }
        _requireIssuer(scheme);
        Scheme storage s = _schemes[scheme];
        if (s.status != SchemeStatus.Active) _revertStatus(scheme, s.status);
        if (_paused) revert PointsLedgerPaused();
        if (rulesVersion != 0) _cite(scheme, rulesVersion);

        Batch memory b;
        b.day = _today();
        b.quotaDay = s.quotaDay;
        b.used = s.issuedToday;
        if (b.day > b.quotaDay) {
            b.quotaDay = b.day;
            b.used = 0;
        }
        b.quota = s.issuerDailyQuota;
        uint256 cap = s.residentDailyCap;
        b.cap = cap < _MASK64 ? cap : _MASK64; // a day's receipts are kept in 64 bits: a larger cap is no cap
        b.balancesAfter = new uint256[](n);
        b.skipped = new uint256[](n);

        mapping(uint256 => uint256) storage words = _sequences[scheme];
        b.slot = _NO_SLOT;
        for (uint256 i = 0; i < n; ++i) {
            if (!_takeInBatch(words, b, refs[i])) {
                b.skipped[b.skippedCount++] = i;
                continue;
            }
            uint256 amount = amounts[i];
            if (amount == 0) revert PointsLedgerZeroAmount(i);
            if (amount > b.quota || b.used + amount > b.quota) {
                revert PointsLedgerIssuerDailyQuotaExceeded(scheme, i, b.quotaDay, b.used, amount, b.quota);
            }
            unchecked {
                // both < 2**96 (bounded by the quota) and summed at most 2**32 times
                b.used += amount;
                b.issuedAmount += amount;
            }
            b.balancesAfter[i] = _update(scheme, address(0), residents[i], amount, b.day, b.cap, i);
        }
        if (b.dirty) words[b.slot] = b.word;
        uint256[] memory skipped = b.skipped;
        uint256 skippedCount = b.skippedCount;
        assembly ("memory-safe") {
            mstore(skipped, skippedCount)
        }
        // quota fields share the status slot: one SSTORE (used <= quota < 2**96, quotaDay < 2**32)
        s.quotaDay = uint32(b.quotaDay);
        s.issuedToday = uint96(b.used);
        b.totalSupplyAfter = _totalSupply[scheme];
        b.refs = refs;
        b.reasonCodes = reasonCodes;
        _emitIssued(scheme, b);
    }

    /// @dev Dedup of one batch item: its sequence number taken in the word in hand, which is loaded when the item's
    /// word differs from the last one (and the last one stored if it changed). Sequential numbers cost one storage
    /// write per 224 items. False: used before, or behind the window.
    function _takeInBatch(mapping(uint256 => uint256) storage words, Batch memory b, bytes32 ref)
        private
        returns (bool fresh)
    {
        (uint256 slot, uint256 tag, uint256 bit) = _position(ref);
        if (slot != b.slot) {
            if (b.dirty) words[b.slot] = b.word;
            b.slot = slot;
            b.word = words[slot];
            b.dirty = false;
        }
        uint256 word;
        (fresh, word) = _take(b.word, tag, bit);
        if (fresh) {
            b.word = word;
            b.dirty = true;
        }
    }

    /// @dev Dedup of a single ref (a revocation): false if used before or behind the window.
    function _takeOne(uint256 scheme, bytes32 ref) private returns (bool fresh) {
        mapping(uint256 => uint256) storage words = _sequences[scheme];
        (uint256 slot, uint256 tag, uint256 bit) = _position(ref);
        uint256 word;
        (fresh, word) = _take(words[slot], tag, bit);
        if (fresh) words[slot] = word;
    }

    /// @dev Where a ref's sequence number lives: ring slot `lane << 8 | index % 256`, the word's tag (its index within
    /// the lane) and the bit.
    function _position(bytes32 ref) private pure returns (uint256 slot, uint256 tag, uint256 bit) {
        uint256 sequence = uint256(ref) >> 192;
        uint256 counter = sequence & _MASK32;
        tag = counter / _SEQ_BITS;
        bit = counter % _SEQ_BITS;
        slot = ((sequence >> 32) << 8) | (tag % _RING);
    }

    /// @dev Take sequence number (`tag`, `bit`) in `word`: fresh when its bit was clear in a word of the same tag, or
    /// the word held an older tag (that word's numbers leave the window: behind it, they are refused from now on).
    /// A word of a newer tag means the number is behind the window: not fresh.
    function _take(uint256 word, uint256 tag, uint256 bit) private pure returns (bool fresh, uint256 taken) {
        uint256 wordTag = word >> _SEQ_BITS;
        if (wordTag > tag) return (false, word);
        if (wordTag < tag) word = tag << _SEQ_BITS;
        uint256 mask = 1 << bit;
        if (word & mask != 0) return (false, word);
        return (true, word | mask);
    }

    /// @dev One registry read per call: the registry address shares `_paused`'s word, already read.
    function _cite(uint256 scheme, uint32 rulesVersion) private {
        ISchemeRegistry registry = _registry;
        bytes32 rulesHash = address(registry) == address(0) ? bytes32(0) : registry.rulesHash(scheme, rulesVersion);
        if (rulesHash == bytes32(0)) revert PointsLedgerRulesNotPublished(scheme, rulesVersion);
        emit IssuanceRulesCited(scheme, msg.sender, rulesVersion, rulesHash);
    }

    function _emitIssued(uint256 scheme, Batch memory b) private {
        emit PointsIssued(
            scheme,
            msg.sender,
            b.quotaDay,
            b.refs,
            b.reasonCodes,
            b.balancesAfter,
            b.skipped,
            b.issuedAmount,
            b.used,
            b.totalSupplyAfter
        );
    }

    /// @dev The one place balances change. `from == 0`: mint to `to` (counted against `cap` for `day` unless
    /// `cap == _NO_CAP`); `to == 0`: burn from `from`; both set: move `from`'s whole record (recovery).
    /// Keeps totalSupply equal to the sum of balances and emits {TransferSingle}. Returns the balance after
    /// of `to` (mint, move) or `from` (burn). `item` is the batch index, only used in error values.
    function _update(uint256 scheme, address from, address to, uint256 amount, uint256 day, uint256 cap, uint256 item)
        internal
        returns (uint256 balanceAfter)
    {
        mapping(address => uint256) storage holders = _holders[scheme];
        if (from == address(0)) {
            uint256 packed = holders[to];
            // Residency is checked once per (scheme, account): a known record means it was checked, and
            // recovery clears the old account's records.
            if (packed == 0 && !_membership.isResident(to)) revert PointsLedgerNotResident(to);
            uint256 balance = packed & _MASK96;
            if (amount > _MASK96 - balance) revert PointsLedgerBalanceOverflow(scheme, to, balance, amount);
            balanceAfter = balance + amount;
            uint256 rest = packed & ~_MASK96; // day, receivedToday and change, unchanged for uncapped mints
            if (cap != _NO_CAP) {
                uint256 recordDay = (packed >> 96) & _MASK32;
                uint256 received = (packed >> 128) & _MASK64;
                if (day > recordDay) {
                    recordDay = day;
                    received = 0;
                }
                if (received + amount > cap) {
                    revert PointsLedgerResidentDailyCapExceeded(scheme, item, to, recordDay, received, amount, cap);
                }
                // received + amount <= cap < 2**64 (the cap is clamped to 64 bits where it is read)
                rest = (packed & _CHANGE_BITS) | ((received + amount) << 128) | (recordDay << 96);
            }
            holders[to] = _KNOWN | rest | balanceAfter;
            _totalSupply[scheme] += amount;
            if (_schemes[scheme].expiryMonths != 0) _creditBucket(scheme, to, amount); // warm: status was checked
        } else if (to == address(0)) {
            uint256 packed = holders[from];
            uint256 expiryMonths = _schemes[scheme].expiryMonths; // warm: the caller checked the scheme's status
            if (expiryMonths != 0) packed = _sweepAndDebit(scheme, from, packed, amount, expiryMonths);
            uint256 balance = packed & _MASK96;
            if (balance < amount) revert PointsLedgerInsufficientBalance(scheme, from, balance, amount);
            holders[from] = packed - amount;
            balanceAfter = balance - amount;
            _totalSupply[scheme] -= amount;
        } else {
            if (holders[to] != 0) revert PointsLedgerAccountNotEmpty(scheme, to);
            uint256 packed = holders[from];
            uint256 expiryMonths = _schemes[scheme].expiryMonths;
            if (expiryMonths != 0) {
                packed = _sweepAndMove(scheme, from, to, packed, expiryMonths);
                amount = packed & _MASK96;
            }
            holders[to] = packed;
            holders[from] = 0;
            balanceAfter = amount;
        }
        emit TransferSingle(msg.sender, from, to, scheme, amount);
    }

    // ----------------------------------------------------------------------------------------------
    // Expiry (contracts/README.md, "Points expiry"): the holder word's balance counts every point credited and not
    // debited or swept; the buckets say which month each came in. A credit adds to its month's bucket; a debit
    // first sweeps what expired (balance - live), then takes from the oldest live month.
    // ----------------------------------------------------------------------------------------------

    // Calendar arithmetic of the block time, not randomness nor balances: month and quarter numbers and ring keys
    // are the time's remainders, the civil-date formulas divide before they multiply on purpose (whole years and
    // eras), and the equalities compare month and quarter numbers or a bucket with zero (contracts/README.md,
    // "Slither").
    // slither-disable-start weak-prng,divide-before-multiply,incorrect-equality

    /// @dev `amount` credited to `account` today: added to this month's bucket. A ring word still holding an
    /// older quarter starts over: that quarter expired (the ring spans more quarters than a window does).
    function _creditBucket(uint256 scheme, address account, uint256 amount) private {
        uint256 month = _monthOf(_today());
        uint256 quarter = month / 3;
        uint256 shift = (month % 3) * _MONTH_BITS;
        mapping(uint256 => uint256) storage ring = _buckets[scheme][account];
        uint256 key = quarter % _schemes[scheme].expiryRing;
        uint256 word = ring[key];
        if (word >> _QUARTER_SHIFT != quarter) word = quarter << _QUARTER_SHIFT;
        uint256 bucket = (word >> shift) & _MASK80;
        if (amount > _MASK80 - bucket) revert PointsLedgerBalanceOverflow(scheme, account, bucket, amount);
        ring[key] = word + (amount << shift);
    }

    /// @dev A debit of `amount` in an expiring scheme: sweep, then take from the live months, oldest first. Returns
    /// the holder word after the sweep (the caller checks the balance, reverting all of this if it is short).
    function _sweepAndDebit(uint256 scheme, address account, uint256 packed, uint256 amount, uint256 months)
        private
        returns (uint256)
    {
        (mapping(uint256 => uint256) storage ring, uint256 size, uint256 cutoff, uint256 newest) =
            _bucketsOf(scheme, account, months);
        packed = _sweep(scheme, account, packed, _live(ring, size, cutoff, newest));
        if (packed & _MASK96 < amount) return packed;
        unchecked {
            for (uint256 quarter = cutoff / 3; amount != 0 && quarter <= newest / 3; ++quarter) {
                uint256 key = quarter % size;
                uint256 word = ring[key];
                if (word >> _QUARTER_SHIFT != quarter) continue;
                uint256 left = word;
                for (uint256 i = quarter == cutoff / 3 ? cutoff % 3 : 0; amount != 0 && i < 3; ++i) {
                    uint256 bucket = (left >> (i * _MONTH_BITS)) & _MASK80;
                    uint256 take = bucket < amount ? bucket : amount;
                    left -= take << (i * _MONTH_BITS);
                    amount -= take;
                }
                if (left != word) ring[key] = left;
            }
        }
        return packed;
    }

    /// @dev A recovery's move in an expiring scheme: sweep `from`, then move its live months to `to` (whose record is
    /// empty, so its ring is unused); expired months stay behind with the retired account. Returns the holder word.
    function _sweepAndMove(uint256 scheme, address from, address to, uint256 packed, uint256 months)
        private
        returns (uint256)
    {
        (mapping(uint256 => uint256) storage source, uint256 size, uint256 cutoff, uint256 newest) =
            _bucketsOf(scheme, from, months);
        packed = _sweep(scheme, from, packed, _live(source, size, cutoff, newest));
        mapping(uint256 => uint256) storage target = _buckets[scheme][to];
        for (uint256 quarter = cutoff / 3; quarter <= newest / 3; ++quarter) {
            uint256 key = quarter % size;
            uint256 word = source[key];
            if (word >> _QUARTER_SHIFT != quarter) continue;
            if (quarter == cutoff / 3) word &= ~((1 << ((cutoff % 3) * _MONTH_BITS)) - 1); // months before the cutoff
            target[key] = word;
            delete source[key];
        }
        return packed;
    }

    /// @dev Remove `account`'s expired points (its balance less its `live` points) from its balance and the supply,
    /// with {TransferSingle} to zero and {PointsExpired}; returns the holder word after (the caller stores it).
    function _sweep(uint256 scheme, address account, uint256 packed, uint256 live) private returns (uint256) {
        uint256 balance = packed & _MASK96;
        if (live >= balance) return packed;
        uint256 expired = balance - live;
        uint256 supply = _totalSupply[scheme] - expired;
        _totalSupply[scheme] = supply;
        emit TransferSingle(msg.sender, account, address(0), scheme, expired);
        emit PointsExpired(scheme, account, expired, live, supply);
        return packed - expired;
    }

    /// @dev `account`'s live points given its `balance` (swept or not): never more than the balance, since a day offset
    /// moved back across a month's end shows, for those hours, a month that may have been swept already.
    function _liveOf(uint256 scheme, address account, uint256 balance, uint256 months) private view returns (uint256) {
        (mapping(uint256 => uint256) storage ring, uint256 size, uint256 cutoff, uint256 newest) =
            _bucketsOf(scheme, account, months);
        uint256 live = _live(ring, size, cutoff, newest);
        return live < balance ? live : balance;
    }

    /// @dev The points in `ring`'s words from month `cutoff` to month `newest`: at most the window's quarter words.
    function _live(mapping(uint256 => uint256) storage ring, uint256 size, uint256 cutoff, uint256 newest)
        private
        view
        returns (uint256 live)
    {
        unchecked {
            // at most 87 words of three 80-bit months: no overflow
            for (uint256 quarter = cutoff / 3; quarter <= newest / 3; ++quarter) {
                uint256 word = ring[quarter % size];
                if (word >> _QUARTER_SHIFT != quarter) continue;
                for (uint256 i = quarter == cutoff / 3 ? cutoff % 3 : 0; i < 3; ++i) {
                    live += (word >> (i * _MONTH_BITS)) & _MASK80;
                }
            }
        }
    }

    /// @dev `account`'s ring in `scheme`, its size, and the live months: from `cutoff` (this month less `months`) to
    /// `newest`, the latest month a credit can have been booked in (this month, or the next one if a day offset moved
    /// back across a month's end since).
    function _bucketsOf(uint256 scheme, address account, uint256 months)
        private
        view
        returns (mapping(uint256 => uint256) storage ring, uint256 size, uint256 cutoff, uint256 newest)
    {
        ring = _buckets[scheme][account];
        size = _schemes[scheme].expiryRing;
        cutoff = _monthOf(_today()) - months;
        newest = _monthOf((block.timestamp + uint256(int256(_MAX_OFFSET))) / 1 days);
    }

    /// @dev {expiringOf}: the oldest live month's points (never more than the live points) and its last day.
    function _expiringOf(address account, uint256 scheme) private view returns (uint256, uint256) {
        uint256 months = _schemes[scheme].expiryMonths;
        uint256 balance = _holders[scheme][account] & _MASK96;
        if (months == 0 || balance == 0) return (0, 0);
        (mapping(uint256 => uint256) storage ring, uint256 size, uint256 cutoff, uint256 newest) =
            _bucketsOf(scheme, account, months);
        uint256 live = _live(ring, size, cutoff, newest);
        if (live > balance) live = balance;
        for (uint256 month = cutoff; month <= newest; ++month) {
            uint256 quarter = month / 3;
            uint256 word = ring[quarter % size];
            if (word >> _QUARTER_SHIFT != quarter) continue;
            uint256 bucket = (word >> ((month % 3) * _MONTH_BITS)) & _MASK80;
            if (bucket == 0) continue;
            // the last day of month `month + months`: the day before the first of the month after it
            return (bucket < live ? bucket : live, _firstDayOf(month + months + 1) - 1);
        }
        return (0, 0);
    }

    function _balanceOf(address account, uint256 scheme) private view returns (uint256) {
        uint256 balance = _holders[scheme][account] & _MASK96;
        uint256 months = _schemes[scheme].expiryMonths;
        if (months == 0 || balance == 0) return balance;
        return _liveOf(scheme, account, balance, months);
    }

    /// @dev Month number (year * 12 + month - 1) of day number `day` (days since 1970-01-01): H. Hinnant's
    /// civil_from_days, for days from 1970 on.
    function _monthOf(uint256 day) private pure returns (uint256) {
        unchecked {
            uint256 z = day + 719468;
            uint256 era = z / 146097;
            uint256 doe = z - era * 146097; // day of the era, 0-146096
            uint256 yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; // year of the era, 0-399
            uint256 doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of the year from 1 March, 0-365
            uint256 mp = (5 * doy + 2) / 153; // month from March, 0-11
            uint256 year = yoe + era * 400 + (mp >= 10 ? 1 : 0);
            return year * 12 + (mp < 10 ? mp + 2 : mp - 10);
        }
    }

    /// @dev Day number of the first day of month number `month` (the inverse of {_monthOf}): H. Hinnant's
    /// days_from_civil.
    function _firstDayOf(uint256 month) private pure returns (uint256) {
        unchecked {
            uint256 m = month % 12 + 1;
            uint256 year = month / 12 - (m <= 2 ? 1 : 0);
            uint256 era = year / 400;
            uint256 yoe = year - era * 400;
            uint256 doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5;
            uint256 doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
            return era * 146097 + doe - 719468;
        }
    }
    // slither-disable-end weak-prng,divide-before-multiply,incorrect-equality

    function _burn(uint256 scheme, address account, uint256 points, bytes32 ref) private {
        uint256 balanceAfter = _update(scheme, account, address(0), points, 0, _NO_CAP, 0);
        emit PointsBurned(scheme, account, msg.sender, points, ref, balanceAfter, _totalSupply[scheme]);
    }

    /// @dev Credit `value` (value units) to `account` in `scheme`: added to its change, and as many whole points as
    /// the sum is worth at `rate` minted (or restored); what is left of a point stays as change.
    function _creditValue(uint256 scheme, address account, uint256 value, uint256 rate, bytes32 ref, bool restore)
        private
        returns (uint256 points, uint256 changeBefore, uint256 changeAfter)
    {
        if (value == 0) revert PointsLedgerZeroAmount(0);
        uint256 packed = _holders[scheme][account];
        changeBefore = (packed >> _CHANGE_SHIFT) & _MASK63;
        changeAfter = changeBefore + value;
        if (rate != 0) {
            points = changeAfter / rate;
            // slither-disable-next-line weak-prng (the rest of the value below one point, not randomness)
            changeAfter %= rate;
        }
        if (points > 0) {
            _mint(scheme, account, points, ref, restore);
        } else {
            // slither-disable-next-line incorrect-equality (an empty record is one never credited: check residency)
            if (packed == 0 && !_membership.isResident(account)) revert PointsLedgerNotResident(account);
        }
        _setChange(scheme, account, changeBefore, changeAfter, ref);
    }

    function _mint(uint256 scheme, address account, uint256 points, bytes32 ref, bool restore) private {
        uint256 balanceAfter = _update(scheme, address(0), account, points, 0, _NO_CAP, 0);
        if (restore) {
            emit PointsRestored(scheme, account, msg.sender, points, ref, balanceAfter, _totalSupply[scheme]);
        } else {
            emit PointsMinted(scheme, account, msg.sender, points, ref, balanceAfter, _totalSupply[scheme]);
        }
    }

    /// @dev Write `account`'s change in `scheme` (the record is known: credited before or just now).
    function _setChange(uint256 scheme, address account, uint256 changeBefore, uint256 changeAfter, bytes32 ref)
        private
    {
        // slither-disable-next-line incorrect-equality (an unchanged change is not written, not a balance compared)
        if (changeAfter == changeBefore) return;
        if (changeAfter > _MASK63) revert PointsLedgerChangeOverflow(scheme, account, changeAfter);
        mapping(address => uint256) storage holders = _holders[scheme];
        holders[account] = (holders[account] & ~_CHANGE_BITS) | _KNOWN | (changeAfter << _CHANGE_SHIFT);
        emit ChangeUpdated(scheme, account, msg.sender, changeBefore, changeAfter, ref);
    }

    /// @dev Where an issuance to `identityHash` goes: the resident's account once the identity joined, else its
    /// held account, opened here (a record marked known, so that the residency check of {_update} passes it).
    function _accountForIdentity(uint256 scheme, bytes32 identityHash, uint256 item) private returns (address account) {
        if (identityHash == bytes32(0)) revert PointsLedgerZeroIdentity(item);
        account = _membership.accountOf(identityHash);
        if (account != address(0)) return account;
        account = heldAccountOf(identityHash);
        if (_heldIdentity[account] == bytes32(0)) {
            _heldIdentity[account] = identityHash;
            emit HoldingOpened(identityHash, account);
        }
        mapping(address => uint256) storage holders = _holders[scheme];
        if (holders[account] == 0) holders[account] = _KNOWN;
    }

    function _single(address resident, uint256 amount, bytes32 ref)
        private
        pure
        returns (address[] memory r, uint256[] memory a, bytes32[] memory f)
    {
        r = new address[](1);
        a = new uint256[](1);
        f = new bytes32[](1);
        r[0] = resident;
        a[0] = amount;
        f[0] = ref;
    }

    function _today() private view returns (uint256) {
        int256 local = int256(block.timestamp) + _dayOffset;
        return local > 0 ? uint256(local) / 1 days : 0;
    }

    function _requireIssuer(uint256 scheme) private view {
        if (!_membership.isIssuer(scheme, msg.sender)) revert PointsLedgerNotIssuer(scheme, msg.sender);
    }

    function _requireLedgerOperator() private view {
        if (!_membership.isLedgerOperator(msg.sender)) revert PointsLedgerNotLedgerOperator(msg.sender);
    }

    /// @dev Issuance and minting: scheme Active, ledger not paused.
    function _requireIssuable(uint256 scheme) private view {
        SchemeStatus status = _schemes[scheme].status;
        if (status != SchemeStatus.Active) _revertStatus(scheme, status);
        if (_paused) revert PointsLedgerPaused();
    }

    /// @dev Revocation and burning: scheme Active or Retired, ledger not paused.
    function _requireSpendable(uint256 scheme) private view {
        SchemeStatus status = _schemes[scheme].status;
        if (status != SchemeStatus.Active && status != SchemeStatus.Retired) _revertStatus(scheme, status);
        if (_paused) revert PointsLedgerPaused();
    }

    function _requireExists(uint256 scheme) private view {
        // slither-disable-next-line incorrect-equality (an enum compared with its zero value, not a balance)
        if (_schemes[scheme].status == SchemeStatus.None) revert PointsLedgerUnknownScheme(scheme);
    }

    function _revertStatus(uint256 scheme, SchemeStatus status) private pure {
        // slither-disable-next-line incorrect-equality (an enum compared with its zero value, not a balance)
        if (status == SchemeStatus.None) revert PointsLedgerUnknownScheme(scheme);
        revert PointsLedgerSchemeNotActive(scheme, status);
    }

    function _transition(uint256 scheme, SchemeStatus fromA, SchemeStatus fromB, SchemeStatus to) private {
        SchemeStatus current = _schemes[scheme].status;
        // slither-disable-next-line incorrect-equality (an enum compared with its zero value, not a balance)
        if (current == SchemeStatus.None) revert PointsLedgerUnknownScheme(scheme);
        if (current != fromA && current != fromB) revert PointsLedgerInvalidTransition(scheme, current, to);
        _schemes[scheme].status = to;
        emit SchemeStatusChanged(scheme, current, to);
    }
}
