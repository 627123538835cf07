"""ModelDesk: every language model you can use, in one desktop registry."""

import os as _os

__version__ = "0.1.0"

# Pydantic scans every installed distribution's entry points for plugins when the first model class
# is built (~0.1 s with MLflow and Gradio installed). ModelDesk uses no pydantic plugins.
_os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
__all__ = ["__version__"]
