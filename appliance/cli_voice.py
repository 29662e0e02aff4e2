"""`madoguchi voice ...`: the voice engine, its phone lines, live calls, the call log and recordings."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from appliance import clock
from db import crypto
from db.connection import write_transaction
from db.models import CallRecord, PhoneLine


def _cli():
    from appliance import cli  # the shared settings/database set-up of every command

    return cli


@click.group(invoke_without_command=True)
@click.pass_context
def voice(ctx):
    """The voice engine: Kamailio on sip_listen, the workers and the recognition service.

    Without a subcommand, run the whole engine in the foreground until stopped (supervisor does).
    """
    if ctx.invoked_subcommand is not None:
        return
    from db import extensions
    from voice.engine import Engine
    settings = _cli()._settings()
    database = _cli()._open()  # fail here, with the cause, rather than in every worker
    phones = extensions.credentials()
    database.close()
    sys.exit(Engine.from_settings(settings, phones).run())


@voice.command("worker", hidden=True)
@click.option("--index", type=click.IntRange(0, 999), required=True)
@click.option("--overflow", is_flag=True)
def voice_worker(index, overflow):
    """One SIP worker (started by `madoguchi voice`)."""
    from voice.sip.worker import serve_worker
    settings = _cli()._settings()
    _cli()._open()
    serve_worker(settings, index, overflow)


@voice.command("recognizer", hidden=True)
def voice_recognizer():
    """The shared recognition service (started by `madoguchi voice`)."""
    import signal

    from voice.recognition import RecognitionServer, load_engine
    settings = _cli()._settings()
    engine = load_engine(settings)
    server = RecognitionServer(settings.run_dir / "asr.sock", engine, settings.asr_parallel)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    ready = settings.run_dir / "asr.ready"
    ready.touch()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        ready.unlink(missing_ok=True)


@voice.command("transcribe")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="Records to transcribe in this run.")
def voice_transcribe(limit):
    """Transcribe the recorded conversations of inquiry records whose call has ended, piece by piece
    through the running recognition service (the worker runs this every minute when there are some)."""
    from voice.recognition import RecognitionClient
    from voice.transcribe import transcribe_pending
    settings = _cli()._settings()
    _cli()._open()
    if not (settings.run_dir / "asr.ready").exists():
        raise click.ClickException("the recognition service is not running (start the voice engine: madoguchi voice)")
    run = transcribe_pending(settings, RecognitionClient(settings.run_dir / "asr.sock", timeout_s=120), limit)
    click.echo(f"{run.transcribed} transcribed, {run.failed} failed")


@voice.command("trunk-password")
def voice_trunk_password():
    """Store the register-mode SIP password (asked for, or read from standard input) in key_dir."""
    import getpass

    from db.keys import write_private_file
    from voice.dispatcher import SIP_PASSWORD_FILE
    settings = _cli()._settings()
    password = getpass.getpass("SIP password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    if not password or "\n" in password:
        raise click.ClickException("the password is empty")
    settings.key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_private_file(settings.key_dir / SIP_PASSWORD_FILE, password.encode() + b"\n")
    click.echo(f"saved in {settings.key_dir / SIP_PASSWORD_FILE}; `madoguchi voice` registers with "
               f"{settings.sip_registrar or '(sip_registrar is not set)'} at its next start")


@voice.group("line")
def line():
    """Phone lines: which dialled number runs which flow, in which voice."""


@line.command("list")
def line_list():
    """List the phone lines."""
    _cli()._open()
    for ln in PhoneLine.select().order_by(PhoneLine.did):
        state = "active" if ln.active else "off"
        click.echo(f"{ln.did}\t{ln.flow}/{ln.mode}\t{ln.tts_engine}:{ln.tts_voice or '-'} speed {ln.tts_speed} "
                   f"volume {ln.tts_volume}\t{'recorded' if ln.record else 'not recorded'}\t{state}\t{ln.label}")


@line.command("set")
@click.argument("did")
@click.option("--flow", help="Flow name (see `madoguchi voice line list`).")
@click.option("--label")
@click.option("--tts-engine", type=click.Choice(["openjtalk", "kokoro"]))
@click.option("--tts-voice", help="The engine's voice (Kokoro: jf_alpha, jm_kumo, ...).")
@click.option("--tts-speed", type=click.FloatRange(0.5, 2.0), help="0.85 suits many elderly callers.")
@click.option("--tts-volume", type=click.FloatRange(0.05, 1.0))
@click.option("--record/--no-record", default=None)
@click.option("--active/--inactive", default=None)
@click.option("--mode", type=click.Choice(["ai", "dtmf_only"]),
              help="dtmf_only: keys only, the calls never reach speech recognition (flow ivr only).")
def line_set(did, **options):
    """Create or change the phone line for the dialled number DID."""
    from voice.flows import check_flow_name
    from voice.tts import Voice
    if not did.isdigit():
        raise click.BadParameter("digits only, e.g. 0586000001", param_hint="DID")
    changes = {name: value for name, value in options.items() if value is not None}
    _cli()._open()
    with write_transaction():
        existing = PhoneLine.get_or_none(PhoneLine.did == did)
        if existing is None and "flow" not in changes:
            raise click.UsageError("a new line needs --flow")
        ln = existing or PhoneLine(did=did)
        if "tts_engine" in changes and "tts_voice" not in changes and changes["tts_engine"] != ln.tts_engine:
            changes["tts_voice"] = ""  # another engine's voice names mean nothing to this one: its default
        for name, value in changes.items():
            setattr(ln, name, value)
        try:
            check_flow_name(ln.flow)
            if ln.mode == "dtmf_only" and ln.flow != "ivr":
                raise ValueError(f"a dtmf_only line takes keys only: flow {ln.flow!r} listens to speech (use ivr)")
            Voice(engine=ln.tts_engine, speed=ln.tts_speed, volume=ln.tts_volume, name=ln.tts_voice).validate()
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        ln.save()
    click.echo(f"phone line {did}: {'changed' if existing else 'created'}")


@voice.group("flow")
def flow():
    """The flow graphs of IVR lines (flow ivr): versions, import and export as JSON, publish, roll back."""


def _flow_problems(error) -> click.ClickException:
    listed = "\n".join(f"  {p.node or '(全体)'}: {p.message}" for p in error.problems)
    return click.ClickException(f"the flow has {len(error.problems)} problem(s):\n{listed}")


@flow.command("versions")
@click.argument("did")
def flow_versions(did):
    """The versions of the line's flow, newest first."""
    from db import flows
    _cli()._open()
    for version in flows.versions(did):
        when = version.published_at or version.created_at
        click.echo(f"v{version.version}\t{version.status}\t{when:%Y-%m-%d %H:%M}\t"
                   f"{version.published_by or version.created_by}\t{version.comment}")


