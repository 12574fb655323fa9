"""Playbooks name the content-element sets of their notices; an unknown set stops loading."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.notices.elements import ELEMENT_SETS
from app.playbooks.errors import PlaybookError
from app.playbooks.loader import DEFAULT_DIRECTORY, load_playbooks
from app.playbooks.schema import AudienceName


def test_shipped_playbooks_name_known_sets_for_individuals() -> None:
    playbooks = load_playbooks()
    sets = {rid: list(rule.content_elements) for rid, pb in playbooks.items()
            for rule in [pb.audience(AudienceName.individuals)] if rule and rule.content_elements}
    assert sets == {"us-ca": ["us-ca"], "us-hipaa": ["us-hipaa"], "eu-gdpr": ["eu-gdpr"], "uk-gdpr": ["eu-gdpr"],
                    "cn-pipl": ["cn-pipl", "cn-gbt35273"]}
    assert all(key in ELEMENT_SETS for keys in sets.values() for key in keys)


def test_unknown_set_is_rejected_with_file_line_and_field(tmp_path: Path) -> None:
    shutil.copytree(DEFAULT_DIRECTORY, tmp_path / "pb")
    path = tmp_path / "pb" / "us-ca.yaml"
    text = path.read_text()
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "content_elements:" in row)
    path.write_text(text.replace("content_elements: [us-ca]", "content_elements: [us-ca, us-cal]"))
    with pytest.raises(PlaybookError) as caught:
        load_playbooks(tmp_path / "pb")
    assert len(caught.value.problems) == 1
    problem = caught.value.problems[0]
    assert problem.startswith(f"{path}:{line}: audiences[0].content_elements[1]: unknown content element set 'us-cal'")
