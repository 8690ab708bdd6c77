"""Quality checks of the working database before it is published (owned by the quality engineer)."""
