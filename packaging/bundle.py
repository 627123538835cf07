"""What goes into the PyInstaller bundle, kept apart from the spec so `make test` can check it without
building (tests/packaging/test_spec.py) and the spec stays a short recipe.

The bundle runs every feature. The window, every CLI command and every child process (MLflow's
logger and UI server, `share`, `serve`, MCP clients) start from the bundle's one executable; the
heavy libraries are in the bundle but only the child that needs one imports it.
"""

from __future__ import annotations

# Modules imported by name at run time, which PyInstaller's import scan cannot see. Each child entry
# point is listed by itself too, so a rename fails the spec check instead of the frozen app.
CHILD_ENTRY_POINTS = (
    "desktop_app.adapters.mlflow_tracking",  # `modeldesk mlflow _log RUN` (the window's logger child)
    "desktop_app.cli.mlflow_cmd",  # `mlflow _log`, `mlflow _server` (the frozen `python -m mlflow server`)
    "desktop_app.share.server",  # `modeldesk share` (Gradio)
    "desktop_app.serve.server",  # `modeldesk serve` (FastAPI on uvicorn)
    "desktop_app.adapters.mcp",  # MCP tool servers (stdio and streamable HTTP clients)
)

# Imported by name at run time by the libraries themselves (registries keyed by a URI scheme, ASGI
# apps named by a string, keyring's backends found through entry points).
LIBRARY_HIDDEN = (
    "keyring.backends.SecretService",
    "keyring.backends.fail",
    "keyring.backends.null",
    "keyring.backends.macOS",
    "keyring.backends.Windows",
    "mlflow.server.fastapi_app",  # uvicorn is given "mlflow.server.fastapi_app:app" as a string
    "mlflow.server.handlers",
    "mlflow.store.tracking.sqlalchemy_store",  # the embedded sqlite:/// store
    "mlflow.store.model_registry.sqlalchemy_store",
    "mlflow.store.artifact.local_artifact_repo",
    "mlflow.store.db.utils",
    "uvicorn.lifespan.on",
    "uvicorn.protocols.http.h11_impl",
    "uvicorn.protocols.websockets.wsproto_impl",
    "uvicorn.loops.asyncio",
    "uvicorn.__main__",  # `modeldesk -m uvicorn` (how mlflow server starts its app; see entry.py)
    "sqlite3",
)

# Packages collected whole, submodules by name: the ones that import parts of themselves by string.
COLLECT_SUBMODULES = (
    "desktop_app",
    "mlflow.store",
    "mlflow.server",
    "mlflow.tracking",
    "mlflow.entities",
    "mlflow.tracing",
    "mlflow.genai.prompts",
)

# Not collected with them: MLflow's basic-auth app needs flask-wtf, which ModelDesk does not install.
NOT_COLLECTED = ("mlflow.server.auth",)

# Data files (templates, the UIs' JavaScript, SQL migrations, version files read at import time).
COLLECT_DATA = ("gradio", "gradio_client", "safehttpx", "groovy", "mlflow")
# Alembic runs mlflow's migration scripts from their files.
COLLECT_DATA_WITH_PY = ("mlflow.store.db_migrations",)
# Their dist-info: versions and entry points read through importlib.metadata.
COPY_METADATA = (
    "modeldesk",
    "gradio",
    "gradio_client",
    "mlflow",
    "mlflow-skinny",
    "mlflow-tracing",
    "fastapi",
    "starlette",
    "uvicorn",
    "mcp",
    "keyring",
    "httpx",
    "pydantic",
    "opentelemetry-api",
    "opentelemetry-sdk",
)
# Gradio reads its own components' source (inspect) when it builds them: keep them as .py files.
MODULE_COLLECTION_MODE = {"gradio": "py"}

# What no code path needs: Qt modules the app never imports, test tooling, optional stacks that
# MLflow and Gradio only name in code paths ModelDesk does not take (model flavors, plotting, notebooks).
UNUSED_QT = (
    "PySide6.QtWebEngineCore",
    "PySide6.QtWebEngineWidgets",
    "PySide6.QtQml",
    "PySide6.QtQuick",
    "PySide6.QtQuickControls2",
    "PySide6.QtQuickWidgets",
    "PySide6.QtQuickTest",
    "PySide6.QtDesigner",
    "PySide6.QtHelp",
    "PySide6.QtOpenGL",
    "PySide6.QtOpenGLWidgets",
    "PySide6.QtPrintSupport",
    "PySide6.QtSql",
    "PySide6.QtTest",
    "PySide6.QtUiTools",
    "PySide6.QtXml",
    "PySide6.QtConcurrent",
    "PySide6.QtNetwork",
    "PySide6.QtSvgWidgets",
    "PyQt5",
    "PyQt6",
    "PySide2",
)
UNUSED_OTHER = (
    "tkinter",
    "IPython",
    "jupyter_client",
    "notebook",
    "pytest",
    "_pytest",
    "hypothesis",
    "pytestqt",
    "mypy",
    "ruff",
    "importlinter",
    "PyInstaller",
    "openai",
    "tests",
    "matplotlib",
    "sklearn",
    "torch",
    "tensorflow",
    "keras",
    "transformers",
    "gunicorn",
    "waitress",
    "playwright",
    # Optional imports (each in a try/except) of pandas and MLflow: 150 MB and 75 MB that no path of
    # ModelDesk's reaches (logging, the UI's runs and traces, share: checked with both blocked).
    "pyarrow",
    "scipy",
    "hf_xet",  # huggingface_hub's faster downloads; the share app downloads nothing from the Hub
)
# desktop_app's own modules that only `make screenshots` runs (they drive the test fakes).
DEV_ONLY = ("desktop_app.gui.screenshots", "desktop_app.gui.screenshot_tools")
EXCLUDES = UNUSED_QT + UNUSED_OTHER + DEV_ONLY

# Never excluded: what the features run on (checked by tests/packaging/test_spec.py).
REQUIRED = ("PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets", "PySide6.QtSvg", "qasync", "mlflow",
            "gradio", "fastapi", "uvicorn", "mcp", "keyring", "numpy", "pandas")  # fmt: skip
