"""`citypoints issue`: issue a programme's export file, resumable, with progress and a summary.

    citypoints issue --adapter mapping.yaml records.csv --keystore issuer.json --salt-file issuer.salt
    citypoints issue --program volunteer records.csv ...          (a shipped programme's mapping file)
    citypoints issue --adapter mapping.yaml records.csv --dry-run  (what would be issued; sends nothing)

Kill it at any point and run the same command again: nothing is issued twice. The ledger skips refs
it has seen, and a small progress file next to the input (`<file>.progress.json`, written after each
confirmed batch) lets the rerun start after the last confirmed batch instead of re-sending everything.
Rejected rows go to `<file>.rejected.csv` (line, reason, detail, record). The summary and the progress
file name the rules the run applied (`rules_version`, `rules_sha256` of the mapping file's rules).
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TransferSpeedColumn

from ledger_node.paths import replace_atomically

app = typer.Typer(help="Issue points from a program's export.", add_completion=False, no_args_is_help=True)
console = Console(stderr=True)
PROGRESS_SUFFIX = ".progress.json"
REJECTED_SUFFIX = ".rejected.csv"
REJECTED_HEADER = ["line", "reason", "detail", "record"]


@app.callback()
def _group():
    """The issuer SDK's commands (`python -m issuer_sdk.cli issue ...` is `citypoints issue ...`)."""


@app.command("issue")
def issue_command(
    source: Optional[Path] = typer.Argument(None, exists=True, dir_okay=False, readable=True, show_default=False,
                                            help="The export: CSV with a header row, or JSON lines (.jsonl)."),
    adapter_file: Optional[Path] = typer.Option(None, "--adapter", exists=True, dir_okay=False, readable=True,
                                                help="The programme's mapping file (YAML; issuer_sdk/README.md, "
                                                     "\"Mapping files\")."),
    program: Optional[str] = typer.Option(None, "--program", help="A shipped programme instead of --adapter: "
                                          "volunteer, traffic, culture, green or residence."),
    file: Optional[Path] = typer.Option(None, "--file", exists=True, dir_okay=False, readable=True,
                                        help="The export, as SOURCE (kept for older scripts)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would be issued (line, resident, points, "
                                 "the rule it cites, ref), the duplicates the ledger would skip (with the salt) "
                                 "and the rejections; send nothing (no signer needed)."),
    rules_document: Optional[Path] = typer.Option(None, "--write-rules", dir_okay=False, help="Write the mapping "
                                                  "file's rules document (canonical JSON, its sha256 the rules_sha256 "
                                                  "runs cite) to this file for `citypoints gov publish-rules`, and "
                                                  "stop (no SOURCE needed)."),
    scheme: Optional[int] = typer.Option(None, "--scheme", help="Scheme id (default: the mapping file's)."),
    keystore: Optional[Path] = typer.Option(None, "--keystore", help="Encrypted eth-account keystore of the "
                                            "issuer account; password from CITYPOINTS_KEYSTORE_PASSWORD."),
    demo_issuer: bool = typer.Option(False, "--demo-issuer", help="Sign with the scheme's demo issuer key from "
                                     "var/demo.json (demo city only)."),
    salt_file: Optional[Path] = typer.Option(None, "--salt-file", help="The issuer's secret salt (hex); "
                                             "default CITYPOINTS_ISSUER_SALT."),
    rpc: Optional[str] = typer.Option(None, "--rpc", help="JSON-RPC URL (default: from the deployment file)."),
    deployment: Optional[Path] = typer.Option(None, "--deployment", help="deployment.json (default var/)."),
    batch_size: int = typer.Option(1000, "--batch-size", min=1, help="Items per transaction at most."),
    max_in_flight: int = typer.Option(4, "--max-in-flight", min=1, help="Batches sent before awaiting one."),
    restart: bool = typer.Option(False, "--restart", help="Ignore the progress file (the ledger still skips "
                                 "refs already issued)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object (--dry-run: one "
                                 "JSON object a line, then the summary)."),
    listen: Optional[str] = typer.Option(None, "--listen", help="HOST:PORT: instead of a file, take the programme's "
                                         "records by signed HTTP POST (issuer_sdk/listen.py); the HMAC secret from "
                                         "CITYPOINTS_SOURCE_SECRET. Runs until stopped."),
):
    """Issue every valid record of SOURCE by a mapping file; show progress; end with issued / duplicates skipped /
    rejected. Exit codes: 0 done, 1 stopped by an error (rerun to continue), 2 bad set-up or mapping file."""
    from issuer_sdk import errors
    from issuer_sdk.client import ClientConfig, IssuerClient, read_deployment

    try:
        adapter = _adapter(adapter_file, program)
        if rules_document is not None:
            from issuer_sdk.adapters.mapping import canonical_json

            rules_document.write_bytes(canonical_json(adapter.spec.rules_document()))
            print(f"{rules_document}: rules {adapter.rules_version} of {adapter.program}, sha256 "
                  f"{adapter.rules_sha256}")
            return
        path = None if listen else _one_source(source, file)
        if listen and (source or file or dry_run):
            raise ValueError("--listen takes records over HTTP: give no export file and no --dry-run")
    except (errors.IssuerError, ValueError, OSError) as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    scheme_id = scheme if scheme is not None else adapter.default_scheme
    if dry_run:
        try:
            reader = _reading_client(scheme_id, salt_file, deployment, rpc, keystore, demo_issuer)
            why = "no salt (--salt-file or CITYPOINTS_ISSUER_SALT) or no issuer (--keystore or --demo-issuer)"
        except (errors.IssuerError, ValueError, OSError) as exc:  # a dry run still shows what the file holds
            reader, why = None, f"the ledger cannot be asked ({exc})"
        if reader is None:
            console.print(f"[yellow]{escape(why)}: the refs are not checked against the ledger, so records it "
                          "already holds show as would-issue[/yellow]", highlight=False, soft_wrap=True)
        citation = _dry_citation(adapter, reader, scheme_id, deployment, rpc)
        try:
            dry_run_report(adapter, path, scheme_id, as_json, reader, citation)
        except errors.IssuerError as exc:
            console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(1)
        finally:
            if reader is not None:
                reader.close()
        return
    try:
        dep = read_deployment(deployment)
        signer = _signer(keystore, demo_issuer, scheme_id)
        salt = _salt(salt_file)
        client = IssuerClient.from_deployment(signer, scheme_id, salt, deployment=dep, rpc_url=rpc,
                                              config=ClientConfig(max_batch_items=batch_size,
                                                                  max_in_flight=max_in_flight))
        cited = adapter.citation(client)  # before anything is sent: a file governance did not publish stops here
    except (errors.IssuerError, ValueError, OSError) as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    if listen:
        _listen(listen, adapter, client, cited)
        return
    run = IssueRun(path, adapter.program, scheme_id, client, adapter, restart, cited)
    try:
        summary = run.execute(show_progress=not as_json)
    except errors.IssuerError as exc:
        _print_summary(run.summary(), as_json, failed=exc)
        raise typer.Exit(1)
    finally:
        client.close()
    _print_summary(summary, as_json)


