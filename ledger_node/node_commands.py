"""Typer commands for `citypoints node backup` and `citypoints node restore` (registered in scripts/cli.py)."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

console = Console()
err = Console(stderr=True)


def backup_cmd(dest: Path = typer.Argument(..., help="A new (or empty) directory for the backup.")):
    """Copy the embedded chain consistently, also while the node runs (blocks pause during the copy)."""
    from ledger_node.anvil import NodeError
    from ledger_node.backup import backup

    try:
        manifest = backup(dest)
    except (NodeError, OSError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1)
    size = sum(f["size"] for f in manifest["files"].values())
    console.print(f"backed up the {manifest['engine']} chain at block {manifest['height']} to {dest} "
                  f"({len(manifest['files'])} files, {size / 1e6:.1f} MB)")


def restore_cmd(src: Path = typer.Argument(..., help="A directory written by `citypoints node backup`.")):
    """Replace var/chain/ with a verified backup (the node must be stopped; the old chain is moved aside)."""
    from ledger_node.anvil import NodeError
    from ledger_node.backup import restore

    try:
        console.print(restore(src))
    except (NodeError, OSError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1)
