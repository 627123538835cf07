"""ModelDesk: every language model you can use, in one desktop registry."""

__version__ = "0.1.0"
__all__ = ["__version__"]
