"""The Scrapy project: spiders for each source, pure extraction, and the item pipelines."""