@flow.command("export")
@click.argument("did")
@click.argument("file", type=click.File("w", encoding="utf-8"), default="-")
@click.option("--version", "number", type=int, help="Default: the published version (else the draft).")
def flow_export(did, file, number):
    """Write the line's flow graph as JSON to FILE (default: standard output)."""
    from db import flows
    _cli()._open()
    version = flows.version(did, number) if number is not None else (flows.published(did) or flows.draft(did))
    if version is None:
        raise click.ClickException(f"line {did} has no such flow version")
    file.write(version.graph + "\n")


@flow.command("import")
@click.argument("did")
@click.argument("file", type=click.File("rb"))
@click.option("--publish", "comment", metavar="COMMENT", help="Publish it at once, with this comment.")
def flow_import(did, file, comment):
    """Keep the JSON flow graph in FILE as the line's draft, and list its problems (or publish it)."""
    from db import flows
    _cli()._open()
    if PhoneLine.get_or_none(PhoneLine.did == did) is None:
        raise click.ClickException(f"no phone line {did} (madoguchi voice line set {did} --flow ivr)")
    data = file.read(2_000_000)
    try:
        with write_transaction():
            version = flows.save_draft(did, data, _cli().cli_actor(), clock.now())
            if comment is not None:
                flows.publish(did, comment, _cli().cli_actor(), clock.now())
    except flows.FlowError as error:
        raise _flow_problems(error) from None
    if comment is not None:
        return click.echo(f"line {did}: v{version.version} published")
    problems = flows.problems(version)
    click.echo(f"line {did}: draft v{version.version} saved, {len(problems)} problem(s)")
    for problem in problems:
        click.echo(f"  {problem.node or '(全体)'}: {problem.message}")


