"""Deploy and wire the value contracts on top of the core ones: Rates, Clearing, Exchange, Redemption, and the
SchemeRegistry (what each programme is, its rules versions, eligibility proofs), which Rates asks before it gives
a scheme a rate (an eligibility-only scheme gets none) and which the PointsLedger asks whether the rules version an
issuance cites was published.

Exchange and Redemption get Membership's LEDGER_OPERATOR role (they mint and burn through the
PointsLedger and record positions in Clearing); `Rates.setRate` gets the rate notice delay in the
Consortium's call policy.
"""
from __future__ import annotations

from typing import Callable, Sequence

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

from ledger_node import chain
from ledger_node.deploy.system import call, propose_and_execute, selector

RATE_NOTICE = 7 * 24 * 3600  # a rate change takes effect a week after the consortium approves it
REFUND_WINDOW = 30 * 24 * 3600
EXCHANGE_DAILY_LIMIT = 50_000  # credit cents (500 credits) per resident and day


def deploy_value_system(w3: Web3, operator: LocalAccount, core: dict[str, str], *,
                        deploy_contract: Callable[..., str]) -> dict[str, str]:
    consortium_addr, membership_addr, ledger_addr = core["Consortium"], core["Membership"], core["PointsLedger"]
    rates_addr = deploy_contract("Rates", consortium_addr)
    clearing_addr = deploy_contract("Clearing", membership_addr)
    exchange_addr = deploy_contract("Exchange", consortium_addr, ledger_addr, rates_addr, clearing_addr)
    redemption_addr = deploy_contract("Redemption", consortium_addr, ledger_addr, rates_addr, clearing_addr,
                                      membership_addr, REFUND_WINDOW)
    registry_addr = deploy_contract("SchemeRegistry", consortium_addr, ledger_addr, rates_addr)
    consortium = chain.bind(w3, "Consortium", consortium_addr)
    membership = chain.bind(w3, "Membership", membership_addr)
    rates = chain.bind(w3, "Rates", rates_addr)
    exchange = chain.bind(w3, "Exchange", exchange_addr)
    ledger = chain.bind(w3, "PointsLedger", ledger_addr)
    ledger_operator = membership.functions.LEDGER_OPERATOR_ROLE().call()
    operator_role = membership.functions.OPERATOR_ROLE().call()
    propose_and_execute(w3, consortium, [operator], [
        call(membership, "grantRole", ledger_operator, exchange_addr),
        call(membership, "grantRole", ledger_operator, redemption_addr),
        call(membership, "grantRole", operator_role, operator.address),
        call(consortium, "setCallPolicy", rates_addr, selector(rates, "setRate"), RATE_NOTICE, False),
        call(exchange, "setDailyLimit", EXCHANGE_DAILY_LIMIT),
        call(rates, "setSchemeRegistry", registry_addr),
        call(ledger, "setSchemeRegistry", registry_addr),
    ], "bootstrap: value contracts may mint and burn; rate changes take a week's notice; issuance cites the "
       "registry's published rules")
    return {"Rates": rates_addr, "Clearing": clearing_addr, "Exchange": exchange_addr, "Redemption": redemption_addr,
            "SchemeRegistry": registry_addr}


def set_initial_rates(w3: Web3, contracts: dict[str, Contract], members: Sequence[LocalAccount],
                      rates: dict[int, int]) -> int:
    """Give schemes their first rates (credit cents per point, scaled by 1e6) in one proposal."""
    return propose_and_execute(w3, contracts["Consortium"], members,
                               [call(contracts["Rates"], "setInitialRate", s, r) for s, r in rates.items()],
                               "initial rates")


def allow_pairs(w3: Web3, contracts: dict[str, Contract], members: Sequence[LocalAccount],
                pairs: Sequence[tuple[int, int]]) -> int:
    """Allow exchanging each ordered (from, to) pair, in one proposal."""
    return propose_and_execute(w3, contracts["Consortium"], members,
                               [call(contracts["Exchange"], "setPairAllowed", a, b, True) for a, b in pairs],
                               "allow exchange pairs")
