"""`make gen`: writes every generated file of the repository (the code from `scripts/gen_code.py`, the
docs, `meterly/models/__init__.py` and `.speakeasy/gen.lock` from `scripts/gen_docs.py`); `--check` only
reports the stale ones and fails."""

from __future__ import annotations

import argparse
import subprocess
import sys
from typing import List, Optional

from scripts.gen_code import render_code
from scripts.gen_docs import MODELS_DIR, ROOT, export_models, render_all, stale_files


def main(argv: Optional[List[str]] = None) -> int:
    """Write every generated file, or with --check report the stale ones and fail."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    export_models()  # the declarations may name a model added since models/__init__.py was written
    if not args.check:
        code = render_code()
        if any(
            not (ROOT / p).exists() or (ROOT / p).read_text(encoding="utf-8") != t for p, t in code.items()
        ):
            # The docs describe the code as imported: write the code, then render everything afresh.
            for path, text in code.items():
                (ROOT / path).write_text(text, encoding="utf-8")
            return subprocess.run([sys.executable, "-m", "scripts.gen"], cwd=ROOT, check=False).returncode
    rendered = render_all()
    stale = stale_files(rendered)
    if args.check:
        for path in stale:
            print(f"stale: {path}", file=sys.stderr)
        return 1 if stale else 0
    for path in (ROOT / MODELS_DIR).glob("*.md"):
        if path.relative_to(ROOT) not in rendered:
            path.unlink()
    for path, text in rendered.items():
        (ROOT / path).parent.mkdir(parents=True, exist_ok=True)
        (ROOT / path).write_text(text, encoding="utf-8")
    print(f"wrote {len(rendered)} files ({len(stale)} changed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
