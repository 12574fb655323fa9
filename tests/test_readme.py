"""The README's configuration table is the one the code describes."""

from __future__ import annotations

from pathlib import Path

from app.config import markdown_table


def test_readme_lists_every_setting() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert markdown_table() in readme
