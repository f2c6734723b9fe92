"""Constants and small helpers shared by the issuer SDK tests (imported by name: tests/issuer_sdk is on sys.path)."""
SCHEME = 51  # not 1-4: the contract suites keep schemes 1 and 2 in the session chain
TIGHT_SCHEME = 9
TIGHT_QUOTA = 1_000
TIGHT_CAP = 100
RESIDENTS = 40
SALT = "0x" + "5a" * 32
