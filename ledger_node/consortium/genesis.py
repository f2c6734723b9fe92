"""The QBFT genesis file, shared by every Besu node and usable by the embedded node (anvil --init).

Fields follow the Besu docs:
- QBFT genesis and `config.qbft` items (blockperiodseconds, epochlength, requesttimeoutseconds),
  difficulty 0x1, the Istanbul mixHash, and extraData:
  https://besu.hyperledger.org/private-networks/how-to/configure/consensus/qbft#genesis-file
- free gas: `zeroBaseFee` (London and later), gasLimit after `config`:
  https://besu.hyperledger.org/private-networks/how-to/configure/free-gas
- milestone items and `chainId`: https://besu.hyperledger.org/public-networks/reference/genesis-items
- Prague request contract addresses (`depositContractAddress`, `withdrawalRequestContractAddress`,
  `consolidationRequestContractAddress`): required by Besu from 25.5 on (besu PR #8567), named as
  in Besu's own Prague test genesis; see system_contracts.py for the predeployed code.

Item names are the camelCase spellings Besu's own genesis files use (Besu reads them
case-insensitively); they are also the spellings anvil's genesis parser (alloy) reads, so the same
file boots the embedded node: `anvil --init genesis.json --hardfork <fork>` takes the chain id,
gas limit and `alloc` from it (QBFT items are ignored there).
"""
from __future__ import annotations

from .description import Consortium
from .extradata import encode_qbft_extra_data
from .system_contracts import needed_for

# "Istanbul block identification" mixHash required for IBFT 2.0 / QBFT genesis blocks (Besu docs).
QBFT_MIX_HASH = "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365"
# EIP-6110 deposit contract address. No code lives there on this chain, so no deposit requests.
DEPOSIT_CONTRACT_ADDRESS = "0x00000000219ab540356cBB839Cbe05303d7705Fa"

# Block-number milestones, all at genesis (Besu: "specify the latest milestone"; anvil reads them too).
_BLOCK_MILESTONES = (
    "homesteadBlock", "eip150Block", "eip155Block", "eip158Block", "byzantiumBlock",
    "constantinopleBlock", "petersburgBlock", "istanbulBlock", "muirGlacierBlock", "berlinBlock",
    "londonBlock",
)
_TIME_MILESTONES = {"shanghai": "shanghaiTime", "cancun": "cancunTime", "prague": "pragueTime"}
_FORKS = ("london", "shanghai", "cancun", "prague")
# EIP-4844 / EIP-7691 blob parameters (the values of mainnet's genesis files).
_BLOB_SCHEDULE = {
    "cancun": {"target": 3, "max": 6, "baseFeeUpdateFraction": 3338477},
    "prague": {"target": 6, "max": 9, "baseFeeUpdateFraction": 5007716},
}


def sorted_validators(addresses: list[str]) -> list[str]:
    """Validators in ascending address order, as the Besu docs ask for `rlp encode` input."""
    return sorted(addresses, key=lambda a: bytes.fromhex(a[2:]))


def build_genesis(consortium: Consortium, validator_addresses: list[str]) -> dict:
    net = consortium.network
    fork_level = _FORKS.index(net.evm_fork)

    config: dict = {"chainId": net.chain_id}
    for name in _BLOCK_MILESTONES:
        config[name] = 0
    for fork in _FORKS[1 : fork_level + 1]:
        config[_TIME_MILESTONES[fork]] = 0
    blob = {f: v for f, v in _BLOB_SCHEDULE.items() if _FORKS.index(f) <= fork_level}
    if blob:
        config["blobSchedule"] = blob
    if fork_level >= _FORKS.index("prague"):
        from .system_contracts import CONSOLIDATION_REQUESTS, WITHDRAWAL_REQUESTS

        config["depositContractAddress"] = DEPOSIT_CONTRACT_ADDRESS
        config["withdrawalRequestContractAddress"] = WITHDRAWAL_REQUESTS.address
        config["consolidationRequestContractAddress"] = CONSOLIDATION_REQUESTS.address
    config["zeroBaseFee"] = True
    config["qbft"] = {
        "blockperiodseconds": net.block_period_seconds,
        "epochlength": net.epoch_length,
        "requesttimeoutseconds": net.request_timeout_seconds,
    }

    alloc: dict[str, dict] = {}
    for address, wei in sorted(consortium.allocations.items(), key=lambda kv: kv[0].lower()):
        alloc[address.lower()] = {"balance": hex(wei)}
    for contract in needed_for(net.evm_fork):
        key = contract.address.lower()
        if key in alloc:
            alloc[key] = {**contract.genesis_account(), "balance": alloc[key]["balance"]}
        else:
            alloc[key] = contract.genesis_account()

    return {
        "config": config,
        "nonce": "0x0",
        "timestamp": "0x0",
        "extraData": encode_qbft_extra_data(sorted_validators(validator_addresses)),
        "gasLimit": hex(net.gas_limit),
        "difficulty": "0x1",
        "mixHash": QBFT_MIX_HASH,
        "coinbase": "0x0000000000000000000000000000000000000000",
        "baseFeePerGas": "0x0",
        "number": "0x0",
        "gasUsed": "0x0",
        "parentHash": "0x" + "00" * 32,
        "alloc": alloc,
    }
