"""The embedded node: the EVM engine it seals (engine*.py, anvil.py, hardhat_ipc.js), the JSON-RPC gateway in front
of it (rpc_gateway.py, with what each port may call in method_policy.py and the read limits in read_gate.py), what
makes it durable (journal.py, state_file.py, recovery.py, backup.py), the process that runs them (supervisor.py)
and the commands that drive it (node_control.py: start, stop, status; node_commands.py: backup, restore, repair).

It knows nothing of the contracts: it journals and replays raw transactions, whatever they call. It imports only
ledger_node's base (paths, config, keys, errors, fast_json, jsonrpc); docs/ARCHITECTURE.md has the arrows.
"""
