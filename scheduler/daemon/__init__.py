"""The monitoring daemon: its service, the runs it supervises, their child crawls, the schedule."""
