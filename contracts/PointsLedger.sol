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
    int32 private constant _MAX_OFFSET = 14 hours;
    /// @dev Held accounts are keccak256(domain, identity hash) cut to 160 bits: no private key of one is known.
    bytes32 private constant _HELD_DOMAIN = keccak256("CityPoints.PointsLedger.heldFor");

    /// @dev One slot: read on every issuance call, written once per call.
    struct Scheme {
        SchemeStatus status;
        uint32 quotaDay;
        uint96 issuedToday;
        uint96 issuerDailyQuota;
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
    mapping(uint256 scheme => mapping(bytes32 ref => bool)) private _refUsed;
    mapping(address heldAccount => bytes32 identityHash) private _heldIdentity; // open, unclaimed holdings

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
        if (_refUsed[scheme][ref]) {
            emit RevocationSkipped(scheme, resident, msg.sender, ref);
            return;
        }
        _refUsed[scheme][ref] = true;
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
            _update(scheme, account, newAccount, packed & _MASK96, 0, _NO_CAP, 0);
            emit AccountMoved(scheme, account, newAccount, packed & _MASK96);
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

    /// @notice Balance of `account` in scheme `id`.
    function balanceOf(address account, uint256 id) external view returns (uint256) {
        return _holders[id][account] & _MASK96;
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
            balances[i] = _holders[ids[i]][accounts[i]] & _MASK96;
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
            totalSupply: _totalSupply[scheme]
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
    function isRefUsed(uint256 scheme, bytes32 ref) external view returns (bool) {
        return _refUsed[scheme][ref];
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

        mapping(bytes32 => bool) storage usedRefs = _refUsed[scheme];
        for (uint256 i = 0; i < n; ++i) {
            bytes32 ref = refs[i];
            if (usedRefs[ref]) {
                b.skipped[b.skippedCount++] = i;
                continue;
            }
            usedRefs[ref] = true;
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
        } else if (to == address(0)) {
            uint256 packed = holders[from];
            uint256 balance = packed & _MASK96;
            if (balance < amount) revert PointsLedgerInsufficientBalance(scheme, from, balance, amount);
            holders[from] = packed - amount;
            balanceAfter = balance - amount;
            _totalSupply[scheme] -= amount;
        } else {
            if (holders[to] != 0) revert PointsLedgerAccountNotEmpty(scheme, to);
            holders[to] = holders[from];
            holders[from] = 0;
            balanceAfter = amount;
        }
        emit TransferSingle(msg.sender, from, to, scheme, amount);
    }

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
