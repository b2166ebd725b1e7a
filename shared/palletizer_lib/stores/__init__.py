"""What a registry keeps, behind Protocols (`protocols`): local files and SQLite on one machine, S3 and
PostgreSQL on several; `opening` is the one place that opens them."""
