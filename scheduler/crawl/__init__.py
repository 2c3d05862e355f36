"""One crawl in this process: its options and plan, the run itself, and how it stops."""
