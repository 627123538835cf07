"""Entry script for the PyInstaller bundle.

The bundle's executable is also its Python for the children that libraries start themselves:
``mlflow server`` runs ``sys.executable -m uvicorn …``, which here means ``modeldesk -m uvicorn …``.
So ``-m MODULE ARGS`` runs that bundled module as ``__main__``, as ``python -m`` would.
"""

import multiprocessing
import runpy
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a library's multiprocessing child lands here first
    if len(sys.argv) >= 3 and sys.argv[1] == "-m":
        module = sys.argv[2]
        sys.argv = [sys.argv[0], *sys.argv[3:]]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        raise SystemExit(0)

    from desktop_app.cli import main

    raise SystemExit(main())
