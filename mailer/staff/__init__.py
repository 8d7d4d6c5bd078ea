"""Staff accounts and the use cases behind the staff web app (no Flask here)."""
