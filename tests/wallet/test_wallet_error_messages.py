"""Every error code the API can answer with has a sentence in the wallet, in English and in Chinese.

The wallet's `errorText` (exchange_api/wallet/src/ui.js) shows `err.<code>` from i18n.js and otherwise a generic
"error <code>" sentence, which tells a resident nothing; a code added to the contracts' vocabulary
(ledger_node.contract_errors) or to exchange_api.errors would reach residents bare. This reads i18n.js as text, so
it needs no browser and no build: the two dictionaries are the object literals `const en = {...};` and
`const zh = {...};`, one `"key": "text",` entry a line.
"""
from __future__ import annotations

import inspect
import re
from collections import Counter
from pathlib import Path

import pytest

import exchange_api.errors as api_errors
from ledger_node.contract_errors import CONTRACT_ERRORS, UNNAMED

I18N = Path(__file__).resolve().parents[2] / "exchange_api" / "wallet" / "src" / "i18n.js"
LANGS = ("en", "zh")
_KEY = re.compile(r'^\s*"([^"\\]+)"\s*:', re.MULTILINE)


def _dictionary_keys(source: str, lang: str) -> list[str]:
    """The keys of `const <lang> = { ... };`, in file order (a list, so a key written twice shows)."""
    match = re.search(rf"^const {lang} = \{{\n(.*?)^\}};", source, re.MULTILINE | re.DOTALL)
    assert match, f"i18n.js has no `const {lang} = {{ ... }};` dictionary: has its layout changed?"
    keys = _KEY.findall(match.group(1))
    assert keys, f"found no keys in the {lang} dictionary of i18n.js"
    return keys


@pytest.fixture(scope="module")
def dictionaries() -> dict[str, list[str]]:
    source = I18N.read_text(encoding="utf-8")
    return {lang: _dictionary_keys(source, lang) for lang in LANGS}


def _contract_codes() -> set[str]:
    return {entry.code for entry in CONTRACT_ERRORS.values()} | {UNNAMED.code}


def _api_error_class_codes() -> set[str]:
    classes = [cls for _, cls in inspect.getmembers(api_errors, inspect.isclass)
               if issubclass(cls, BaseException) and cls.__module__ == api_errors.__name__]
    return {cls.code for cls in classes if isinstance(getattr(cls, "code", None), str)}


def _missing(codes: set[str], dictionaries: dict[str, list[str]]) -> dict[str, list[str]]:
    return {lang: missing for lang, keys in dictionaries.items()
            if (missing := sorted(code for code in codes if f"err.{code}" not in set(keys)))}


def test_walletMessages_coverEveryContractErrorCode(dictionaries):
    codes = _contract_codes()
    assert len(codes) > 10  # the vocabulary was read, not an empty table
    missing = _missing(codes, dictionaries)
    assert not missing, f"contract error codes without an err.<code> message in i18n.js: {missing}"


def test_walletMessages_coverEveryApiErrorClassCode(dictionaries):
    codes = _api_error_class_codes()
    assert {"bad_request", "not_found", "node_unavailable"} <= codes  # the classes were found
    missing = _missing(codes, dictionaries)
    assert not missing, f"exchange_api.errors codes without an err.<code> message in i18n.js: {missing}"


def test_walletMessages_haveTheSameErrorKeysInBothLanguages(dictionaries):
    en = {key for key in dictionaries["en"] if key.startswith("err.")}
    zh = {key for key in dictionaries["zh"] if key.startswith("err.")}
    assert en and zh
    assert en == zh, f"only in English: {sorted(en - zh)}; only in Chinese: {sorted(zh - en)}"


def test_walletMessages_haveNoKeyTwiceInADictionary(dictionaries):
    # a JavaScript object literal keeps the last of two equal keys without a word: the first text is silently lost
    twice = {lang: sorted(key for key, n in Counter(keys).items() if n > 1) for lang, keys in dictionaries.items()}
    assert not any(twice.values()), f"keys written twice in i18n.js: {twice}"
