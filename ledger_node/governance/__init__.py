"""`citypoints gov`: the consortium's governance from the command line, without writing Python.

A member proposes a named action (or a raw call), the others approve, anyone of them executes once the notice has
passed; every proposal's calls are read back in words. The contracts decide everything (contracts/Consortium.sol);
this package validates arguments before anything is sent, and turns the contracts' refusals into the stable codes
of ledger_node.contract_errors.
"""
