"""Sources: one folder each behind the interface in base.py, listed once in registry.py."""
