"""Pure extraction: a page's text and URL in, an article record or a listing out."""

PARSER_VERSION = "1"
