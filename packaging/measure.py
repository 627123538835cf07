"""How a built bundle's size splits: `python packaging/measure.py [dist/modeldesk]` (packaging/README.md).

Each top-level entry of ``_internal`` goes to the first group whose prefixes match; shared libraries
(numpy, pandas, the Python runtime) count under "the rest"."""

from __future__ import annotations

import sys
from pathlib import Path

GROUPS = {
    "Qt": ("PySide6", "shiboken6", "libQt6", "libicu", "libgtk", "libgdk", "libatk", "libcairo", "libpango",
           "libharfbuzz", "libepoxy", "libxkb", "libxcb", "libX", "libfontconfig", "libfreetype", "libglib",
           "libgio", "libgobject", "libgmodule", "libpixman", "libpng", "libwayland", "libEGL", "libGL",
           "libdbus", "libpcre"),
    "mlflow": ("mlflow", "sqlalchemy", "alembic", "flask", "werkzeug", "graphene", "graphql", "opentelemetry",
               "databricks", "sqlparse", "mako", "gunicorn", "huey", "cachetools", "cloudpickle", "google"),
    "gradio": ("gradio", "hf_gradio", "safehttpx", "groovy", "huggingface_hub", "PIL", "pillow", "ffmpy",
               "pydub", "tomlkit", "semantic_version", "aiofiles", "brotli", "_brotli", "markdown_it",
               "mdurl", "audioop", "orjson", "hf_xet"),
}  # fmt: skip


def size(path: Path) -> int:
    if path.is_symlink():  # PyInstaller links libraries into _internal: count each file once
        return 0
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def split(bundle: Path) -> dict[str, int]:
    totals = dict.fromkeys([*GROUPS, "the rest"], 0)
    for entry in (bundle / "_internal").iterdir():
        group = next((g for g, prefixes in GROUPS.items() if entry.name.startswith(prefixes)), "the rest")
        totals[group] += size(entry)
    totals["the rest"] += sum(size(p) for p in bundle.iterdir() if p.name != "_internal")
    return totals


def main() -> None:
    bundle = Path(sys.argv[1] if len(sys.argv) > 1 else "dist/modeldesk")
    totals = split(bundle)
    whole = sum(totals.values())
    for group, n in totals.items():
        print(f"{group:10} {n / 1e6:7.0f} MB  {100 * n / whole:3.0f} %")
    print(f"{'total':10} {whole / 1e6:7.0f} MB")


if __name__ == "__main__":
    main()
