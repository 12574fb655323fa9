"""Load and validate the playbooks in ``incident_playbooks/`` (one ``<regime-id>.yaml`` per regime).

Every problem is reported as ``file:line: field: reason``. A broken playbook must stop start-up, so
callers let ``PlaybookError`` propagate.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from app.notices.elements import ELEMENT_SETS
from app.playbooks.errors import PlaybookError, describe_validation_error, field_path
from app.playbooks.schema import ObligationRef, Playbook

DEFAULT_DIRECTORY = Path(__file__).resolve().parents[2] / "incident_playbooks"
"""The repository's ``incident_playbooks/`` folder."""


def _line_of(node: yaml.Node | None, loc: tuple[str | int, ...]) -> int | None:
    """The 1-based line of the YAML node at ``loc``, or of its nearest existing parent."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            node = None
        if node is None:
            return line
        line = node.start_mark.line + 1
    return line


def _where(path: Path, line: int | None) -> str:
    return f"{path}:{line}" if line is not None else str(path)


_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML was built with it (same results, several times faster), else the
pure-Python one."""


def _line_finder(text: str) -> Callable[[tuple[str | int, ...]], int | None]:
    """Lines for error messages: the text is composed into YAML nodes (pure Python, with marks) only when a
    problem is reported, so loading valid playbooks parses each file once."""
    nodes = functools.cache(lambda: yaml.compose(text, Loader=yaml.SafeLoader))
    return lambda loc: _line_of(nodes(), loc)


def load_playbook(path: Path) -> Playbook:
    """Parse and validate one playbook file. Raises ``PlaybookError`` naming file, line, field and reason."""
    try:
        text = path.read_text(encoding="utf-8")
        data: Any = yaml.load(text, Loader=_FAST_LOADER)  # noqa: S506 (a safe loader)
    except OSError as exc:
        raise PlaybookError([f"{path}: cannot read: {exc.strerror}"]) from exc
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise PlaybookError([f"{_where(path, line)}: YAML syntax error: {exc.problem}"]) from exc
    if not isinstance(data, dict):
        raise PlaybookError([f"{path}: (top level): must be a mapping of playbook fields"])
    line_of = _line_finder(text)
    try:
        playbook = Playbook.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{_where(path, line_of(loc))}: {field_path(loc)}: {reason}"
            for loc, reason in describe_validation_error(exc)
        ]
        raise PlaybookError(problems) from exc
    if playbook.id != path.stem:
        line = line_of(("id",))
        raise PlaybookError([f"{_where(path, line)}: id: {playbook.id!r} must equal the file name {path.stem!r}"])
    unknown = _unknown_content_elements(playbook)
    if unknown:
        raise PlaybookError([f"{_where(path, line_of(loc))}: {field_path(loc)}: {reason}"
                             for loc, reason in unknown])
    return playbook


def _unknown_content_elements(pb: Playbook) -> list[tuple[tuple[str | int, ...], str]]:
    """``(location, reason)`` for each ``content_elements`` id not in ``app.notices.elements.ELEMENT_SETS``."""
    known = ", ".join(sorted(ELEMENT_SETS))
    return [(("audiences", a, "content_elements", i), f"unknown content element set {key!r} (known: {known})")
            for a, rule in enumerate(pb.audiences) for i, key in enumerate(rule.content_elements)
            if key not in ELEMENT_SETS]


def _refs(pb: Playbook) -> Iterator[tuple[tuple[str | int, ...], ObligationRef]]:
    for a, rule in enumerate(pb.audiences):
        for deemed_i, deemed in enumerate(rule.deemed_satisfied_by):
            yield ("audiences", a, "deemed_satisfied_by", deemed_i, "by"), deemed.by
        own = [(("audiences", a), rule)] + [(("audiences", a, "parts", i), p) for i, p in enumerate(rule.parts)]
        for loc, part in own:
            if part.ref is not None:
                yield (*loc, "ref"), part.ref
            for c, clock in enumerate(part.clocks):
                if clock.after is not None:
                    yield (*loc, "clocks", c, "after"), clock.after


def _check_refs(playbooks: dict[str, Playbook], paths: dict[str, Path]) -> list[str]:
    problems: list[str] = []
    for rid, pb in playbooks.items():
        for loc, ref in _refs(pb):
            target = playbooks.get(ref.regime)
            rule = target.audience(ref.audience) if target else None
            if target is None:
                reason = f"unknown regime {ref.regime!r}"
            elif rule is None:
                reason = f"{ref.regime} has no {ref.audience.value} audience"
            elif ref.part is not None and ref.part not in {p.name for p in rule.parts}:
                reason = f"{ref.regime} {ref.audience.value} has no part {ref.part!r}"
            else:
                continue
            problems.append(f"{paths[rid]}: {field_path(loc)}: {reason}")
    problems.extend(_check_cycles(playbooks, paths))
    return problems


def _check_cycles(playbooks: dict[str, Playbook], paths: dict[str, Path]) -> list[str]:
    edges = {
        (rid, rule.audience.value): {(ref.regime, ref.audience.value) for loc, ref in _refs(pb) if loc[1] == i}
        for rid, pb in playbooks.items()
        for i, rule in enumerate(pb.audiences)
    }
    visiting: set[tuple[str, str]] = set()
    done: set[tuple[str, str]] = set()

    def visit(node: tuple[str, str]) -> tuple[str, str] | None:
        if node in done or node not in edges:
            return None
        if node in visiting:
            return node
        visiting.add(node)
        for nxt in sorted(edges[node]):
            found = visit(nxt)
            if found:
                return found
        visiting.discard(node)
        done.add(node)
        return None

    for start in sorted(edges):
        found = visit(start)
        if found:
            return [f"{paths[found[0]]}: audiences: {found[1]} depends on itself through ref/after links"]
    return []


def load_playbooks(directory: Path | None = None) -> dict[str, Playbook]:
    """All ``*.yaml`` playbooks in ``directory`` (default: the repository's ``incident_playbooks/``).

    Returns ``{regime id: Playbook}``. Raises ``PlaybookError`` listing every problem in every file,
    including references to unknown regimes or audiences and circular clock dependencies.
    """
    folder = directory or DEFAULT_DIRECTORY
    if not folder.is_dir():
        raise PlaybookError([f"{folder}: not a directory"])
    playbooks: dict[str, Playbook] = {}
    paths: dict[str, Path] = {}
    problems: list[str] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            playbooks[path.stem] = load_playbook(path)
            paths[path.stem] = path
        except PlaybookError as exc:
            problems.extend(exc.problems)
    if not playbooks and not problems:
        problems.append(f"{folder}: no *.yaml playbooks found")
    problems.extend(_check_refs(playbooks, paths))
    if problems:
        raise PlaybookError(problems)
    return playbooks
