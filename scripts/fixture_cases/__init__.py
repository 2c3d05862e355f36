"""The extraction fixture cases of ``scripts/make_fixtures.py``, one module per page layout.

``common`` holds the inputs (corpus records, the seed dump, the real pages) and the expected
values derived from them; ``kcna_q``, ``kcna_detail``, ``kcnawatch`` and ``kcna_old`` each
write their layout's cases under ``tests/fixtures/<layout>/``.
"""
