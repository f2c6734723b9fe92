"""Errors of the consortium tooling: a stable code and a plain message, as every CityPoints part."""
from __future__ import annotations

from ledger_node.errors import LedgerNodeError


class ConsortiumError(LedgerNodeError):
    """Bad input or a refused operation. `code` is stable (tests and scripts match on it)."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def as_dict(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}


# Stable codes (do not rename: operators' scripts match on them).
FILE_NOT_FOUND = "CONSORTIUM_FILE_NOT_FOUND"
YAML_INVALID = "CONSORTIUM_YAML_INVALID"
FIELD_MISSING = "CONSORTIUM_FIELD_MISSING"
FIELD_INVALID = "CONSORTIUM_FIELD_INVALID"
UNKNOWN_FIELD = "CONSORTIUM_UNKNOWN_FIELD"
DUPLICATE_NAME = "CONSORTIUM_DUPLICATE_NAME"
DUPLICATE_ENDPOINT = "CONSORTIUM_DUPLICATE_ENDPOINT"
BAD_PORT = "CONSORTIUM_BAD_PORT"
BAD_ADDRESS = "CONSORTIUM_BAD_ADDRESS"
TOO_FEW_VALIDATORS = "CONSORTIUM_TOO_FEW_VALIDATORS"
KEY_INVALID = "CONSORTIUM_KEY_INVALID"
EXTRADATA_INVALID = "CONSORTIUM_EXTRADATA_INVALID"
OPTION_UNDOCUMENTED = "CONSORTIUM_OPTION_UNDOCUMENTED"
NOT_INITIALISED = "CONSORTIUM_NOT_INITIALISED"
DEPLOYMENT_INVALID = "CONSORTIUM_DEPLOYMENT_INVALID"
MEMBERSHIP_READ_FAILED = "CONSORTIUM_MEMBERSHIP_READ_FAILED"
PERMISSIONS_FILE_INVALID = "CONSORTIUM_PERMISSIONS_FILE_INVALID"
RPC_PUSH_FAILED = "CONSORTIUM_RPC_PUSH_FAILED"
