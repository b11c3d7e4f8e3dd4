"""Storage of collected events: the table definitions, migrations, writing and reading."""