def _listen(address: str, adapter, client, cited: int | None) -> None:
    """Serve the HTTP source until interrupted (Ctrl-C); a bad address or a missing secret exits 2."""
    from issuer_sdk import errors
    from issuer_sdk.listen import RecordSource, serve

    host, _, port = address.rpartition(":")
    try:
        source = RecordSource(adapter, client, os.environ.get("CITYPOINTS_SOURCE_SECRET", ""), cited)
        server = serve(source, host or "127.0.0.1", int(port))
    except (ValueError, OSError, errors.IssuerError) as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        client.close()
        raise typer.Exit(2)
    bound = f"{server.server_address[0]}:{server.server_address[1]}"
    cites = f"citing published version {cited}" if cited else "not citing: the scheme has published no rules"
    print(f"listening on http://{bound}/ for {adapter.program} records (rules {adapter.rules_version}, {cites})",
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        client.close()


def _one_source(source: Path | None, file: Path | None) -> Path:
    if source and file and source != file:
        raise ValueError("give the export once: SOURCE or --file")
    if not (source or file):
        raise ValueError("no export given: citypoints issue --adapter MAPPING SOURCE")
    return source or file


def _adapter(adapter_file: Path | None, program: str | None):
    from issuer_sdk.adapters import adapter_for, load_adapter

    if bool(adapter_file) == bool(program):
        raise ValueError("give --adapter MAPPING_FILE or --program NAME (one of them)")
    return load_adapter(adapter_file) if adapter_file else adapter_for(program)


def _reading_client(scheme: int, salt_file: Path | None, deployment: Path | None, rpc: str | None,
                    keystore: Path | None, demo_issuer: bool):
    """A client that only reads (which refs the issuer's sequence book and the ledger hold), for the dry run; None
    without a salt or an issuer. It never signs: the keystore's address is enough (no password asked)."""
    from issuer_sdk.client import IssuerClient
    from issuer_sdk.signer import AddressOnly, keystore_address

    if not salt_file and not os.environ.get("CITYPOINTS_ISSUER_SALT") or not (keystore or demo_issuer):
        return None
    signer = AddressOnly(keystore_address(keystore)) if keystore else _signer(None, demo_issuer, scheme)
    return IssuerClient.from_deployment(signer, scheme, _salt(salt_file), deployment=deployment, rpc_url=rpc)


def _dry_citation(adapter, reader, scheme: int, deployment: Path | None, rpc: str | None):
    """What the run would cite: the published version (int), None (the scheme has published no rules), or the
    sentence saying why it cannot tell or why the run would stop (a str)."""
    from issuer_sdk import errors
    from issuer_sdk.client import IssuerClient
    from issuer_sdk.signer import LocalSigner

    client = reader
    try:
        if client is None:  # the registry needs no salt: a throwaway one, as the throwaway key
            client = IssuerClient.from_deployment(LocalSigner(os.urandom(32)), scheme, os.urandom(32),
                                                  deployment=deployment, rpc_url=rpc)
        return adapter.citation(client)
    except errors.RulesNotPublished as exc:
        return f"the run would stop: {exc}"
    except (errors.IssuerError, ValueError, OSError) as exc:
        return f"the published rules could not be read ({exc})"
    finally:
        if client is not None and client is not reader:
            client.close()


def dry_run_report(adapter, path: Path, scheme: int, as_json: bool, reader=None, citation=None) -> dict:
    """Every record of the export as the real run would take it: issued (resident, points, rule, ref), a duplicate
    the ledger would skip (its ref already on the ledger, when `reader` can ask, or earlier in this file), or
    rejected (code, sentence). Reads the whole file (no progress file); sends and writes nothing. It remembers the
    file's refs to find repeats (about 100 bytes a record)."""
    from issuer_sdk.client import STATUS_BATCH

    totals = {"dry_run": True, "file": str(path), "program": adapter.program, "scheme": scheme,
              "rules_version": adapter.rules_version, "rules_sha256": adapter.rules_sha256,
              "rules_cited": citation if isinstance(citation, int) else None,
              "rules_citation_problem": citation if isinstance(citation, str) else None,
              "checked_against_ledger": reader is not None,
              "would_issue": 0, "would_issue_points": 0, "duplicates": 0, "rejected": 0}
    seen: set[str] = set()

    def show(o, on_ledger: bool) -> None:
        if o.rejected:
            totals["rejected"] += 1
            entry = {"line": o.line, "status": "rejected", "reason": o.reason, "detail": o.detail}
            text = f"line {o.line:>7}  rejected   {o.reason}: {o.detail}"
        else:
            item = o.issuance
            entry = {"line": o.line, "status": "would_issue", "resident": item.resident, "amount": item.amount,
                     "reason": item.reason, "rule": o.rule, "rules_cited": totals["rules_cited"], "ref": item.ref}
            version = f" v{totals['rules_cited']}" if totals["rules_cited"] else ""
            text = (f"line {o.line:>7}  {item.resident}  {item.amount:>8,} points  rule {o.rule}{version} "
                    f"(reason {item.reason})  ref {item.ref}")
            if on_ledger or item.ref in seen:
                totals["duplicates"] += 1
                entry["status"] = "duplicate"
                entry["detail"] = "already on the ledger" if on_ledger else "the ref of an earlier line of this file"
                text += f"  -> duplicate, skipped: {entry['detail']}"
            else:
                totals["would_issue"] += 1
                totals["would_issue_points"] += item.amount
                seen.add(item.ref)
        print(json.dumps(entry) if as_json else text)

    chunk: list = []

    def flush() -> None:
        refs = [o.issuance.ref for o in chunk if not o.rejected]
        used = iter([st.used for st in reader.statuses(refs)] if reader is not None and refs else [])
        for o in chunk:
            show(o, not o.rejected and next(used, False))
        chunk.clear()

    for outcome in adapter.read_file(path):
        chunk.append(outcome)
        if len(chunk) >= STATUS_BATCH:
            flush()
    flush()
    if as_json:
        print(json.dumps(totals))
    else:
        checked = "" if reader is not None else " (not checked against the ledger)"
        print(f"dry run of {path.name}: would issue {totals['would_issue']:,} "
              f"({totals['would_issue_points']:,} points) in scheme {scheme}, duplicates skipped "
              f"{totals['duplicates']:,}{checked}, rejected {totals['rejected']:,}; "
              f"rules {adapter.rules_version} (sha256 {adapter.rules_sha256}), {_citation_words(citation)}; "
              "nothing was sent")
    return totals


def _citation_words(citation) -> str:
    if isinstance(citation, int):
        return f"cited as published version {citation}"
    if citation is None:
        return "not cited: the scheme has published no rules"
    return citation


@dataclass
class RunSummary:
    file: str
    issued: int
    issued_points: int
    duplicates: int
    rejected: int
    resumed_from_line: int
    rejected_file: str | None
    program: str | None = None
    rules_version: str | None = None
    rules_sha256: str | None = None
    rules_cited: int | None = None  # the published version of the scheme's rules the batches cited on chain
    error: str | None = None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class IssueRun:
    """One run of the command: progress file, rejects file, the client's stream, the summary."""

    def __init__(self, path: Path, program: str, scheme: int, client, adapter, restart: bool,
                 rules_cited: int | None = None):
        self.path = Path(path)
        self.rules_cited = rules_cited  # the published version every batch cites (None: the scheme has none)
        self.program = program
        self.scheme = scheme
        self.client = client
        self.adapter = adapter
        self.progress_path = self.path.with_name(self.path.name + PROGRESS_SUFFIX)
        self.rejected_path = self.path.with_name(self.path.name + REJECTED_SUFFIX)
        self.state = self._load_state(restart)
        self.resumed_from_line = self.state["line"]
        self._rejected_this_run = 0
        self._rejects_lock = threading.Lock()

    def execute(self, *, show_progress: bool = True) -> RunSummary:
        rejects = self._open_rejects()
        try:
            outcomes = self.adapter.read_file(self.path, start_offset=self.state["offset"],
                                              start_line=self.state["line"])

            def accepted():
                for outcome in outcomes:
                    if outcome.rejected:  # this generator runs in the client's sender thread
                        with self._rejects_lock:
                            rejects.writerow([outcome.line, outcome.reason, outcome.detail,
                                              json.dumps(outcome.record, default=str, sort_keys=True)])
                        self._rejected_this_run += 1
                    else:
                        yield outcome.issuance

            size = self.path.stat().st_size
            with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                          TransferSpeedColumn(), TimeElapsedColumn(), TextColumn("{task.fields[counts]}"),
                          console=console, disable=not show_progress, transient=False) as bar:
                task = bar.add_task(f"issuing {self.path.name}", total=size, completed=self.state["offset"],
                                    counts="")
                for batch in self.client.stream(accepted(), rules_version=self.rules_cited):
                    self.state["issued"] += batch.issued
                    self.state["issued_points"] += batch.issued_amount
                    self.state["duplicates"] += batch.duplicates
                    if not batch.after_failure:
                        line, offset = batch.items[-1].source
                        self.state["line"], self.state["offset"] = line, offset
                        self._save_state()
                        bar.update(task, completed=offset,
                                   counts=f"issued {self.state['issued']:,}  dup {self.state['duplicates']:,}")
                # the tail after the last issued record may hold only rejected rows
                self.state["line"], self.state["offset"], self.state["complete"] = -1, size, True
                self._save_state()
                bar.update(task, completed=size,
                           counts=f"issued {self.state['issued']:,}  dup {self.state['duplicates']:,}")
        finally:
            self._rejects_file.close()
        return self.summary()

    def summary(self) -> RunSummary:
        rejected = self._count_rejects()
        return RunSummary(str(self.path), self.state["issued"], self.state["issued_points"], self.state["duplicates"],
                          rejected, self.resumed_from_line,
                          str(self.rejected_path) if rejected else None, self.program,
                          getattr(self.adapter, "rules_version", None), getattr(self.adapter, "rules_sha256", None),
                          rules_cited=self.rules_cited)

    # -- progress file --------------------------------------------------------------------------------------

    def _identity(self) -> dict:
        h = hashlib.sha256()
        with open(self.path, "rb") as f:
            h.update(f.read(1 << 16))
        return {"file": self.path.name, "head_sha256": h.hexdigest(), "program": self.program, "scheme": self.scheme,
                "ledger": self.client.ledger, "chainId": self.client.chain_id, "issuer": self.client.signer.address,
                "rules_version": getattr(self.adapter, "rules_version", None),
                "rules_sha256": getattr(self.adapter, "rules_sha256", None)}

    def _load_state(self, restart: bool) -> dict:
        fresh = {"identity": self._identity(), "offset": 0, "line": 0, "issued": 0, "issued_points": 0,
                 "duplicates": 0, "complete": False}
        if restart or not self.progress_path.exists():
            return fresh
        try:
            state = json.loads(self.progress_path.read_text())
        except ValueError:
            console.print(f"[yellow]progress file {self.progress_path} unreadable; starting over "
                          "(the ledger skips refs already issued)[/yellow]")
            return fresh
        if state.get("identity") != fresh["identity"]:
            console.print(f"[yellow]{self.progress_path} belongs to another file, chain or issuer; starting over"
                          "[/yellow]")
            return fresh
        if state.get("complete"):
            console.print(f"[yellow]{self.path.name} was issued completely before; re-sending everything: the "
                          "ledger will skip what it has[/yellow]")
            return {**fresh, "issued": 0}
        return state

    def _save_state(self) -> None:
        with self._rejects_lock:  # the rejects up to the checkpoint are on disk before the checkpoint is
            self._rejects_file.flush()
            os.fsync(self._rejects_file.fileno())
        replace_atomically(self.progress_path, lambda f: f.write(json.dumps(self.state)))

    # -- rejects file -----------------------------------------------------------------------------------------

    def _open_rejects(self):
        """Keep rejected rows up to the checkpoint line (a killed run may have written later ones), then append.

        The kept rows are rewritten through a temporary file renamed over the old one, so a crash during the
        rewrite leaves the old file whole (rows a previous run confirmed are never lost)."""
        kept: list[list[str]] = []
        if self.state["line"] > 0 and self.rejected_path.exists():
            with open(self.rejected_path, newline="") as f:
                rows = list(csv.reader(f))[1:]
            kept = [r for r in rows if r and r[0].isdigit() and int(r[0]) <= self.state["line"]]

        def write(f):
            writer = csv.writer(f)
            writer.writerow(REJECTED_HEADER)
            writer.writerows(kept)

        replace_atomically(self.rejected_path, write)
        self._rejects_file = open(self.rejected_path, "a", newline="")
        return csv.writer(self._rejects_file)

    def _count_rejects(self) -> int:
        if not self.rejected_path.exists():
            return 0
        with open(self.rejected_path, newline="") as f:
            n = sum(1 for _ in csv.reader(f)) - 1
        if n <= 0:
            self.rejected_path.unlink()
            return 0
        return n


