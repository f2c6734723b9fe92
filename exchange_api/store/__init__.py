"""The API's store: SQLAlchemy 2 models (models.py), engine and sessions (db.py), alembic migrations (migrations/)."""