@flow.command("publish")
@click.argument("did")
@click.option("--comment", default="", help="What changed, for the history.")
def flow_publish(did, comment):
    """Publish the line's draft: the next call follows it."""
    from db import flows
    _cli()._open()
    try:
        with write_transaction():
            version = flows.publish(did, comment, _cli().cli_actor(), clock.now())
    except flows.FlowError as error:
        raise _flow_problems(error) from None
    click.echo(f"line {did}: v{version.version} published")


@flow.command("rollback")
@click.argument("did")
@click.argument("version", type=int)
@click.option("--comment", default="", help="Why, for the history.")
def flow_rollback(did, version, comment):
    """Publish an earlier VERSION's graph again (as a new version)."""
    from db import flows
    from db.models import FlowVersion
    _cli()._open()
    try:
        with write_transaction():
            published = flows.roll_back(did, version, comment, _cli().cli_actor(), clock.now())
    except FlowVersion.DoesNotExist:
        raise click.ClickException(f"line {did} has no version {version}") from None
    except flows.FlowError as error:
        raise _flow_problems(error) from None
    click.echo(f"line {did}: v{published.version} published (the graph of v{version})")


@flow.command("simulate")
@click.argument("did")
@click.option("--version", "number", type=int, help="Default: the draft if there is one, else the published version.")
@click.option("--at", "when", metavar="'YYYY-MM-DD HH:MM'", help="When the call comes in (default: now).")
@click.option("--keys", default="", help="The caller's answers, comma-separated; an empty one is silence: '1,,1,09012345678#'.")
@click.option("--caller", default="", help="The caller's number as presented (an SMS to it needs a mobile number).")
@click.option("--transfer", type=click.Choice(["connected", "busy", "no_answer"]), default="connected",
              show_default=True, help="How a transfer ends.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the admin site's simulator reads it).")
@click.option("--stdin", "from_stdin", is_flag=True,
              help='Read the flow from standard input instead: {"version", "graph", "calendars": [...]}.')
def flow_simulate(did, number, when, keys, caller, transfer, as_json, from_stdin):
    """What a call on the line's flow hears, given its keys, without a call."""
    import dataclasses
    import datetime

    from appliance.clock import TOKYO
    from db import calendars, flowgraph, flows
    from voice.flows.ivr.simulate import simulate
    if from_stdin:  # the admin site's simulator: the flow as it sees it, so nothing is read here
        _cli()._settings()
        try:
            given = json.loads(sys.stdin.read(4_000_000))
            schedules = {c["name"]: calendars.parse(c) for c in given["calendars"]}
            program = flows.Program(did, int(given["version"]), flowgraph.parse(given["graph"])[0], schedules)
        except (ValueError, KeyError, TypeError, calendars.CalendarError) as exc:
            raise click.ClickException(f"not a flow to simulate: {exc}") from None
        if program.graph is None:
            raise click.ClickException("not a flow graph")
    else:
        _cli()._open()
        version = flows.version(did, number) if number is not None else (flows.draft(did) or flows.published(did))
        if version is None:
            raise click.ClickException(f"line {did} has no such flow version")
        program = flows.program_of(version)
    try:
        moment = datetime.datetime.fromisoformat(when).replace(tzinfo=TOKYO) if when else clock.now().astimezone(TOKYO)
    except ValueError:
        raise click.BadParameter("e.g. '2026-12-29 18:00'", param_hint="--at") from None
    inputs = keys.split(",") if keys else []
    result = simulate(program, did, moment, [k.strip() for k in inputs], caller=caller, transfer=transfer)
    if as_json:
        click.echo(json.dumps({"version": program.version, "at": moment.isoformat(), **dataclasses.asdict(result)},
                              ensure_ascii=False))
        return
    click.echo(f"line {did} v{program.version}, a call at {moment:%Y-%m-%d %H:%M}:")
    marks = {"said": "  said: ", "keys": "  keys: ", "turn": "    → ", "end": "  ended: "}
    for moment_ in result.lines:
        text = moment_.text if moment_.kind != "keys" else (moment_.text or "(nothing)")
        text += f" ({moment_.detail})" if moment_.detail else ""
        click.echo(f"[{moment_.node}]{marks[moment_.kind]}{text}")
    if result.waiting:
        click.echo("(waiting for the next keys)")


