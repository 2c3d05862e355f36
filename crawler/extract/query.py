"""CSS and XPath queries compiled once, at import, and run on lxml elements.

``Selector.css``/``Selector.xpath`` compile their query on every call and wrap every result
in a new :class:`parsel.Selector`; on a few kilobytes of page that costs more than parsing
the page. The layouts declare their queries as module constants built here and run them on
the parsed tree (``parse_html(body).root``). CSS is translated exactly as parsel translates it
for an HTML page, so a query finds the same nodes as ``Selector.css`` would.
"""

from __future__ import annotations

from typing import Any

from lxml import etree
from parsel import Selector
from parsel.csstranslator import HTMLTranslator

_TRANSLATOR = HTMLTranslator()
#: Parsel's HTML parser options, without ``lxml.html``'s element classes: those make lxml call
#: back into Python for every element a query returns.
_PARSER = etree.HTMLParser(recover=True, encoding="utf-8", huge_tree=True)

#: The string value of the context node (XPath ``string()``).
string_value = etree.XPath("string()", smart_strings=False)


def parse_tree(text: str) -> Any:
    """The root element of an HTML page, parsed exactly as ``parsel.Selector(text=...)`` does."""
    body = text.strip().replace("\x00", "").encode("utf-8") or b"<html/>"
    root = etree.fromstring(body, parser=_PARSER)
    return root if root is not None else etree.fromstring(b"<html/>", parser=_PARSER)


def xpath(expression: str) -> etree.XPath:
    """An XPath query; results are elements, or plain strings for text and attributes."""
    return etree.XPath(expression, smart_strings=False)


def css(selector: str) -> etree.XPath:
    """A CSS selector (parsel's ``::text`` and ``::attr(name)`` included) as an XPath query."""
    return xpath(_TRANSLATOR.css_to_xpath(selector))


def element(node: Any) -> Any:
    """The lxml element of a :class:`parsel.Selector`, or ``node`` itself when it is one."""
    return node.root if isinstance(node, Selector) else node
