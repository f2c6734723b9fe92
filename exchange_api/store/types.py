"""Column types for chain values.

Chain integers are up to 256 bits (balances, supplies, quotas and caps a governance may set to anything,
signed clearing positions), beyond BIGINT's 63. PostgreSQL stores them exactly as NUMERIC(78, 0); SQLite
would turn such a NUMERIC into a float, so there they are kept as decimal text. Python sees plain ints.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Numeric, String
from sqlalchemy.types import TypeDecorator


class ChainInt(TypeDecorator):
    impl = Numeric(78, 0)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(80))
        return dialect.type_descriptor(Numeric(78, 0))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return str(int(value)) if dialect.name == "sqlite" else Decimal(int(value))

    def process_result_value(self, value, dialect):
        return None if value is None else int(value)


class OrderedUInt(TypeDecorator):
    """A non-negative integer up to `digits` decimal digits (uint96: 29) that the database can compare and sort:
    NUMERIC(digits, 0) on PostgreSQL, zero-padded decimal text on SQLite (text order is then number order), so a
    filter such as `price <= x` runs in SQL on both."""
    impl = Numeric(29, 0)
    cache_ok = True

    def __init__(self, digits: int = 29):
        super().__init__()
        self.digits = digits

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(self.digits))
        return dialect.type_descriptor(Numeric(self.digits, 0))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = int(value)
        if value < 0 or len(str(value)) > self.digits:
            raise ValueError(f"{value} does not fit {self.digits} unsigned digits")
        return str(value).zfill(self.digits) if dialect.name == "sqlite" else Decimal(value)

    def process_result_value(self, value, dialect):
        return None if value is None else int(value)
