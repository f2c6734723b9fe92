"""Typer commands for `citypoints node backup`, `restore` and `repair-journal` (registered in scripts/cli.py)."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

console = Console()
err = Console(stderr=True)


def backup_cmd(dest: Path = typer.Argument(..., help="A new (or empty) directory for the backup.")):
    """Copy the embedded chain consistently, also while the node runs (blocks pause during the copy)."""
    from ledger_node.node.anvil import NodeError
    from ledger_node.node.backup import backup

    try:
        manifest = backup(dest)
    except (NodeError, OSError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1)
    size = sum(f["size"] for f in manifest["files"].values())
    console.print(f"backed up the {manifest['engine']} chain at block {manifest['height']} to {dest} "
                  f"({len(manifest['files'])} files, {size / 1e6:.1f} MB)")


def restore_cmd(src: Path = typer.Argument(..., help="A directory written by `citypoints node backup`."),
                replay_journal: bool = typer.Option(
                    False, "--replay-journal", help="Then append the current journal's records after the backup's "
                                                    "end, so nothing journaled since the backup is lost.")):
    """Replace var/chain/ with a verified backup (the node must be stopped; the old chain is moved aside)."""
    from ledger_node.node.anvil import NodeError
    from ledger_node.node.backup import restore

    try:
        console.print(restore(src, replay_journal=replay_journal), soft_wrap=True)
    except (NodeError, OSError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1)


def repair_journal() -> str:
    """Cut the journal at its first damage (the node must be stopped); returns what was done and what it loses."""
    import time

    from ledger_node import paths

    from ledger_node.node import journal, node_control, state_file
    from ledger_node.node.anvil import NodeError

    if node_control.status().running:
        raise NodeError("the node is running; stop it first (`citypoints node stop`)")
    chain = paths.chain_dir()
    first_segment = 1
    if (chain / "state.dump").exists():
        try:
            first_segment = state_file.read_meta(chain / "state.dump")[1].segment
        except state_file.CorruptState as exc:
            raise NodeError(f"{exc}; restore a backup (`citypoints node restore BACKUP --replay-journal`)") from exc
    aside = chain / f"journal-damaged-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    done = journal.repair(chain / "journal", first_segment, aside)
    if done is None:
        return "the journal has no damage in the middle: nothing to repair (a torn tail is cut at start)"
    lost = len(done.lost)
    return (f"repaired the journal: {done.damage.problem.split('; the journal is damaged')[0]}; kept the "
            f"{done.kept_records} records before byte {done.damage.offset} of {done.damage.path}; moved the rest "
            f"({done.moved_records} readable records) to {done.aside}; this loses {lost} acknowledged "
            f"transaction{'' if lost == 1 else 's'} (hashes and signed bytes in {aside / 'lost-transactions.json'}; "
            f"the damaged record itself could not be read); start the node with `citypoints node start`")


def repair_journal_cmd():
    """Journal damaged in the middle: keep every record before the damage, move the rest aside (not deleted) and
    list the acknowledged transactions that loses (the node must be stopped)."""
    from ledger_node.node.anvil import NodeError

    try:
        console.print(repair_journal(), soft_wrap=True)
    except (NodeError, OSError) as exc:
        err.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(1)
