"""Storage: DuckDB schema and migrations, the raw archive, the shared loader."""
