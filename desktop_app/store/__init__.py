"""Persistent state: the SQLite registry, the settings file and stored keys."""
