"""The RetentionAI web app (Streamlit), shipped inside the module.

    python -m retention.app [streamlit run options, e.g. --server.port 8502]

needs the ``app`` extra (``pip install "retentionai[app]"``). The page script is
:data:`SCRIPT`; ``streamlit run`` on it works too.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

SCRIPT = Path(__file__).with_name("streamlit_app.py")


def main(argv: Sequence[str] | None = None) -> int:
    """Runs ``streamlit run SCRIPT *argv``; returns Streamlit's exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["-h"], ["--help"]):
        print(__doc__.strip())
        return 0
    try:
        from streamlit.web import cli as streamlit_cli
    except ImportError:
        print(
            "retention.app needs Streamlit: pip install \"retentionai[app]\"",
            file=sys.stderr,
        )
        return 2
    sys.argv = ["streamlit", "run", str(SCRIPT), *args]
    try:
        streamlit_cli.main()
    except SystemExit as stop:
        code = stop.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0
