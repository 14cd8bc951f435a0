"""Parser for the global protocol language.

Grammar (whitespace and ``//`` / ``/* */`` comments are free-form)::

    document   := [ "choreography" "!" "{" ] protocol [ "}" ]
    protocol   := attribute* "protocol" Ident "{" roles statement* "}"
    attribute  := "#" "[" Ident "=" String "]"           (only namespace)
    roles      := "roles" ":" Ident ("," Ident)* [","] ";"
    statement  := message | choice | rec | continue
    message    := Ident [ "[" annotation ("," annotation)* "]" ]
                  "->" Ident ("," Ident)* ":" Ident [ "(" [ field ("," field)* ] ")" ] ";"
    annotation := Ident "=" ( String | Int | Ident | "[" [ item ("," item)* ] "]" )
    field      := Ident ":" type         type := Ident [ "<" type ("," type)* ">" ]
    choice     := "choice" "at" Ident "{" ( Ident ":" "{" statement* "}" )+ "}"
    rec        := "rec" Ident "{" statement* "}"
    continue   := "continue" Ident ";"

An un-namespaced ``guard_capability`` is qualified with the protocol's
``#[namespace]`` (``"rotate"`` in namespace ``key_rotation`` becomes
``key_rotation:rotate``); without a namespace attribute it is rejected.
"""

from __future__ import annotations

import bisect
import re
from pathlib import Path

import attrs

from aura_core.errors import InvalidInput
from aura_journal.authorization.capability import Capability
from aura_journal.mpst.choreography_error import IllFormedChoreography, MpstSyntaxError
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
from aura_journal.mpst.well_formedness import check_well_formed

__all__ = ["parse_choreography", "parse_choreography_file"]

