"""What each port of the node may call: the public port's methods, the reads only the operator may run, the
gas cap on EVM-running reads, the methods the gateway itself implements, and the engine's own that are refused
everywhere (they would mine, sign or drop transactions behind the journal). Tables and pure functions: the
gateway (rpc_gateway.py) asks them and answers accordingly.
"""
from __future__ import annotations

REFUSED = -32004  # EIP-1474 "method not supported"

# Everything a client needs to read the chain and send signed transactions. Nothing here changes state.
PUBLIC_METHODS = frozenset("""
web3_clientVersion web3_sha3 net_version net_listening net_peerCount
eth_chainId eth_blockNumber eth_syncing eth_mining eth_hashrate eth_accounts eth_protocolVersion eth_coinbase
eth_gasPrice eth_maxPriorityFeePerGas eth_feeHistory eth_blobBaseFee
eth_getBalance eth_getCode eth_getStorageAt eth_getTransactionCount eth_getProof
eth_call eth_estimateGas eth_createAccessList
eth_getBlockByNumber eth_getBlockByHash eth_getBlockReceipts
eth_getBlockTransactionCountByNumber eth_getBlockTransactionCountByHash
eth_getTransactionByHash eth_getTransactionByBlockNumberAndIndex eth_getTransactionByBlockHashAndIndex
eth_getTransactionReceipt eth_getUncleCountByBlockNumber eth_getUncleCountByBlockHash
eth_getUncleByBlockNumberAndIndex eth_getUncleByBlockHashAndIndex
eth_getLogs eth_newFilter eth_newBlockFilter eth_newPendingTransactionFilter eth_getFilterChanges
eth_getFilterLogs eth_uninstallFilter
txpool_status txpool_content txpool_inspect
eth_sendRawTransaction
""".split())

# Reads that replay transactions or simulate whole blocks in the engine, with tracers: on the operator channel only.
# anvil mines no block while one runs, and their cost is not bounded by a gas cap (a trace of a full block is
# the block's execution and a structure of every step).
OPERATOR_ONLY_READS = frozenset("""
debug_traceTransaction debug_traceCall debug_traceBlockByNumber debug_traceBlockByHash debug_traceBlock
trace_transaction trace_block trace_filter trace_get trace_call trace_callMany trace_rawTransaction
trace_replayTransaction trace_replayBlockTransactions eth_simulateV1 eth_callMany eth_callBundle
""".split())

# Reads that run the EVM with the gas the caller names: given at most the gas cap (NodeConfig.rpc_gas_cap).
GAS_CAPPED = frozenset({"eth_call", "eth_estimateGas", "eth_createAccessList"})

# Operator methods the gateway itself implements (block production and its clock).
GATEWAY_METHODS = frozenset({"evm_mine", "evm_setAutomine", "evm_setIntervalMining", "evm_setNextBlockTimestamp",
                             "evm_increaseTime", "citypoints_status", "citypoints_snapshot", "citypoints_backup"})

# Operator methods that would let the engine build blocks from its own pool, take transactions the journal never
# saw, or drop acknowledged ones: replay rebuilds every block from the journal's record of it, so these are
# refused on the operator channel too. The gateway's own methods (GATEWAY_METHODS) do the same jobs.
ENGINE_OWN_BLOCKS = {
    **dict.fromkeys(("anvil_mine", "anvil_mine_detailed", "evm_mine_detailed", "hardhat_mine", "anvil_reorg",
                     "anvil_setAutomine", "anvil_setIntervalMining"),
                    "the gateway mines: use evm_mine, evm_setAutomine or evm_setIntervalMining"),
    **dict.fromkeys(("eth_sendTransaction", "eth_sendTransactionSync", "eth_sendRawTransactionSync",
                     "anvil_sendUnsignedTransaction"),
                    "sign the transaction and send it with eth_sendRawTransaction"),
    **dict.fromkeys(("anvil_dropTransaction", "anvil_dropAllTransactions", "anvil_removePoolTransactions",
                     "hardhat_dropTransaction"),
                    "an acknowledged transaction is always mined (the journal brings it back on restart)"),
}

# Operator methods that only read; everything else on the operator channel is journaled before it runs.
OPERATOR_READS = frozenset({"anvil_nodeInfo", "anvil_metadata", "anvil_getAutomine", "hardhat_metadata",
                            "anvil_dumpState", "debug_getRawTransaction", "debug_getRawBlock",
                            "debug_getRawReceipts", "debug_getRawHeader", "eth_getHeaderByNumber"}) | OPERATOR_ONLY_READS


def heavy_refusal(method: str, operator_hint: str) -> dict:
    return {"code": REFUSED,
            "message": f"{method} is refused on the public RPC: tracing and simulation replay transactions in the "
                       f"ledger engine, which mines no block meanwhile, at a cost no gas cap bounds; operators use "
                       f"the operator channel ({operator_hint})."}


def gas_capped(method: str, params: list, cap: int) -> list:
    """`params` of an EVM-running read with the call's gas at most `cap` (none given means `cap`)."""
    if method not in GAS_CAPPED or not params or not isinstance(params[0], dict):
        return params
    given = gas_of(method, params)
    if given is None and params[0].get("gas") is not None:
        return params  # not a number: the engine answers what is wrong with it
    if given is not None and given <= cap:
        return params
    return [{**params[0], "gas": hex(cap)}, *params[1:]]


def refusal(method: str, operator_hint: str) -> dict:
    return {"code": REFUSED,
            "message": f"{method} is refused on the public RPC: it can rewrite the chain's history or state, "
                       f"or needs keys the node does not hold. Sign transactions yourself and use "
                       f"eth_sendRawTransaction; operators use the operator channel ({operator_hint})."}


def gas_of(method: str, params: list) -> int | None:
    """The gas an EVM-running read names (after `gas_capped`: the gas it may use); None for other reads, or when
    none or no number is named."""
    if method not in GAS_CAPPED or not params or not isinstance(params[0], dict):
        return None
    gas = params[0].get("gas")
    try:
        return int(gas, 16) if isinstance(gas, str) else int(gas) if gas is not None else None
    except (TypeError, ValueError):
        return None
