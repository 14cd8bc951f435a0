"""Multiparty session types: the choreography language, global types and projection.

Parse a global protocol (:func:`parse_choreography`), check it
(:func:`check_well_formed`), project it to each role's local type
(:func:`project`, :func:`project_all`) and print it back
(:func:`format_protocol`). Local sends carry the annotations the guard chain
needs. See ``docs/choreographies.md``.
"""

from aura_journal.mpst.choreography_error import (
    ChoreographyError,
    IllFormedChoreography,
    MpstSyntaxError,
)
from aura_journal.mpst.global_type import (
    KEYWORDS,
    OBSERVER_CLASSES,
    Annotations,
    Choice,
    ChoiceBranch,
    Continue,
    Field,
    Message,
    Protocol,
    RecBlock,
    Statement,
)
from aura_journal.mpst.local_type import (
    Branch,
    End,
    LocalType,
    Rec,
    Receive,
    Select,
    Send,
    Var,
    format_local,
)
from aura_journal.mpst.parser import parse_choreography, parse_choreography_file
from aura_journal.mpst.printer import format_protocol
from aura_journal.mpst.projection import merge, project, project_all
from aura_journal.mpst.well_formedness import check_structure, check_well_formed

__all__ = [
    "KEYWORDS",
    "OBSERVER_CLASSES",
    "Annotations",
    "Branch",
    "Choice",
    "ChoiceBranch",
    "ChoreographyError",
    "Continue",
    "End",
    "Field",
    "IllFormedChoreography",
    "LocalType",
    "Message",
    "MpstSyntaxError",
    "Protocol",
    "Rec",
    "RecBlock",
    "Receive",
    "Select",
    "Send",
    "Statement",
    "Var",
    "check_structure",
    "check_well_formed",
    "format_local",
    "format_protocol",
    "merge",
    "parse_choreography",
    "parse_choreography_file",
    "project",
    "project_all",
]
