"""The versions of each IVR line's flow graph (db/flowgraph.py): staff save a draft (imported JSON or
the editor's), publish it with a comment once it has no problem, and roll back by publishing an earlier
version again as a new one. At most one draft and one published version per line (unique indexes): a
call takes the published version when it comes in, keeps it to the end and the call log names it.
Every publish is audited. Services here never commit: the caller owns the transaction."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import peewee

from appliance.messages import catalogue
from db import audit, calendars, faq, flowgraph, ivr_audio, targets
from db.models import FlowVersion, PhoneLine

if TYPE_CHECKING:
    from db.bookings import Actor

COMMENT_MAX_CHARS = 200
_CATALOGUE_PATH = Path(__file__).with_name("flowgraph.toml")


class FlowError(Exception):
    """A flow that cannot be saved or published; each problem names its node (Japanese, for staff)."""

    def __init__(self, problems: list[flowgraph.Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(f"{p.node}: {p.message}" if p.node else p.message for p in self.problems))


@dataclass(frozen=True)
class Program:
    """What a call on an IVR line follows: the published graph, its version and the calendars."""

    did: str
    version: int
    graph: flowgraph.Graph
    schedules: dict[str, calendars.Schedule]


def known_for(line: PhoneLine) -> flowgraph.Known:
    audio = frozenset(ivr_audio.names())
    return flowgraph.Known(calendars=frozenset(calendars.all_schedules()),
                           targets=frozenset(targets.all_targets()), groups=frozenset(targets.groups()),
                           audio=audio, ai_allowed=line.mode == "ai", recorded=bool(line.record),
                           faq=frozenset(e.key for e in faq.entries(status="published", public_only=True)))


def _line(did: str) -> PhoneLine:
    return PhoneLine.get(PhoneLine.did == did)


def versions(did: str) -> list[FlowVersion]:
    return list(FlowVersion.select().where(FlowVersion.did == did).order_by(FlowVersion.version.desc()))


def version(did: str, number: int) -> FlowVersion | None:
    return FlowVersion.get_or_none((FlowVersion.did == did) & (FlowVersion.version == number))


def published(did: str) -> FlowVersion | None:
    return FlowVersion.get_or_none((FlowVersion.did == did) & (FlowVersion.status == "published"))


def draft(did: str) -> FlowVersion | None:
    return FlowVersion.get_or_none((FlowVersion.did == did) & (FlowVersion.status == "draft"))


def problems(version: FlowVersion) -> list[flowgraph.Problem]:
    return flowgraph.check(version.graph, known_for(_line(version.did)))[1]


def _next_version(did: str) -> int:
    return (FlowVersion.select(peewee.fn.MAX(FlowVersion.version)).where(FlowVersion.did == did).scalar() or 0) + 1


def save_draft(did: str, data: str | bytes | dict, actor: Actor, now: datetime.datetime) -> FlowVersion:
    """Keep this graph as the line's draft (replacing the draft there was). A draft may still have
    problems, but it must be a flow graph at all: FlowError when it cannot be read."""
    _line(did)
    graph, found = flowgraph.parse(data)
    if graph is None:
        raise FlowError(found)
    existing = draft(did)
    if existing is not None:
        existing.graph, existing.created_at, existing.created_by = graph.dumps(), now, actor.name
        existing.save()
        return existing
    return FlowVersion.create(did=did, version=_next_version(did), status="draft", graph=graph.dumps(),
                              created_at=now, created_by=actor.name)


def working_copy(did: str) -> dict:
    """The graph being edited: the draft, else the published version's, else a new flow of one node."""
    version = draft(did) or published(did)
    if version is not None:
        return json.loads(version.graph)
    return {"start": "welcome", "fallback": flowgraph.default_text("fallback"),
            "nodes": {"welcome": {"kind": "hangup", "text": ""}}}


def _edit_problem(key: str, **values) -> FlowError:
    return FlowError([flowgraph.Problem(values.get("node", ""), flowgraph.message(key, **values))])


