"""The sequence book's failure cases (contracts/README.md, "Issuance dedup"): a lost book, a stale copy, two
instances of one issuer sharing a book or not, a number that fell behind the ledger's window unissued."""
from __future__ import annotations

import os
import shutil
import stat
import threading

from eth_account import Account

from issuer_sdk import ClientConfig, Issuance, IssuerClient, LocalSigner
from ledger_node import chain
from ledger_node.deploy.system import call, propose_and_execute
from issuer_sdk.sequence_book import REALLOCATE_AFTER, SequenceBook
from ledger_node.issuance_refs import sequence_of

from isdk_helpers import SALT, SCHEME


def client(city, book, account=None, **config) -> IssuerClient:
    return IssuerClient(city.rpc_url, city.addresses["PointsLedger"], LocalSigner(bytes((account or city.issuer).key)),
                        SCHEME, SALT, config=ClientConfig(**config), book=book)


def second_issuer_account(city, w3, operator):
    """A second account of the scheme's issuer organisation (two instances, a key each)."""
    account = Account.create()
    chain.fund(w3, operator, [account.address], 10**20)
    m = city.contracts["Membership"]
    propose_and_execute(w3, city.contracts["Consortium"], [operator], [
        call(m, "setIssuerAccounts", SCHEME, [city.issuer.address, account.address])], advance_time=True)
    return account


def items(city, lo: int, hi: int, tag: str = "ev") -> list[Issuance]:
    return [Issuance(city.residents[k % 5], 1 + k % 7, f"{tag}-{k}") for k in range(lo, hi)]


def issued_total(rows) -> int:
    return sum(i.amount for i in rows)


def test_book_isPrivateAndNumbersInOneLane(city, tmp_path):
    path = tmp_path / "books" / "issuer.sqlite"
    with client(city, path) as c:
        c.issue_many(items(city, 0, 30))
        lane = c.book.lane
        assert c.book.next_counter == 30
        assert {sequence_of(c.book.ref_of(c.hash_ref(f"ev-{k}"))[0]) for k in range(30)} == \
            {(lane, k) for k in range(30)}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700


def test_lostBook_isRebuiltFromTheChain_andARerunIssuesNothingTwice(city, tmp_path):
    first = items(city, 0, 40)
    with client(city, tmp_path / "a.sqlite", max_batch_items=16) as c:
        assert c.issue_many(first).issued == 40
    supply = city.supply()
    with client(city, tmp_path / "new.sqlite", max_batch_items=16) as c:  # the book is gone: a new one, a new lane
        rerun = c.issue_many(first + items(city, 40, 45))
        assert (rerun.issued, rerun.duplicates) == (5, 40)
        assert all(c.status(f"ev-{k}").used for k in range(45))
    assert city.supply() == supply + issued_total(items(city, 40, 45))


def test_staleCopyOfTheBook_catchesUp_andNeverReusesANumber(city, tmp_path):
    path = tmp_path / "book.sqlite"
    with client(city, path) as c:
        c.issue_many(items(city, 0, 10))
    shutil.copy(path, tmp_path / "backup.sqlite")
    with client(city, path) as c:
        c.issue_many(items(city, 10, 20))
    supply = city.supply()
    shutil.copy(tmp_path / "backup.sqlite", path)  # restored from yesterday's backup: it misses items 10-19
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"book.sqlite{suffix}").unlink(missing_ok=True)
    with client(city, path) as c:
        rerun = c.issue_many(items(city, 10, 25))
        assert (rerun.issued, rerun.duplicates) == (5, 10)
        assert c.book.next_counter == 25  # past every number of its lane the chain showed
    assert city.supply() == supply + issued_total(items(city, 20, 25))


def test_twoInstancesSharingABook_issueEachEventOnce(city, tmp_path, w3, session_operator):
    path = tmp_path / "shared.sqlite"
    other = second_issuer_account(city, w3, session_operator)
    a, b = client(city, path, max_batch_items=10), client(city, path, other, max_batch_items=10)
    overlap = items(city, 0, 60)
    results = {}

    def run(name, c, rows):
        results[name] = c.issue_many(rows)

    threads = [threading.Thread(target=run, args=("a", a, overlap[:45])),
               threading.Thread(target=run, args=("b", b, overlap[15:]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    a.close()
    b.close()
    assert results["a"].issued + results["b"].issued == 60  # 30 events sent by both, each issued once
    assert city.supply() == issued_total(overlap)


def test_twoInstancesWithBooksOfTheirOwn_learnFromTheChainBeforeIssuing(city, tmp_path, w3, session_operator):
    other = second_issuer_account(city, w3, session_operator)
    with client(city, tmp_path / "one.sqlite") as one, client(city, tmp_path / "two.sqlite", other) as two:
        assert one.book.lane != two.book.lane
        one.issue_many(items(city, 0, 20))
        second = two.issue_many(items(city, 10, 30))  # its book reads one's events first
        assert (second.issued, second.duplicates) == (10, 10)
        assert two.issue(city.residents[0], 3, "ev-5").status == "duplicate"
    assert city.supply() == issued_total(items(city, 0, 30))


def test_numberGivenButNeverIssued_isRenumberedOnceBehindTheWindow(tmp_path):
    book = SequenceBook(tmp_path / "b.sqlite")
    lost, kept = os.urandom(32), os.urandom(32)
    first_lost, first_kept = book.assign([lost, kept])
    book.import_issued([first_kept], block=7)  # kept was seen issued; lost's batch never made it
    assert book.assign([lost]) == [first_lost]  # a retry soon after reuses the number
    book.assign([os.urandom(32) for _ in range(REALLOCATE_AFTER)])
    again_lost, again_kept = book.assign([lost, kept])
    assert again_kept == first_kept  # issued: the same number, which the ledger skips
    assert again_lost != first_lost and again_lost[8:] == first_lost[8:]  # a new number for the same event id
    assert sequence_of(again_lost)[1] == REALLOCATE_AFTER + 2
    book.close()
