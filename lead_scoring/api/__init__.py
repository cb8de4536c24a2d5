"""The events API's request checks, in plain Python (no database)."""