@voice.group("target")
def target():
    """Transfer targets: the names flows transfer to, and the SIP URI or number each rings."""


@target.command("list")
def target_list():
    """The transfer targets (the table's and the transfer_targets setting's)."""
    from db import targets
    _cli()._open()
    groups = {name: group for group, names in targets.groups().items() for name in names}
    for name, address in sorted(targets.all_targets().items()):
        click.echo(f"{name}\t{address}\t{groups.get(name, '')}")


@target.command("set")
@click.argument("name")
@click.argument("address")
@click.option("--label", default="")
@click.option("--group", default=None, help="The group of phones whose call queue it answers ('' for none).")
def target_set(name, address, label, group):
    """Create or change the transfer target NAME: ADDRESS is sip:user@host or a number (via transfer_via)."""
    from appliance.settings import SettingsError
    from db import targets
    _cli()._open()
    try:
        with write_transaction():
            targets.save(name, address, label, _cli().cli_actor(), clock.now(), group=group)
    except (ValueError, SettingsError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"transfer target {name}: {address}")


@voice.group("extension")
def extension():
    """Staff phones that register to the appliance as extensions (a transfer target sip:NUMBER@<box>)."""


@extension.command("list")
def extension_list():
    """The extensions, and whether each is registered now is for Kamailio to say."""
    from db.models import Extension
    _cli()._open()
    for row in Extension.select().order_by(Extension.number):
        click.echo(f"{row.number}\t{row.label}\tchanged {row.updated_at:%Y-%m-%d} by {row.updated_by}")


@extension.command("add")
@click.argument("number")
@click.option("--label", default="")
def extension_add(number, label):
    """Create extension NUMBER (2-6 digits), or give it a new password; prints the password once. The
    voice engine reads the extensions when it starts: restart it (supervisorctl restart voice)."""
    from db import extensions
    _cli()._open()
    try:
        with write_transaction():
            password = extensions.save(number, label, _cli().cli_actor(), clock.now())
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="NUMBER") from None
    click.echo(f"extension {number}: user {number}, password {password}, realm {extensions.REALM}, "
               f"registrar this box's SIP address (sip_listen)")


@extension.command("remove")
@click.argument("number")
def extension_remove(number):
    """Remove extension NUMBER (its phone can no longer register after the engine's next start)."""
    from db import extensions
    _cli()._open()
    with write_transaction():
        if not extensions.remove(number, _cli().cli_actor(), clock.now()):
            raise click.ClickException(f"no extension {number}")
    click.echo(f"extension {number}: removed")


@voice.group("calendar")
def calendar():
    """Calendars of opening hours, read by the schedule nodes of IVR flows."""


