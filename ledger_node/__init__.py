"""Running the chain: compiler pipeline, embedded node, deployment (see README.md)."""
