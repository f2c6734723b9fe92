// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IClearing} from "./interfaces/IClearing.sol";
import {IMembership} from "./interfaces/IMembership.sol";
import {Roles} from "./libraries/Roles.sol";

/// @title Clearing
/// @notice Real-time positions between issuers and merchants, netting, period close and settlement.
/// See {IClearing}.
contract Clearing is IClearing {
    using SafeCast for uint256;

    bytes32 public constant LEDGER_OPERATOR_ROLE = Roles.LEDGER_OPERATOR;
    bytes32 public constant OPERATOR_ROLE = Roles.OPERATOR;
    uint8 private constant MERCHANT_PAIR = 1;
    uint8 private constant ISSUER_PAIR = 2;
    /// @dev A merchant's positions in a period are kept four schemes to a word: scheme s in word (s - 1) / 4, lane
    /// (s - 1) % 4, each lane a signed 64-bit amount. A redemption that pays in several of the schemes 1-4 (or 5-8,
    /// ...) writes one word, and a merchant's first sale of a period in another of them costs no new slot.
    uint256 private constant _LANES = 4;
    uint256 private constant _LANE_BITS = 64;
    uint256 private constant _LANE_MASK = (1 << 64) - 1;

    struct Statement {
        uint8 kind;
        SettlementState state;
        uint64 period;
        uint256 a; // scheme (merchant pair) or lower scheme (issuer pair)
        uint256 b; // merchant address (merchant pair) or higher scheme (issuer pair)
        bytes32 bankRefHash;
    }

    IMembership public immutable membership;
    uint256 private _openPeriod = 1;
    mapping(uint256 period => uint64) private _closedAt;
    mapping(uint256 period => mapping(address merchant => mapping(uint256 word => uint256 lanes))) private _merchantPos;
    mapping(uint256 period => mapping(uint256 lo => mapping(uint256 hi => int256))) private _issuerPos;
    mapping(bytes32 statementId => Statement) private _statements;

    constructor(IMembership membership_) {
        membership = membership_;
    }

    modifier onlyRecorder() {
        if (!IAccessControl(address(membership)).hasRole(LEDGER_OPERATOR_ROLE, msg.sender)) {
            revert ClearingNotRecorder(msg.sender);
        }
        _;
    }

    // ----------------------------------------------------------------------------------------------
    // Recording (Exchange and Redemption contracts)
    // ----------------------------------------------------------------------------------------------

    /// @inheritdoc IClearing
    function recordRedemption(uint256 scheme, address merchant, uint256 credits) external onlyRecorder {
        uint256 period = _openPeriod;
        _moveLane(_merchantPos[period][merchant], period, scheme, merchant, credits.toInt256());
    }

    /// @inheritdoc IClearing
    function recordRefund(uint256 scheme, address merchant, uint256 credits) external onlyRecorder {
        uint256 period = _openPeriod;
        _moveLane(_merchantPos[period][merchant], period, scheme, merchant, -credits.toInt256());
    }

    /// @inheritdoc IClearing
    function recordExchange(uint256 fromScheme, uint256 toScheme, uint256 credits) external onlyRecorder {
        if (fromScheme == toScheme) revert ClearingSameScheme(fromScheme);
        int256 delta = credits.toInt256();
        uint256 period = _openPeriod;
        int256 loHi;
        if (fromScheme < toScheme) {
            loHi = (_issuerPos[period][fromScheme][toScheme] += delta);
        } else {
            loHi = (_issuerPos[period][toScheme][fromScheme] -= delta);
        }
        emit IssuerPositionChanged(period, fromScheme, toScheme, credits, loHi);
    }

    // ----------------------------------------------------------------------------------------------
    // Periods and settlement
    // ----------------------------------------------------------------------------------------------

    /// @inheritdoc IClearing
    function closePeriod() external {
        if (!IAccessControl(address(membership)).hasRole(OPERATOR_ROLE, msg.sender)) {
            revert ClearingNotOperator(msg.sender);
        }
        uint256 period = _openPeriod++;
        _closedAt[period] = uint64(block.timestamp);
        emit PeriodClosed(period, uint64(block.timestamp), msg.sender);
    }

    /// @inheritdoc IClearing
    function recordMerchantPayment(uint256 period, uint256 scheme, address merchant, bytes32 bankRefHash) external {
        bytes32 id = merchantStatementId(period, scheme, merchant);
        int256 amount = _closedMerchantAmount(period, scheme, merchant);
        Statement storage s = _statements[id];
        if (s.kind == 0) {
            s.kind = MERCHANT_PAIR;
            s.period = uint64(period);
            s.a = scheme;
            s.b = uint256(uint160(merchant));
        }
        _recordPayment(id, s, amount, bankRefHash);
    }

    /// @inheritdoc IClearing
    function recordIssuerPayment(uint256 period, uint256 schemeA, uint256 schemeB, bytes32 bankRefHash) external {
        if (schemeA == schemeB) revert ClearingSameScheme(schemeA);
        (uint256 lo, uint256 hi) = schemeA < schemeB ? (schemeA, schemeB) : (schemeB, schemeA);
        bytes32 id = issuerStatementId(period, lo, hi);
        int256 amount = _closedIssuerAmount(period, lo, hi);
        Statement storage s = _statements[id];
        if (s.kind == 0) {
            s.kind = ISSUER_PAIR;
            s.period = uint64(period);
            s.a = lo;
            s.b = hi;
        }
        _recordPayment(id, s, amount, bankRefHash);
    }

    /// @inheritdoc IClearing
    function answerPayment(bytes32 statementId, bool accept, bytes32 reasonHash) external {
        Statement storage s = _statements[statementId];
        if (s.state != SettlementState.Paid) revert ClearingWrongState(statementId, s.state);
        int256 amount = _amountOf(s);
        if (!_actsFor(s, amount < 0, msg.sender)) revert ClearingNotCreditor(statementId, msg.sender);
        if (!accept) {
            s.state = SettlementState.Disputed;
            emit PaymentDisputed(statementId, s.period, reasonHash, msg.sender);
            return;
        }
        s.state = SettlementState.Confirmed;
        emit PaymentConfirmed(statementId, s.period, _abs(amount), msg.sender);
    }

    // ----------------------------------------------------------------------------------------------
    // Views
    // ----------------------------------------------------------------------------------------------

    /// @inheritdoc IClearing
    function openPeriod() external view returns (uint256) {
        return _openPeriod;
    }

    /// @inheritdoc IClearing
    function closedAt(uint256 period) external view returns (uint64) {
        return _closedAt[period];
    }

    /// @inheritdoc IClearing
    function merchantPosition(uint256 period, uint256 scheme, address merchant) external view returns (int256) {
        return _merchantAmount(period, scheme, merchant);
    }

    /// @inheritdoc IClearing
    function issuerPosition(uint256 period, uint256 schemeA, uint256 schemeB) external view returns (int256) {
        if (schemeA == schemeB) return 0;
        return schemeA < schemeB ? _issuerPos[period][schemeA][schemeB] : -_issuerPos[period][schemeB][schemeA];
    }

    /// @inheritdoc IClearing
    function merchantStatementId(uint256 period, uint256 scheme, address merchant) public pure returns (bytes32) {
        return keccak256(abi.encode(MERCHANT_PAIR, period, scheme, uint256(uint160(merchant))));
    }

    /// @inheritdoc IClearing
    function issuerStatementId(uint256 period, uint256 schemeA, uint256 schemeB) public pure returns (bytes32) {
        (uint256 lo, uint256 hi) = schemeA < schemeB ? (schemeA, schemeB) : (schemeB, schemeA);
        return keccak256(abi.encode(ISSUER_PAIR, period, lo, hi));
    }

    /// @inheritdoc IClearing
    function settlement(bytes32 statementId) external view returns (Settlement memory) {
        Statement storage s = _statements[statementId];
        return Settlement(s.state, s.bankRefHash);
    }

    // ----------------------------------------------------------------------------------------------
    // Internals
    // ----------------------------------------------------------------------------------------------

    function _moveLane(
        mapping(uint256 => uint256) storage words,
        uint256 period,
        uint256 scheme,
        address merchant,
        int256 delta
    ) private {
        (uint256 word, uint256 shift) = _laneOf(scheme);
        uint256 lanes = words[word];
        int256 amount = int256(int64(uint64(lanes >> shift))) + delta;
        if (amount > type(int64).max || amount < type(int64).min) {
            revert ClearingPositionOverflow(period, scheme, merchant, amount);
        }
        words[word] = (lanes & ~(_LANE_MASK << shift)) | (uint256(uint64(int64(amount))) << shift);
        emit MerchantPositionChanged(period, scheme, merchant, delta, amount);
    }

    function _merchantAmount(uint256 period, uint256 scheme, address merchant) private view returns (int256) {
        (uint256 word, uint256 shift) = _laneOf(scheme);
        return int256(int64(uint64(_merchantPos[period][merchant][word] >> shift)));
    }

    /// @dev Word and bit offset of `scheme`'s lane (scheme ids start at 1; any id has a lane).
    function _laneOf(uint256 scheme) private pure returns (uint256 word, uint256 shift) {
        unchecked {
            uint256 index = scheme - 1;
            return (index / _LANES, (index % _LANES) * _LANE_BITS);
        }
    }

    function _recordPayment(bytes32 id, Statement storage s, int256 amount, bytes32 bankRefHash) private {
        if (bankRefHash == bytes32(0)) revert ClearingZeroReference();
        if (amount == 0) revert ClearingNothingOwed(id);
        if (s.state != SettlementState.Open && s.state != SettlementState.Disputed) revert ClearingWrongState(id, s.state);
        if (!_actsFor(s, amount > 0, msg.sender)) revert ClearingNotDebtor(id, msg.sender);
        s.state = SettlementState.Paid;
        s.bankRefHash = bankRefHash;
        emit PaymentRecorded(id, s.period, _abs(amount), bankRefHash, msg.sender);
    }

    /// @dev Whether `who` acts for side A of the statement (`sideA`) or side B.
    function _actsFor(Statement storage s, bool sideA, address who) private view returns (bool) {
        if (s.kind == MERCHANT_PAIR) {
            return sideA ? membership.isIssuer(s.a, who) : who == address(uint160(s.b));
        }
        return membership.isIssuer(sideA ? s.a : s.b, who);
    }

    function _amountOf(Statement storage s) private view returns (int256) {
        return s.kind == MERCHANT_PAIR
            ? _merchantAmount(s.period, s.a, address(uint160(s.b)))
            : _issuerPos[s.period][s.a][s.b];
    }

    function _closedMerchantAmount(uint256 period, uint256 scheme, address merchant) private view returns (int256) {
        _requireClosed(period);
        return _merchantAmount(period, scheme, merchant);
    }

    function _closedIssuerAmount(uint256 period, uint256 lo, uint256 hi) private view returns (int256) {
        _requireClosed(period);
        return _issuerPos[period][lo][hi];
    }

    function _requireClosed(uint256 period) private view {
        if (period == 0 || period >= _openPeriod) revert ClearingPeriodNotClosed(period, _openPeriod);
    }

    function _abs(int256 x) private pure returns (uint256) {
        return uint256(x >= 0 ? x : -x);
    }
}
