"""Render corpus-like article records as HTML pages of each source layout.

:mod:`~replica.render.kcna` writes kcna.kp's two layouts (``/q/`` and ``/detail/``) and the page a
web filter shows in their place, :mod:`~replica.render.kcnawatch` KCNA Watch's, and
:mod:`~replica.render.markup` holds what they share.

A *record* is a dict like a line of the corpus: ``url``, ``title``, ``published``
(``YYYY-MM-DD``), ``topics`` and ``text`` (one paragraph per line, dateline first, ``-0-`` last).

A listing *entry* is a tuple ``(href, title, published)`` or ``(href, title, published, teaser)``:
``href`` is written into the page as given (pass a path such as ``/en/article/detail/<hex>`` for
the relative links of kcna.kp), ``published`` a ``date``, an ISO string or None.

The quirks described for each layout are switches with defaults that match the real sites.
Everything is deterministic: ids and tokens are derived from the input with hashes.
"""
