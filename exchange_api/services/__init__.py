"""The service layer between routers and storage/chain: one module per resource."""
