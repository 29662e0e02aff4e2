"""The flow graph of a key-press IVR line, as staff build it on the admin site and the voice engine
walks it (voice/flows/ivr): JSON with a start node, the line's fallback announcement and the nodes by
name. `check()` parses it and lists every problem (Japanese, for staff, each naming its node) that
keeps it from being published: unknown kinds and fields, exits to nowhere, nodes no call can reach,
loops no caller can leave, menus without a way out, missing or overlong texts, unknown calendars,
transfer targets and audio files, and AI hand-over on a line where AI phone is not allowed.

    {"start": "welcome", "fallback": "…",
     "nodes": {"welcome": {"kind": "announcement", "text": "…", "next": "hours"},
               "hours": {"kind": "schedule", "calendar": "本庁", "open": "main", "closed": "closed"}, …}}
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType

from appliance.messages import catalogue
from db.texts import SMS_MAX_CHARS

MAX_NODES = 200
TEXT_MAX_CHARS = 1000  # what one node says
MAX_ENTRY_DIGITS = 20
KEYS = "0123456789*#"
NODE_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
_CATALOGUE_PATH = Path(__file__).with_name("flowgraph.toml")

# per kind: the fields it may have, the fields naming the next node (all required unless listed in
# OPTIONAL_EXITS), and the kinds that end what the flow does with the call
FIELDS: dict[str, tuple[str, ...]] = {
    "announcement": ("text", "audio", "next"),
    "menu": ("text", "audio", "options", "timeout_s", "max_failures", "no_input", "wrong_key", "repeat_key",
             "back_key", "top_key", "failure"),
    "schedule": ("calendar", "open", "closed"),
    "entry": ("text", "audio", "min_digits", "max_digits", "check", "timeout_s", "max_failures", "invalid",
              "next", "failure"),
    "sms": ("text", "faq", "to", "sent", "failed"),
    "transfer": ("text", "audio", "target", "record", "busy", "no_answer"),
    "message": ("text", "audio", "max_s", "next"),
    "queue": ("text", "audio", "group", "every_s", "max_wait_s", "max_length", "record", "overflow"),
    "ai": (),
    "hangup": ("text", "audio"),
}
EXITS: dict[str, tuple[str, ...]] = {
    "announcement": ("next",), "menu": ("failure",), "schedule": ("open", "closed"), "entry": ("next", "failure"),
    "sms": ("sent", "failed"), "transfer": ("busy", "no_answer"), "message": ("next",), "queue": ("overflow",),
    "ai": (), "hangup": (),
}
OPTIONAL_EXITS = frozenset({("transfer", "no_answer")})  # no answer goes where busy goes
ENDS = frozenset({"hangup", "transfer", "queue", "ai"})
SPOKEN = frozenset({"announcement", "menu", "entry", "message"})  # must say something
CHECKS = ("digits", "mobile")  # what an entry accepts
SMS_TO = ("caller", "entered")  # the caller's own number, or the number keyed at an entry node


def _msg(key: str, **values: object) -> str:
    if "field" in values:
        values["field"] = field_label(str(values["field"]))
    return catalogue(_CATALOGUE_PATH)[key].format(**values)


def defaults() -> dict[str, object]:
    """What a field is when a node leaves it out (the editor shows it)."""
    return dict(_DEFAULTS)


def field_label(name: str) -> str:
    """「ボタン 1 の行き先」 for options.1, else the field's label."""
    if name.startswith("options."):
        return f"ボタン {name.split('.', 1)[1]} の行き先"
    return catalogue(_CATALOGUE_PATH).get(f"field.{name}") or name


def message(key: str, **values: object) -> str:
    """A message of db/flowgraph.toml ("problem.…"), for staff."""
    return _msg(key, **values)


def default_text(key: str) -> str:
    return catalogue(_CATALOGUE_PATH)[f"default.{key}"]


def kind_labels() -> dict[str, str]:
    return {kind: _msg(f"kind.{kind}") for kind in FIELDS}


@dataclass(frozen=True)
class Problem:
    node: str  # "" for the flow as a whole
    message: str


@dataclass(frozen=True)
class Node:
    id: str
    kind: str
    text: str = ""
    audio: str = ""  # an uploaded audio file (db/flows.py), said instead of text
    next: str = ""
    options: Mapping[str, str] = field(default_factory=dict)  # menu: key → node
    timeout_s: float = 6.0
    max_failures: int = 3
    no_input: str = ""
    wrong_key: str = ""
    repeat_key: str = ""
    back_key: str = ""  # to the menu before this one
    top_key: str = ""  # to the first menu
    failure: str = ""
    calendar: str = ""
    open: str = ""
    closed: str = ""
    min_digits: int = 1
    max_digits: int = 11
    check: str = "digits"
    invalid: str = ""
    to: str = "caller"
    sent: str = ""
    failed: str = ""
    target: str = ""
    record: bool = False
    busy: str = ""
    no_answer: str = ""
    max_s: float = 60.0
    group: str = ""  # queue: the group of phones waited for
    every_s: float = 30.0  # queue: the caller's place is said this often
    max_wait_s: float = 300.0  # queue: then the overflow node
    max_length: int = 10  # queue: callers waiting at most; one more goes to the overflow node
    overflow: str = ""  # queue: full, or waited max_wait_s
    faq: str = ""  # sms: a public FAQ entry whose page address ends the text

    def exits(self) -> list[tuple[str, str]]:
        """(field, node) for every way out of this node that names a node."""
        found = [(name, getattr(self, name)) for name in EXITS[self.kind] if getattr(self, name)]
        return found + [(f"options.{key}", target) for key, target in self.options.items()]

    def to_json(self) -> dict:
        out: dict = {"kind": self.kind}
        for name in FIELDS[self.kind]:
            value = getattr(self, name)
            if value != _DEFAULTS[name]:
                out[name] = dict(value) if name == "options" else value
        return out


