"""Running an instance for years: backups, restore, moving databases, health checks, the worker's heartbeat."""
