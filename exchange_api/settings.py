"""The API's settings: environment variables with the prefix CITYPOINTS_ (pydantic-settings), checked at start-up.

A bad value stops the service before it answers anything (fail fast). Secrets (the PII encryption key, the
identity HMAC key, relayer and onboarding keys) come from the environment; with `dev_secrets` (the default on the
embedded single-machine deployment) the missing ones are created once under var/keys/api/ (owner-only files), and
the relayer/onboarding keys fall back to the demo city's accounts in var/demo.json.
"""
from __future__ import annotations

import base64
import json
import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger_node import paths


def default_database_url() -> str:
    return f"sqlite:///{paths.var_dir() / 'api' / 'citypoints.db'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CITYPOINTS_", extra="ignore", frozen=True)

    database_url: str = Field(default_factory=default_database_url)
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    public_url: str | None = None  # how clients reach the API (QR payloads); default http://host:port
    deployment_file: Path = Field(default_factory=paths.deployment_file)
    rpc_url: str | None = None  # default: the deployment's rpcUrl

    # Secrets (base64 for keys, 0x-hex for accounts). Never logged.
    pii_key: SecretStr | None = None  # 32 bytes, AES-256-GCM for residents' personal data
    identity_hmac_key: SecretStr | None = None  # >= 32 bytes, HMAC-SHA256 of identity numbers
    relayer_keys: SecretStr | None = None  # comma-separated private keys, each holding RELAYER_ROLE
    onboarding_key: SecretStr | None = None  # private key holding ONBOARDING_ROLE
    dev_secrets: bool = True

    # Behaviour
    confirm_timeout_s: float = Field(30.0, gt=0)
    request_ttl_s: int = Field(900, ge=30)  # redemption requests: deadline of the consent they ask for
    rate_limit_per_s: float = Field(200.0, gt=0)
    rate_limit_burst: int = Field(400, ge=1)
    redeem_gas: int = Field(1_500_000, ge=100_000)

    # Indexer
    indexer_enabled: bool = True
    indexer_poll_s: float = Field(0.2, gt=0)
    indexer_range: int = Field(2000, ge=1)

    # Webhooks
    webhook_tolerance_s: int = Field(300, ge=1)
    webhook_max_attempts: int = Field(8, ge=1)
    webhook_backoff_s: float = Field(1.0, gt=0)
    webhook_timeout_s: float = Field(5.0, gt=0)

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, v: str) -> str:
        if v.startswith("postgres://"):
            v = "postgresql://" + v[len("postgres://"):]
        if v.startswith("postgresql://"):
            v = "postgresql+psycopg://" + v[len("postgresql://"):]
        if not (v.startswith("sqlite:") or v.startswith("postgresql+psycopg://")):
            raise ValueError("CITYPOINTS_DATABASE_URL must be sqlite:///path or postgresql://...")
        return v

    @field_validator("pii_key")
    @classmethod
    def _pii_key(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(_b64(v.get_secret_value(), "CITYPOINTS_PII_KEY")) != 32:
            raise ValueError("CITYPOINTS_PII_KEY must be 32 bytes, base64")
        return v

    @field_validator("identity_hmac_key")
    @classmethod
    def _hmac_key(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(_b64(v.get_secret_value(), "CITYPOINTS_IDENTITY_HMAC_KEY")) < 32:
            raise ValueError("CITYPOINTS_IDENTITY_HMAC_KEY must be at least 32 bytes, base64")
        return v

    @field_validator("relayer_keys", "onboarding_key")
    @classmethod
    def _account_keys(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None:
            for key in v.get_secret_value().split(","):
                key = key.strip().removeprefix("0x")
                if len(key) != 64 or any(c not in "0123456789abcdefABCDEF" for c in key):
                    raise ValueError("account keys must be 32-byte hex private keys (comma-separated)")
        return v

    @model_validator(mode="after")
    def _secrets_present(self) -> "Settings":
        if not self.dev_secrets:
            missing = [n for n in ("pii_key", "identity_hmac_key", "relayer_keys") if getattr(self, n) is None]
            if missing:
                raise ValueError("missing secrets with CITYPOINTS_DEV_SECRETS=false: "
                                 + ", ".join("CITYPOINTS_" + m.upper() for m in missing))
        return self

    # -- resolved values --------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def deployment(self) -> dict:
        try:
            return json.loads(Path(self.deployment_file).read_text())
        except FileNotFoundError:
            raise RuntimeError(f"no deployment at {self.deployment_file}: run `citypoints deploy` first") from None

    def pii_key_bytes(self) -> bytes:
        return _b64(self._secret("pii_key", 32), "pii_key")

    def identity_key_bytes(self) -> bytes:
        return _b64(self._secret("identity_hmac_key", 32), "identity_hmac_key")

    def relayer_private_keys(self) -> list[str]:
        if self.relayer_keys is not None:
            return [k.strip() for k in self.relayer_keys.get_secret_value().split(",") if k.strip()]
        return [a["privateKey"] for a in _demo().get("relayers", [])]

    def onboarding_private_key(self) -> str | None:
        if self.onboarding_key is not None:
            return self.onboarding_key.get_secret_value()
        found = _demo().get("onboarding", [])
        return found[0]["privateKey"] if found else None

    def _secret(self, name: str, size: int) -> str:
        value = getattr(self, name)
        if value is not None:
            return value.get_secret_value()
        if not self.dev_secrets:
            raise RuntimeError(f"CITYPOINTS_{name.upper()} is not set")
        path = paths.keys_dir() / "api" / f"{name}.b64"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(base64.b64encode(secrets.token_bytes(size)).decode())
        return path.read_text().strip()


def _b64(text: str, name: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except Exception:
        raise ValueError(f"{name} is not valid base64") from None


def _demo() -> dict:
    try:
        return json.loads(paths.demo_file().read_text())
    except FileNotFoundError:
        return {}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