_DEFAULTS = {f.name: (f.default_factory() if callable(f.default_factory) else f.default) for f in fields(Node)}
_TYPES = {"options": dict, "timeout_s": float, "max_failures": int, "min_digits": int, "max_digits": int,
          "record": bool, "max_s": float, "every_s": float, "max_wait_s": float, "max_length": int}
_RANGES = {"timeout_s": (1.0, 60.0), "max_failures": (1, 9), "max_s": (5.0, 300.0), "every_s": (10.0, 300.0),
           "max_wait_s": (10.0, 3600.0), "max_length": (1, 200)}


@dataclass(frozen=True)
class Graph:
    start: str
    fallback: str
    nodes: Mapping[str, Node]

    def to_json(self) -> dict:
        return {"start": self.start, "fallback": self.fallback,
                "nodes": {node_id: node.to_json() for node_id, node in self.nodes.items()}}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, indent=1)


@dataclass(frozen=True)
class Known:
    """What the graph may refer to, on this box and line."""

    calendars: frozenset[str] = frozenset()
    targets: frozenset[str] = frozenset()
    audio: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()  # groups of phones with a call queue
    ai_allowed: bool = True
    recorded: bool = True  # the line's calls are recorded (a message node needs it)
    faq: frozenset[str] = frozenset()  # the published public FAQ entries an SMS may link to


def _text_problem(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") and ch != "\n" for ch in text)


def _node(node_id: str, raw: object, problems: list[Problem]) -> Node | None:
    if not NODE_ID.fullmatch(node_id):
        problems.append(Problem(node_id[:40], _msg("problem.node_id", node=node_id[:40])))
        return None
    if not isinstance(raw, dict) or raw.get("kind") not in FIELDS:
        kind = raw.get("kind") if isinstance(raw, dict) else raw
        problems.append(Problem(node_id, _msg("problem.kind", value=str(kind)[:40])))
        return None
    kind = raw["kind"]
    values: dict = {}
    for name, value in raw.items():
        if name in ("kind", "label", "x", "y"):  # the editor's own notes
            continue
        if name not in FIELDS[kind]:
            problems.append(Problem(node_id, _msg("problem.field", field=name)))
            continue
        wanted = _TYPES.get(name, str)
        if wanted is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, wanted) or (wanted is int and isinstance(value, bool)):
            problems.append(Problem(node_id, _msg("problem.value", field=name)))
            continue
        if name in _RANGES and not _RANGES[name][0] <= value <= _RANGES[name][1]:
            problems.append(Problem(node_id, _msg("problem.value", field=name)))
            continue
        if wanted is str:
            value = value.strip()
            if _text_problem(value):
                problems.append(Problem(node_id, _msg("problem.value", field=name)))
                continue
        if name == "options":
            if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
                problems.append(Problem(node_id, _msg("problem.value", field=name)))
                continue
            value = MappingProxyType({k.strip(): v.strip() for k, v in value.items()})
        values[name] = value
    return Node(node_id, kind, **values)


def parse(data: str | bytes | dict) -> tuple[Graph | None, list[Problem]]:
    """The graph as far as it can be read, and the problems of its form."""
    problems: list[Problem] = []
    if not isinstance(data, dict):
        try:
            data = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            return None, [Problem("", _msg("problem.not_json", detail=str(exc)[:80]))]
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), dict):
        return None, [Problem("", _msg("problem.not_json", detail="nodes"))]
    raw_nodes = data["nodes"]
    if len(raw_nodes) > MAX_NODES:
        return None, [Problem("", _msg("problem.too_many", limit=MAX_NODES))]
    nodes = {}
    for node_id, raw in raw_nodes.items():
        node = _node(str(node_id), raw, problems)
        if node is not None:
            nodes[node.id] = node
    start = data.get("start") if isinstance(data.get("start"), str) else ""
    fallback = data.get("fallback") if isinstance(data.get("fallback"), str) else ""
    return Graph(start, fallback.strip(), MappingProxyType(nodes)), problems


