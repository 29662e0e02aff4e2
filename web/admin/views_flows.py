"""The flow editor of IVR lines (flow "ivr"): the flow as a tree with a form per node, its problems named
on their nodes, publish with a comment (audited), versions with export and roll back, import of JSON,
and the simulator (keys pressed in the browser, each prompt heard in the line's voice, any date and
time). Edits go to the line's draft; calls follow the published version until the next publish."""

from __future__ import annotations

import datetime

from flask import Response, abort, flash, redirect, render_template, request, url_for

from appliance import clock
from appliance.clock import TOKYO
from db import audit, calendars, faq, flowgraph, flows, ivr_audio, targets
from db.connection import write_transaction
from db.models import FlowVersion, PhoneLine
from web.admin import calls
from web.admin.access import actor
from web.admin.forms import MESSAGES
from web.admin.forms_flows import EXITS, node_from_form
from web.admin.simulator import SimulationFailed, simulate
from web.admin.speech import SpeechFailed, SpeechVoice, say

IMPORT_MAX_BYTES = 2_000_000
TRANSFER_OUTCOMES = {"connected": "つながる", "busy": "話し中", "no_answer": "出ない"}


def _line(line_id: int) -> PhoneLine:
    line = PhoneLine.get_or_none(PhoneLine.id == line_id)
    if line is None or line.flow != "ivr":
        abort(404)
    return line


def _back(line: PhoneLine, node: str = ""):
    return redirect(url_for(".flow_edit", line_id=line.id, node=node or None))


def _refused(error: flows.FlowError) -> None:
    for problem in error.problems:
        flash(f"{problem.node}: {problem.message}" if problem.node else problem.message, "error")


def flow_edit(line_id: int):
    line = _line(line_id)
    data = flows.working_copy(line.did)
    graph, problems = flowgraph.check(data, flows.known_for(line))
    selected = request.args.get("node") or (graph.start if graph else "")
    by_node: dict[str, list[str]] = {}
    for problem in problems:
        by_node.setdefault(problem.node, []).append(problem.message)
    return render_template(
        "admin/flow_edit.html", line=line, data=data, graph=graph, problems=problems, by_node=by_node,
        outline=flowgraph.outline(graph) if graph else [], selected=selected, node=data["nodes"].get(selected),
        kinds=flowgraph.kind_labels(), fields=flowgraph.FIELDS, label=flowgraph.field_label,
        keys=flowgraph.KEYS, calendars=sorted(calendars.all_schedules()), targets=sorted(targets.all_targets()),
        groups=sorted(targets.groups()), exits=EXITS, audio_files=ivr_audio.names(),
        draft=flows.draft(line.did), live=flows.published(line.did), versions=flows.versions(line.did),
        sms_max=flowgraph.SMS_MAX_CHARS, text_max=flowgraph.TEXT_MAX_CHARS, tz=TOKYO,
        defaults=flowgraph.defaults(), faq_entries=faq.entries(status="published", public_only=True))


def flow_node(line_id: int):
    line = _line(line_id)
    node_id = request.form.get("node_id", "")
    data = flows.working_copy(line.did)
    old = data["nodes"].get(node_id)
    if old is None:
        abort(404)
    try:
        with write_transaction():
            if request.form.get("action") == "delete":
                flows.delete_node(line.did, node_id, actor(), clock.now())
                flash(MESSAGES["flows.deleted"].format(node=node_id), "info")
                return _back(line)
            node, errors = node_from_form(old["kind"], request.form, old)
            if errors:
                for error in errors:
                    flash(error, "error")
                return _back(line, node_id)
            flows.set_node(line.did, node_id, node, actor(), clock.now())
    except flows.FlowError as error:
        _refused(error)
        return _back(line, node_id)
    flash(MESSAGES["flows.saved"], "info")
    return _back(line, node_id)


def flow_node_new(line_id: int):
    line = _line(line_id)
    node_id = request.form.get("node_id", "").strip()
    try:
        with write_transaction():
            flows.add_node(line.did, node_id, request.form.get("kind", ""), actor(), clock.now())
    except flows.FlowError as error:
        _refused(error)
        return _back(line)
    return _back(line, node_id)


def flow_settings(line_id: int):
    line = _line(line_id)
    with write_transaction():
        flows.set_start(line.did, request.form.get("start", ""), request.form.get("fallback", "").strip(), actor(),
                        clock.now())
    flash(MESSAGES["flows.saved"], "info")
    return _back(line)


def flow_publish(line_id: int):
    line = _line(line_id)
    try:
        with write_transaction():
            version = flows.publish(line.did, request.form.get("comment", ""), actor(), clock.now())
    except flows.FlowError as error:
        flash(MESSAGES["flows.not_published"], "error")
        _refused(error)
        return _back(line)
    flash(MESSAGES["flows.published"].format(version=version.version), "info")
    return _back(line)


