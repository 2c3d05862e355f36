"""What watches the archive: watch rules, source health, notifications and their outbox, feeds."""