def check(data: str | bytes | dict, known: Known) -> tuple[Graph | None, list[Problem]]:
    """The graph and everything that keeps it from being published (none: it may be)."""
    graph, problems = parse(data)
    if graph is None:
        return None, problems
    if graph.start not in graph.nodes:
        problems.append(Problem("", _msg("problem.start", node=graph.start)))
    if not graph.fallback:
        problems.append(Problem("", _msg("problem.fallback")))
    elif len(graph.fallback) > TEXT_MAX_CHARS:
        problems.append(Problem("", _msg("problem.text_too_long", length=len(graph.fallback), limit=TEXT_MAX_CHARS)))
    for node in graph.nodes.values():
        problems += [Problem(node.id, message) for message in _node_problems(node, graph, known)]
    problems += _reach_problems(graph)
    return graph, problems


def _node_problems(node: Node, graph: Graph, known: Known) -> list[str]:
    found: list[str] = []
    for name in EXITS[node.kind]:
        if not getattr(node, name) and (node.kind, name) not in OPTIONAL_EXITS:
            found.append(_msg("problem.missing_exit", field=name))
    for name, target in node.exits():
        if target not in graph.nodes:
            found.append(_msg("problem.unknown_node", field=name, value=target))
    if node.kind in SPOKEN and not node.text and not node.audio:
        found.append(_msg("problem.no_prompt"))
    limit = SMS_MAX_CHARS if node.kind == "sms" else TEXT_MAX_CHARS
    for name in ("text", "no_input", "wrong_key", "invalid"):
        if len(getattr(node, name)) > limit:
            key = "problem.sms_too_long" if node.kind == "sms" and name == "text" else "problem.text_too_long"
            found.append(_msg(key, length=len(getattr(node, name)), limit=limit))
    if node.audio and node.audio not in known.audio:
        found.append(_msg("problem.unknown_audio", value=node.audio))
    if node.kind == "menu":
        if not node.options:
            found.append(_msg("problem.no_options"))
        used: list[str] = [*node.options, *(k for k in (node.repeat_key, node.back_key, node.top_key) if k)]
        for key in used:
            if len(key) != 1 or key not in KEYS:
                found.append(_msg("problem.option_key", value=key))
        for key in sorted({k for k in used if used.count(k) > 1}):
            found.append(_msg("problem.key_clash", value=key))
    if node.kind == "schedule" and node.calendar not in known.calendars:
        found.append(_msg("problem.unknown_calendar", value=node.calendar))
    if node.kind == "queue" and node.group not in known.groups:
        found.append(_msg("problem.unknown_group", value=node.group))
    if node.kind == "transfer" and node.target not in known.targets:
        found.append(_msg("problem.unknown_target", value=node.target))
    if node.kind == "entry":
        if not (1 <= node.min_digits <= node.max_digits <= MAX_ENTRY_DIGITS):
            found.append(_msg("problem.digits", limit=MAX_ENTRY_DIGITS))
        if node.check not in CHECKS:
            found.append(_msg("problem.value", field="check"))
    if node.kind == "sms":
        if not node.text:
            found.append(_msg("problem.no_prompt"))
        if node.to not in SMS_TO:
            found.append(_msg("problem.value", field="to"))
        if node.faq and node.faq not in known.faq:
            found.append(_msg("problem.unknown_faq", value=node.faq))
    if node.kind == "message" and not known.recorded:
        found.append(_msg("problem.message_unrecorded"))
    if node.kind == "ai" and not known.ai_allowed:
        found.append(_msg("problem.ai_forbidden"))
    return found


def outline(graph: Graph) -> list[tuple[int, str, str, bool]]:
    """The graph as the editor's tree: (depth, node, the exit that leads there, first time shown), depth
    first from the start; a node reached again is listed again without its children. Nodes no call
    reaches follow at depth 0."""
    rows: list[tuple[int, str, str, bool]] = []
    shown: set[str] = set()

    def visit(node_id: str, depth: int, via: str) -> None:
        first = node_id not in shown
        rows.append((depth, node_id, via, first))
        shown.add(node_id)
        node = graph.nodes.get(node_id)
        if first and node is not None:
            for name, target in node.exits():
                visit(target, depth + 1, field_label(name))

    if graph.start in graph.nodes:
        visit(graph.start, 0, "")
    for node_id in graph.nodes:
        if node_id not in shown:
            visit(node_id, 0, "")
    return rows


def _reach_problems(graph: Graph) -> list[Problem]:
    """Nodes no call reaches, and nodes from which no call can end (a loop of announcements)."""
    following = {node.id: [t for _, t in node.exits() if t in graph.nodes] for node in graph.nodes.values()}
    reached, todo = set(), [graph.start] if graph.start in graph.nodes else []
    while todo:
        node_id = todo.pop()
        if node_id not in reached:
            reached.add(node_id)
            todo += following[node_id]
    # a menu whose caller keeps failing ends at its failure node; every other way out is a choice, so a
    # node can end if some path from it reaches an end
    ending = {node_id for node_id, node in graph.nodes.items() if node.kind in ENDS}
    changed = True
    while changed:
        changed = False
        for node_id, nexts in following.items():
            if node_id not in ending and any(n in ending for n in nexts):
                ending.add(node_id)
                changed = True
    problems = [Problem(node_id, _msg("problem.unreachable")) for node_id in graph.nodes if node_id not in reached]
    problems += [Problem(node_id, _msg("problem.no_end")) for node_id in graph.nodes
                 if node_id in reached and node_id not in ending]
    return problems
