"""Deploying the contracts: their wiring (system.py the governance and issuance core, system_value.py rates,
exchange, redemption and clearing, system_audit.py the audit attestations) and `citypoints deploy`
(command.py: deploy once, write var/deployment.json, and say so when the sources changed since).
"""