def set_node(did: str, node_id: str, node: dict, actor: Actor, now: datetime.datetime) -> FlowVersion:
    """Replace one node of the draft (made from the published version when there is none)."""
    graph = working_copy(did)
    if node_id not in graph["nodes"]:
        raise _edit_problem("problem.no_node", node=node_id)
    graph["nodes"][node_id] = node
    return save_draft(did, graph, actor, now)


def add_node(did: str, node_id: str, kind: str, actor: Actor, now: datetime.datetime) -> FlowVersion:
    graph = working_copy(did)
    node_id = node_id.strip()
    if not flowgraph.NODE_ID.fullmatch(node_id):
        raise _edit_problem("problem.node_id", node=node_id[:40])
    if node_id in graph["nodes"]:
        raise _edit_problem("problem.node_exists", node=node_id)
    if kind not in flowgraph.FIELDS:
        raise _edit_problem("problem.kind", value=kind[:40])
    graph["nodes"][node_id] = {"kind": kind}
    return save_draft(did, graph, actor, now)


def delete_node(did: str, node_id: str, actor: Actor, now: datetime.datetime) -> FlowVersion:
    """Remove a node from the draft; the nodes leading to it then show the problem until changed."""
    graph = working_copy(did)
    if graph["nodes"].pop(node_id, None) is None:
        raise _edit_problem("problem.no_node", node=node_id)
    return save_draft(did, graph, actor, now)


def set_start(did: str, start: str, fallback: str, actor: Actor, now: datetime.datetime) -> FlowVersion:
    graph = working_copy(did)
    graph["start"], graph["fallback"] = start, fallback
    return save_draft(did, graph, actor, now)


def discard_draft(did: str, actor: Actor, now: datetime.datetime) -> None:
    current = draft(did)
    if current is not None:
        current.delete_instance()
        audit.record(actor.name, "flow.discard_draft", "phone_line", did, now, source=actor.source,
                     version=current.version)


def _publish(version: FlowVersion, comment: str, actor: Actor, now: datetime.datetime, **details) -> FlowVersion:
    found = problems(version)
    if found:
        raise FlowError(found)
    FlowVersion.update(status="retired").where((FlowVersion.did == version.did)
                                               & (FlowVersion.status == "published")).execute()
    version.status, version.comment = "published", comment.strip()[:COMMENT_MAX_CHARS]
    version.published_at, version.published_by = now, actor.name
    version.save()
    audit.record(actor.name, "flow.publish", "phone_line", version.did, now, source=actor.source,
                 version=version.version, **details)
    return version


def publish(did: str, comment: str, actor: Actor, now: datetime.datetime) -> FlowVersion:
    """Publish the line's draft (FlowError with its problems if it has any): the next call follows it."""
    current = draft(did)
    if current is None:
        raise FlowError([flowgraph.Problem("", catalogue(_CATALOGUE_PATH)["problem.no_draft"])])
    return _publish(current, comment, actor, now)


def roll_back(did: str, version: int, comment: str, actor: Actor, now: datetime.datetime) -> FlowVersion:
    """Publish an earlier version's graph again, as a new version (the history keeps both); a draft
    being edited stays as it is."""
    earlier = FlowVersion.get((FlowVersion.did == did) & (FlowVersion.version == version))
    copy = FlowVersion(did=did, version=_next_version(did), status="published", graph=earlier.graph,
                       created_at=now, created_by=actor.name)
    found = problems(copy)
    if found:
        raise FlowError(found)
    FlowVersion.update(status="retired").where((FlowVersion.did == did) & (FlowVersion.status == "published")).execute()
    copy.status, copy.comment = "published", comment.strip()[:COMMENT_MAX_CHARS]
    copy.published_at, copy.published_by = now, actor.name
    copy.save()
    audit.record(actor.name, "flow.publish", "phone_line", did, now, source=actor.source, version=copy.version,
                 rolled_back_to=version)
    return copy


def program(did: str) -> Program | None:
    """The published flow of the line, with the calendars its schedule nodes read (None: none is)."""
    version = published(did)
    return program_of(version) if version is not None else None


def program_of(version: FlowVersion) -> Program:
    """Any version as a call would follow it (the simulator tries drafts)."""
    graph, _ = flowgraph.parse(version.graph)
    return Program(version.did, version.version, graph, calendars.all_schedules())
