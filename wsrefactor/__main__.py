"""``python -m wsrefactor``. ``-m`` puts the current directory first on ``sys.path``; the analysed
directory must never supply our imports (a ``typer.py`` there would run), so that entry goes."""

import os
import sys

if sys.path and os.path.abspath(sys.path[0] or ".") == os.getcwd():
    del sys.path[0]

from wsrefactor.cli import main  # noqa: E402 - after the sys.path repair on purpose

if __name__ == "__main__":
    main()