def flow_discard(line_id: int):
    line = _line(line_id)
    with write_transaction():
        flows.discard_draft(line.did, actor(), clock.now())
    flash(MESSAGES["flows.discarded"], "info")
    return _back(line)


def flow_rollback(line_id: int, version: int):
    line = _line(line_id)
    try:
        with write_transaction():
            published = flows.roll_back(line.did, version, request.form.get("comment", ""), actor(), clock.now())
    except FlowVersion.DoesNotExist:
        abort(404)
    except flows.FlowError as error:
        _refused(error)
        return _back(line)
    flash(MESSAGES["flows.published"].format(version=published.version), "info")
    return _back(line)


def flow_export(line_id: int, version: int):
    line = _line(line_id)
    row = flows.version(line.did, version) or abort(404)
    return Response(row.graph + "\n", mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="flow-{line.did}-v{version}.json"'})


def flow_import(line_id: int):
    line = _line(line_id)
    upload = request.files.get("file")
    data = upload.read(IMPORT_MAX_BYTES + 1) if upload else b""
    if not data or len(data) > IMPORT_MAX_BYTES:
        flash(MESSAGES["flows.import_size"], "error")
        return _back(line)
    try:
        with write_transaction():
            flows.save_draft(line.did, data, actor(), clock.now())
    except flows.FlowError as error:
        _refused(error)
        return _back(line)
    flash(MESSAGES["flows.imported"], "info")
    return _back(line)


def flow_audio(line_id: int):
    """An uploaded announcement or hold music, converted to the phone's format (audited)."""
    line = _line(line_id)
    upload = request.files.get("file")
    try:
        name = ivr_audio.save(request.form.get("name", "").strip(),
                              upload.read(ivr_audio.MAX_BYTES + 1) if upload else b"")
    except ivr_audio.AudioError as error:
        flash(str(error), "error")
        return _back(line)
    with write_transaction():
        audit.record(actor().name, "ivr_audio.upload", "ivr_audio", name, clock.now(), source=actor().source)
    flash(MESSAGES["flows.audio_saved"].format(name=name), "info")
    return _back(line)


def _simulation_args(line: PhoneLine) -> dict:
    number = request.args.get("version", type=int)
    if number is None:
        version = flows.draft(line.did) or flows.published(line.did)
    else:
        version = flows.version(line.did, number)
    try:
        at = datetime.datetime.fromisoformat(request.args.get("at", "")).replace(tzinfo=TOKYO)
    except ValueError:
        at = clock.now().astimezone(TOKYO).replace(second=0, microsecond=0, tzinfo=TOKYO)
    keys = request.args.get("keys", "")
    keys = keys.split(",") if keys else []
    digits = "".join(ch for ch in request.args.get("digits", "") if ch in flowgraph.KEYS)
    if digits:  # several keys typed at once: one answer
        keys.append(digits)
    keys = ["".join(ch for ch in k if ch in flowgraph.KEYS)[:flowgraph.MAX_ENTRY_DIGITS + 1] for k in keys[:200]]
    transfer = request.args.get("transfer", "connected")
    return {"version": version, "at": at, "keys": keys,
            "caller": "".join(ch for ch in request.args.get("caller", "") if ch.isdigit())[:15],
            "transfer": transfer if transfer in TRANSFER_OUTCOMES else "connected"}


def flow_simulate(line_id: int):
    line = _line(line_id)
    args = _simulation_args(line)
    result, failed = None, False
    if args["version"] is not None:
        try:
            result = simulate(args["version"], args["at"], args["keys"], args["caller"], args["transfer"])
        except SimulationFailed:
            failed = True
    return render_template("admin/flow_simulate.html", line=line, args=args, result=result, failed=failed,
                           keys=flowgraph.KEYS, outcomes=TRANSFER_OUTCOMES, versions=flows.versions(line.did),
                           label=calls.label, end_label=_end_label)


def _end_label(reason: str) -> str:
    kind, _, target = reason.partition(":")
    return MESSAGES["flows.transferred_to"].format(target=target) if kind == "transferred" else \
        calls.label("end_reason", reason)


def flow_say(line_id: int):
    """The simulator's line `n` said in the line's voice (the simulation run again: nothing is cached)."""
    line = _line(line_id)
    args = _simulation_args(line)
    number = request.args.get("n", type=int)
    try:
        if args["version"] is None or number is None:
            abort(404)
        result = simulate(args["version"], args["at"], args["keys"], args["caller"], args["transfer"])
        text = result["lines"][number]["text"]
    except (SimulationFailed, IndexError):
        abort(422)
    try:
        wav = say(text, SpeechVoice(line.tts_engine, line.tts_voice, line.tts_speed, line.tts_volume))
    except SpeechFailed:
        abort(503)
    return Response(wav, mimetype="audio/wav")