def _signer(keystore: Path | None, demo_issuer: bool, scheme: int):
    from issuer_sdk.errors import ConfigurationError
    from issuer_sdk.signer import LocalSigner, keystore_signer

    if keystore and demo_issuer:
        raise ConfigurationError("give --keystore or --demo-issuer, not both")
    if keystore:
        return keystore_signer(keystore)
    if demo_issuer:
        from ledger_node import paths

        demo = json.loads(paths.demo_file().read_text())
        for issuer in demo.get("issuers", []):
            if int(issuer["scheme"]) == scheme:
                return LocalSigner(issuer["privateKey"])
        raise ConfigurationError(f"var/demo.json has no issuer of scheme {scheme}")
    raise ConfigurationError("no signer: give --keystore (or --demo-issuer in the demo city)")


def _salt(salt_file: Path | None) -> bytes:
    from issuer_sdk.errors import ConfigurationError
    from issuer_sdk.refs import load_salt

    if salt_file:
        return load_salt(salt_file)
    env = os.environ.get("CITYPOINTS_ISSUER_SALT")
    if not env:
        raise ConfigurationError("no salt: give --salt-file or set CITYPOINTS_ISSUER_SALT (32 bytes, hex)")
    return bytes.fromhex(env.removeprefix("0x"))


def _print_summary(summary: RunSummary, as_json: bool, failed=None) -> None:
    if failed is not None:
        summary.error = str(failed)
    if as_json:
        print(json.dumps(summary.as_dict()))
        return
    out = Console()
    if summary.resumed_from_line:
        out.print(f"resumed after line {summary.resumed_from_line:,} (confirmed by an earlier run)")
    out.print(f"[green]issued[/green] {summary.issued:,} ({summary.issued_points:,} points)   "
              f"[yellow]duplicates skipped[/yellow] {summary.duplicates:,}   "
              f"[red]rejected[/red] {summary.rejected:,}")
    if summary.rules_sha256:
        cited = (f", cited on chain as published version {summary.rules_cited}" if summary.rules_cited else
                 ", not cited: the scheme has published no rules")
        out.print(f"rules {summary.rules_version} (sha256 {summary.rules_sha256}){cited}", highlight=False)
    if summary.rejected_file:
        out.print(f"rejected rows and reasons: {summary.rejected_file}")
    if failed is not None:
        out.print(f"[red]stopped:[/red] {failed}")
        out.print("rerun the same command to continue: nothing confirmed will be issued again")


if __name__ == "__main__":  # pragma: no cover - `python -m issuer_sdk.cli issue ...`
    app()
