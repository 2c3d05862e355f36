"""The Scrapy project: spiders for each source, pure extraction, middlewares, the item
pipelines, the archive-state extension and the stats collector that records each run."""