_TOKEN = re.compile(
    r"""
    (?P<skip>[ \t\r\n]+|//[^\n]*|/\*.*?\*/)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<arrow>->)
  | (?P<int>-?[0-9]+)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<punct>[#\[\]{}(),;:=<>!])
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}
_ANNOTATION_KEYS = ("guard_capability", "flow_cost", "journal_facts", "leak")
_MAX_SOURCE = 1 << 20
_MAX_DEPTH = 64  # well-formedness allows 32; the parser only guards its own stack


@attrs.frozen
class _Token:
    kind: str
    text: str
    line: int
    column: int


def _tokenize(text: str, source: str | None) -> list[_Token]:
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def position(offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(line_starts, offset)
        return line, offset - line_starts[line - 1] + 1

    tokens: list[_Token] = []
    pos = 0
    length = len(text)
    match = _TOKEN.match
    while pos < length:
        found = match(text, pos)
        if found is None:
            line, column = position(pos)
            if text.startswith("/*", pos):
                reason = "unterminated /* comment"
            elif text[pos] == '"':
                reason = "unterminated or malformed string"
            else:
                reason = f"unexpected character {text[pos]!r}"
            raise MpstSyntaxError(reason, line=line, column=column, source=source)
        kind = found.lastgroup or ""
        if kind != "skip":
            line, column = position(pos)
            tokens.append(_Token(kind, found.group(), line, column))
        pos = found.end()
    line, column = position(length)
    tokens.append(_Token("eof", "", line, column))
    return tokens


class _Parser:
    def __init__(self, tokens: list[_Token], source: str | None) -> None:
        self.tokens = tokens
        self.index = 0
        self.source = source
        self.namespace: str | None = None
        self.depth = 0

    # --- token helpers ------------------------------------------------------------

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def error(self, reason: str, token: _Token | None = None) -> MpstSyntaxError:
        at = token or self.current
        return MpstSyntaxError(reason, line=at.line, column=at.column, source=self.source)

    def ill_formed(
        self, reason: str, token: _Token, role: str | None = None
    ) -> IllFormedChoreography:
        return IllFormedChoreography(
            reason, line=token.line, column=token.column, role=role, source=self.source
        )

    def describe(self, token: _Token) -> str:
        return "end of input" if token.kind == "eof" else repr(token.text)

    def at(self, text: str) -> bool:
        token = self.current
        return token.text == text and token.kind in ("punct", "arrow", "ident")

    def take(self, text: str, what: str | None = None) -> _Token:
        token = self.current
        if token.text != text or token.kind not in ("punct", "arrow", "ident"):
            raise self.error(f"expected {what or repr(text)}, found {self.describe(token)}")
        self.index += 1
        return token

    def name(self, what: str) -> _Token:
        token = self.current
        if token.kind != "ident":
            raise self.error(f"expected {what}, found {self.describe(token)}")
        if token.text in KEYWORDS:
            raise self.error(f"{token.text!r} is a keyword and cannot be used as {what}")
        self.index += 1
        return token

    # --- document -----------------------------------------------------------------

    def document(self) -> Protocol:
        self.attributes()
        wrapped = False
        if self.at("choreography"):
            self.index += 1
            self.take("!", "'!' after 'choreography'")
            self.take("{")
            wrapped = True
        protocol = self.protocol()
        if wrapped:
            self.take("}", "'}' closing 'choreography! {'")
        if self.current.kind != "eof":
            raise self.error(f"unexpected {self.describe(self.current)} after the protocol")
        return protocol

    def attributes(self) -> None:
        while self.at("#"):
            start = self.take("#")
            self.take("[")
            key = self.name("an attribute name")
            self.take("=")
            value = self.current
            if value.kind != "string":
                raise self.error("attribute value must be a string")
            self.index += 1
            self.take("]")
            if key.text != "namespace":
                raise self.error(f"unknown attribute {key.text!r} (only 'namespace')", key)
            if self.namespace is not None:
                raise self.error("the namespace attribute is given twice", start)
            text = self.string_value(value)
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", text):
                raise self.error(
                    f"namespace {text!r} must match [a-z][a-z0-9_]{{0,31}} (a capability namespace)",
                    value,
                )
            self.namespace = text

    def protocol(self) -> Protocol:
        self.attributes()
        start = self.take("protocol", "'protocol'")
        name = self.name("a protocol name")
        self.take("{")
        self.take("roles", "'roles:'")
        self.take(":")
        roles = [self.name("a role name").text]
        while self.at(","):
            self.index += 1
            if self.at(";"):
                break
            roles.append(self.name("a role name").text)
        self.take(";", "';' after the role list")
        body = self.statements()
        self.take("}", "'}' closing the protocol")
        return Protocol(
            name.text,
            tuple(roles),
            body,
            self.namespace,
            line=start.line,
            column=start.column,
        )

    # --- statements ---------------------------------------------------------------

    def statements(self) -> tuple[Statement, ...]:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.error(f"blocks nest deeper than {_MAX_DEPTH}")
        body: list[Statement] = []
        while not self.at("}") and self.current.kind != "eof":
            body.append(self.statement())
        self.depth -= 1
        return tuple(body)

    def statement(self) -> Statement:
        token = self.current
        if token.kind == "ident" and token.text == "choice":
            return self.choice()
        if token.kind == "ident" and token.text == "rec":
            return self.rec()
        if token.kind == "ident" and token.text == "continue":
            self.index += 1
            var = self.name("a recursion variable")
            self.take(";", "';' after continue")
            return Continue(var.text, line=token.line, column=token.column)
        return self.message()

    def choice(self) -> Choice:
        start = self.take("choice")
        self.take("at", "'at' after 'choice'")
        role = self.name("the choosing role")
        self.take("{")
        branches: list[ChoiceBranch] = []
        while not self.at("}"):
            label = self.name("a branch label")
            self.take(":", "':' after the branch label")
            self.take("{")
            body = self.statements()
            self.take("}", "'}' closing the branch")
            branches.append(ChoiceBranch(label.text, body, line=label.line, column=label.column))
        if not branches:
            raise self.error("a choice needs branches")
        self.take("}")
        return Choice(role.text, tuple(branches), line=start.line, column=start.column)

    def rec(self) -> RecBlock:
        start = self.take("rec")
        var = self.name("a recursion variable")
        self.take("{")
        body = self.statements()
        self.take("}", "'}' closing the rec block")
        return RecBlock(var.text, body, line=start.line, column=start.column)

    def message(self) -> Message:
        sender = self.name("a role name or a statement")
        annotations = Annotations()
        if self.at("["):
            annotations = self.annotations(sender)
        self.take("->", "'->'")
        receivers = [self.name("a receiving role").text]
        while self.at(","):
            self.index += 1
            receivers.append(self.name("a receiving role").text)
        self.take(":", "':' before the message label")
        label = self.name("a message label")
        fields: list[Field] = []
        if self.at("("):
            self.index += 1
            if not self.at(")"):
                fields.append(self.field())
                while self.at(","):
                    self.index += 1
                    fields.append(self.field())
            self.take(")", "')' closing the payload")
        self.take(";", "';' after the message")
        return Message(
            sender.text,
            tuple(receivers),
            label.text,
            tuple(fields),
            annotations,
            line=sender.line,
            column=sender.column,
        )

    def field(self) -> Field:
        name = self.name("a field name")
        self.take(":", "':' after the field name")
        return Field(name.text, self.type_name())

    def type_name(self) -> str:
        head = self.current
        if head.kind != "ident":
            raise self.error(f"expected a type, found {self.describe(head)}")
        self.index += 1
        if not self.at("<"):
            return head.text
        self.index += 1
        args = [self.type_name()]
        while self.at(","):
            self.index += 1
            args.append(self.type_name())
        self.take(">", "'>' closing the type arguments")
        return f"{head.text}<{', '.join(args)}>"

    # --- annotations --------------------------------------------------------------

    def string_value(self, token: _Token) -> str:
        body = token.text[1:-1]
        out = []
        i = 0
        while i < len(body):
            char = body[i]
            if char == "\\":
                escaped = _ESCAPES.get(body[i + 1])
                if escaped is None:
                    raise self.error(f"unknown escape \\{body[i + 1]} in string", token)
                out.append(escaped)
                i += 2
            else:
                out.append(char)
                i += 1
        return "".join(out)

    def annotation_value(self) -> tuple[object, _Token]:
        token = self.current
        if token.kind == "string":
            self.index += 1
            return self.string_value(token), token
        if token.kind == "int":
            self.index += 1
            return int(token.text), token
        if token.kind == "ident":
            self.index += 1
            return token.text, token
        if self.at("["):
            self.index += 1
            items: list[str] = []
            while not self.at("]"):
                item = self.current
                if item.kind == "string":
                    items.append(self.string_value(item))
                elif item.kind == "ident":
                    items.append(item.text)
                else:
                    raise self.error(
                        f"expected a string or name in the list, found {self.describe(item)}"
                    )
                self.index += 1
                if not self.at("]"):
                    self.take(",", "',' or ']' in the list")
            self.take("]")
            return tuple(items), token
        raise self.error(f"expected an annotation value, found {self.describe(token)}")

    def annotations(self, sender: _Token) -> Annotations:
        self.take("[")
        values: dict[str, tuple[object, _Token]] = {}
        while True:
            key = self.current
            if key.kind != "ident":
                raise self.error(f"expected an annotation name, found {self.describe(key)}")
            self.index += 1
            if key.text not in _ANNOTATION_KEYS:
                raise self.ill_formed(
                    f"unknown annotation {key.text!r} on a send by {sender.text!r} "
                    f"(expected one of {', '.join(_ANNOTATION_KEYS)})",
                    key,
                    sender.text,
                )
            if key.text in values:
                raise self.ill_formed(f"annotation {key.text!r} is given twice", key, sender.text)
            self.take("=", "'=' after the annotation name")
            values[key.text] = self.annotation_value()
            if self.at("]"):
                break
            self.take(",", "',' or ']' between annotations")
        self.take("]")
        return self.build_annotations(values, sender)

    def build_annotations(
        self, values: dict[str, tuple[object, _Token]], sender: _Token
    ) -> Annotations:
        role = sender.text
        capability = None
        if "guard_capability" in values:
            raw, token = values["guard_capability"]
            if type(raw) is not str:
                raise self.ill_formed("guard_capability must be a string", token, role)
            if ":" not in raw and self.namespace is None:
                raise self.ill_formed(
                    f"guard_capability {raw!r} on a send by {role!r} is not namespaced and the "
                    "protocol has no #[namespace] attribute to qualify it",
                    token,
                    role,
                )
            try:
                capability = Capability.qualify(raw, self.namespace)
            except InvalidInput as exc:
                raise self.ill_formed(
                    f"guard_capability on a send by {role!r}: {exc.message}", token, role
                ) from None
        cost = None
        if "flow_cost" in values:
            raw, token = values["flow_cost"]
            if type(raw) is not int or raw < 0:
                raise self.ill_formed(
                    f"flow_cost on a send by {role!r} must be a non-negative integer, got {raw!r:.40}",
                    token,
                    role,
                )
            cost = raw
        lists: dict[str, tuple[str, ...]] = {}
        for key in ("journal_facts", "leak"):
            if key not in values:
                lists[key] = ()
                continue
            raw, token = values[key]
            items = (raw,) if type(raw) is str else raw
            if type(items) is not tuple or not all(type(i) is str for i in items):
                raise self.ill_formed(f"{key} must be a name or a list of names", token, role)
            if key == "leak":
                for item in items:
                    if item not in OBSERVER_CLASSES:
                        raise self.ill_formed(
                            f"leak on a send by {role!r}: {item!r} is not an observer class "
                            f"({', '.join(OBSERVER_CLASSES)})",
                            token,
                            role,
                        )
            lists[key] = items
        try:
            return Annotations(capability, cost, lists["journal_facts"], lists["leak"])
        except InvalidInput as exc:
            raise self.ill_formed(
                f"annotations on a send by {role!r}: {exc.message}", sender, role
            ) from None


def parse_choreography(text: str, *, source: str | None = None, check: bool = True) -> Protocol:
    """Parse a global protocol (with or without the ``choreography! { }`` wrapper).

    Raises :class:`MpstSyntaxError` for text outside the language and, when
    ``check`` is true (the default), :class:`IllFormedChoreography` for a
    protocol that breaks a well-formedness rule. Both carry line and column.
    """
    if not isinstance(text, str):
        raise InvalidInput(f"choreography source must be a string, got {type(text).__name__}")
    if len(text) > _MAX_SOURCE:
        raise MpstSyntaxError(f"source is longer than {_MAX_SOURCE} characters", source=source)
    protocol = _Parser(_tokenize(text, source), source).document()
    if check:
        check_well_formed(protocol, source=source)
    return protocol


def parse_choreography_file(path: str | Path, *, check: bool = True) -> Protocol:
    """Read a ``.choreo`` file (UTF-8) and parse it; errors name the file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise MpstSyntaxError("file is not UTF-8", source=file.name) from None
    return parse_choreography(text, source=file.name, check=check)
