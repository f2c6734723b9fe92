"""The consortium: the Hyperledger Besu QBFT network the same contracts run on beyond one machine.

Modules: description (consortium.yaml and its validation), keys (node keys), extradata (QBFT
extraData RLP encode/decode), system_contracts (Cancun/Prague predeploys), genesis, besu_config
(per-node TOML and the documented option list), permissions (allowlists, static nodes, sync),
services (docker compose, systemd), generate (`init`), cli (the `citypoints consortium` commands).
See README.md beside this file.
"""
