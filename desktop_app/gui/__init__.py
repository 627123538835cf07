"""The desktop window (PySide6 + qasync). The only package that imports Qt.

Nothing here holds business logic: the window shows what ``services`` return and asks them to act.
Modules follow napari's naming: Qt classes are ``Qt*`` in ``qt_*.py`` files, Qt overrides are
camelCase and our own methods snake_case. Importing this package imports no Qt; ``app.run`` does.
"""
