"""The PyInstaller build's entry point: the ``pacsadmin`` command (no arguments: the window).

``freeze_support`` first: the viewer's decoder worker processes are started with the
"spawn" method, which in a frozen app re-runs this program with multiprocessing's own
arguments; it takes them over before the CLI sees them.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from pacsadmin.cli.main import main

    sys.exit(main())