@calendar.command("set")
@click.argument("file", type=click.File("rb"))
def calendar_set(file):
    """Create or replace a calendar from JSON: {"name", "weekly": {"0": ["08:45-17:15"]...},
    "holidays_closed", "year_end_closed", "exceptions": [{"date", "hours", "label"}]}."""
    from db import calendars
    _cli()._open()
    try:
        data = json.loads(file.read(1_000_000))
        with write_transaction():
            schedule = calendars.save(data if isinstance(data, dict) else {}, _cli().cli_actor(), clock.now())
    except ValueError as exc:
        raise click.ClickException(f"not JSON: {exc}") from None
    except calendars.CalendarError as error:
        raise click.ClickException("\n".join(error.problems)) from None
    click.echo(f"calendar {schedule.name}: saved")


@calendar.command("show")
@click.argument("name")
@click.option("--at", "when", metavar="'YYYY-MM-DD HH:MM'", help="Also say whether it is open then.")
def calendar_show(name, when):
    """A calendar as JSON (and whether it is open at a given time)."""
    import datetime

    from appliance.clock import TOKYO
    from db import calendars
    _cli()._open()
    schedule = calendars.get(name)
    if schedule is None:
        raise click.ClickException(f"no calendar {name!r}")
    click.echo(json.dumps(schedule.to_json(), ensure_ascii=False, indent=1))
    if when:
        try:
            moment = datetime.datetime.fromisoformat(when).replace(tzinfo=TOKYO)
        except ValueError:
            raise click.BadParameter("e.g. '2026-12-29 18:00'", param_hint="--at") from None
        verdict = schedule.at(moment)
        click.echo(f"{moment:%Y-%m-%d %H:%M}: {'open' if verdict.open else 'closed'} ({verdict.rule})")


@voice.command("say")
@click.argument("text", required=False)
@click.option("--tts-engine", type=click.Choice(["openjtalk", "kokoro"]), default="openjtalk", show_default=True)
@click.option("--tts-voice", default="", help="The engine's voice (Kokoro: jf_alpha, jm_kumo, ...).")
@click.option("--tts-speed", type=click.FloatRange(0.5, 2.0), default=1.0, show_default=True)
@click.option("--tts-volume", type=click.FloatRange(0.05, 1.0), default=0.7, show_default=True)
@click.option("--output", "-o", default="-", show_default=True, help="WAV file to write; - for standard output.")
def voice_say(text, tts_engine, tts_voice, tts_speed, tts_volume, output):
    """Synthesise TEXT (or standard input) as a phone line would say it, into a 16 kHz WAV file: the
    admin site's audio preview runs this (the sites may not load the synthesiser themselves)."""
    import io
    import wave

    from voice.tts import RATE, Voice, kokoro, synthesize
    settings = _cli()._settings()
    text = sys.stdin.read() if text is None else text
    voice = Voice(engine=tts_engine, speed=tts_speed, volume=tts_volume, name=tts_voice)
    kokoro.use_models_dir(settings.models_dir)
    try:
        voice.validate()
        samples = synthesize(text.strip(), voice)
    except (ValueError, kokoro.ModelProblem) as exc:
        raise click.ClickException(str(exc)) from None
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.tobytes())
    if output == "-":
        sys.stdout.buffer.write(buffer.getvalue())
        sys.stdout.buffer.flush()
        return
    target = Path(output)
    tmp = target.with_name(f".{target.name}.part")
    tmp.write_bytes(buffer.getvalue())
    tmp.replace(target)
    click.echo(f"wrote {output} ({len(samples) / RATE:.1f} s)", err=True)


@voice.command("calls")
def voice_calls():
    """The calls in progress now."""
    from voice.calllog import live_calls
    _cli()._open()
    calls = live_calls()
    for call in calls:
        state = "talking" if call.answered_at else "ringing"
        click.echo(f"{call.id}\t{call.did}\tworker {call.worker}\t{state}\t"
                   f"since {call.started_at.astimezone(clock.TOKYO):%H:%M:%S}")
    click.echo(f"{len(calls)} call(s) in progress")


