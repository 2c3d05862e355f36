"""The command line and the monitoring service, on top of the crawler and storage."""
