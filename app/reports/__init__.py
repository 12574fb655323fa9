"""Regulator reports per regime, signed export bundles and regulator access (issue 7, regulator side).

See ``docs/reports.md``. Modules: ``models`` (tables), ``regimes`` (report types, regime extras, content
models), ``content`` (building a report's content), ``service`` (versions, phases, approval), ``exports``
(JSON, HHS CSV, PDF), ``signing``/``verify`` (Ed25519, standalone verification), ``bundles``,
``sharing`` (grants), ``routes``, ``cli``.
"""