@voice.command("log")
@click.option("--limit", type=click.IntRange(1, 10000), default=20, show_default=True)
@click.option("--show-caller", is_flag=True, help="Show callers' numbers (personal data: audited).")
def voice_log(limit, show_caller):
    """The most recent calls: when, line, duration, outcome, path through the flow, recording."""
    _cli()._open()
    if show_caller:
        from db.audit import record
        with write_transaction():
            record(_cli().cli_actor().name, "call.view_callers", "call_record", f"last {limit}", clock.now(),
                   source="cli")
    for call in CallRecord.select().order_by(CallRecord.id.desc()).limit(limit):
        caller = (call.caller or "非通知") if show_caller else "-"
        path = "→".join(json.loads(call.path))
        click.echo(f"{call.id}\t{call.started_at.astimezone(clock.TOKYO):%Y-%m-%d %H:%M:%S}\t{call.did}\t{caller}\t"
                   f"{call.duration_s if call.duration_s is not None else '-'} s\t{call.outcome or 'live'}\t{path}\t"
                   f"{'recorded ' + str(call.recording_seconds) + ' s' if call.recording else ''}")


@voice.command("recording")
@click.argument("call_id", type=int)
@click.argument("output", type=click.Path(dir_okay=False, writable=True))
def voice_recording(call_id, output):
    """Decrypt the recording of call CALL_ID (see `madoguchi voice log`) into the WAV file OUTPUT."""
    from db.audit import record
    from db.files import DecryptionError
    from db.recordings import to_wav
    settings = _cli()._settings()
    _cli()._open()
    call = CallRecord.get_or_none(CallRecord.id == call_id)
    if call is None or not call.recording:
        raise click.ClickException(f"call {call_id} has no recording")
    try:
        wav = to_wav(settings.recordings_dir / call.recording, crypto.cipher())
    except (OSError, DecryptionError) as exc:
        raise click.ClickException(f"the recording of call {call_id} cannot be read: {exc}") from None
    with write_transaction():
        record(_cli().cli_actor().name, "call.export_recording", "call_record", call_id, clock.now(),
               source="cli")
    Path(output).write_bytes(wav)
    click.echo(f"wrote {output} ({call.recording_seconds} s)")


@voice.command("evaluate")
@click.option("--limit", type=click.IntRange(1, 100000), help="Only the first LIMIT marked turns.")
def voice_evaluate(limit):
    """Recognise again, with the configured recogniser (asr_engine), every answer staff marked as
    misrecognised on the staff site, and print per item what was expected and what is heard now, then
    the count, the character error rate and the exact matches (the texts are personal data: audited)."""
    from db.audit import record
    from voice.asr.whisper import ModelProblem
    from voice.evaluation import Report, evaluate, marked_turns, summary_line
    from voice.recognition import load_engine
    settings = _cli()._settings()
    _cli()._open()
    turns = marked_turns()[:limit] if limit else marked_turns()
    if not turns:
        click.echo(summary_line(Report()))
        return
    try:
        recognizer = load_engine(settings)
    except ModelProblem as exc:
        raise click.ClickException(str(exc)) from None
    with write_transaction():
        record(_cli().cli_actor().name, "call.evaluate", "call_turn", f"{len(turns)} marked", clock.now(),
               source="cli", engine=settings.asr_engine)
    click.echo(f"{len(turns)} marked turn(s), recogniser {settings.asr_engine}")

    def show(item):
        mark = "=" if item.exact else "x"
        click.echo(f"{mark} turn {item.turn_id} (call {item.call_id}, {item.step})\texpected: {item.expected}\t"
                   f"heard: {item.heard_now or '(nothing)'}\tat the call: {item.heard_then or '(nothing)'}\t"
                   f"{item.errors}/{item.length} wrong")

    report = evaluate(recognizer, settings.recordings_dir, crypto.cipher(), turns=turns, on_item=show)
    for turn_id, why in report.skipped:
        click.echo(f"- turn {turn_id}: skipped ({'no recording' if why == 'no_recording' else 'recording unreadable'})")
    click.echo(summary_line(report))
