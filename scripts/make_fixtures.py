"""Build the extraction fixtures in tests/fixtures/<layout>/<case>/.

Each case gets ``page.html``, ``url.txt``, ``expected.json`` and, when needed, ``context.json``
(``today`` and the listing ``hint``). Expected values are derived from the *input* (the corpus
record, the seed text, the listing entries), never from the extractor's output, and are then
reviewed by hand. The cases of each layout are in ``scripts/fixture_cases/<layout>.py``.

Usage (from the repository root)::

    python scripts/make_fixtures.py [--shared ../shared]

``--shared`` is the folder holding ``corpus/``, ``seeds/`` and ``real-pages/``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fixture_cases import kcna_detail, kcna_old, kcna_q, kcnawatch  # noqa: E402
from fixture_cases.common import OUT, load_inputs  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    args = parser.parse_args()
    inputs = load_inputs(args.shared)
    for layout in (kcna_q, kcna_detail, kcnawatch, kcna_old):
        layout.write_all(inputs)
    print(f"fixtures written under {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
