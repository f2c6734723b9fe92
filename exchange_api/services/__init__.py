"""The service layer between routers and storage/chain: one module per resource, each a class holding the
dependencies it uses (built once by runtime.py, never reaching into the runtime), answering typed results
(results.py) that the routers turn into HTTP."""
