"""vecbridge adapter for PostgreSQL + pgvector: ``pgvector://user:password@host:port/dbname?schema=NAME``."""

from vecbridge_pgvector.adapter import PgvectorAdapter, PgvectorBulkLoad
from vecbridge_pgvector.filters import PgvectorFilterCompiler, SqlFilter

__all__ = ["PgvectorAdapter", "PgvectorBulkLoad", "PgvectorFilterCompiler", "SqlFilter"]
