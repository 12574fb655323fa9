"""Errors raised while reading a subject file.

Row-level problems never raise: they come back as :class:`~app.subjects.model.Rejection` or
:class:`~app.subjects.model.Issue` values. Only problems that make the whole file unusable raise
:class:`SubjectFileError`, before any row is read, or while reading when the file's structure is broken
(a stray quote that swallows the records after it), in which case the import writes nothing.
"""

from __future__ import annotations


class SubjectFileError(ValueError):
    """The subject file (or its mapping file) cannot be imported at all.

    The message names the offending header, column or file so that a person can fix the source
    file; it never contains contact data from the rows.

    Attributes:
        column: the header or canonical column concerned, when there is one.
        part: what is at fault: ``file`` (the subject file) or ``mapping`` (the mapping that overrides
            header matching); an API error names it as the path.
    """

    def __init__(self, message: str, *, column: str | None = None, part: str = "file") -> None:
        super().__init__(message)
        self.column, self.part = column, part
