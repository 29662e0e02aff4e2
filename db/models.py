"""peewee models mirroring db/migrations (the SQL there is the source of truth; a test compares)."""

from __future__ import annotations

import datetime
import json

import peewee

from db import crypto
from db.connection import database


class HourMinuteField(peewee.TextField):
    """A wall-clock time stored as 'HH:MM'."""

    def db_value(self, value):
        if value is None:
            return None
        if isinstance(value, datetime.time):
            return value.strftime("%H:%M")
        return str(value)

    def python_value(self, value):
        if value is None:
            return None
        return datetime.time.fromisoformat(value)


class IsoDateField(peewee.TextField):
    def db_value(self, value):
        return value.isoformat() if isinstance(value, datetime.date) else value

    def python_value(self, value):
        return datetime.date.fromisoformat(value) if value is not None else None


class TimestampField(peewee.TextField):
    """An aware UTC instant stored as ISO 8601 text."""

    def db_value(self, value):
        if value is None or isinstance(value, str):
            return value
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a timestamp")
        return value.astimezone(datetime.UTC).isoformat()

    def python_value(self, value):
        return datetime.datetime.fromisoformat(value) if value is not None else None


class EncryptedField(peewee.BlobField):
    """A personal-data column: AES-GCM envelope in the database, plain str in Python."""

    def db_value(self, value):
        if value is None:
            return None
        return crypto.cipher().encrypt(str(value), self.context)

    def python_value(self, value):
        if value is None:
            return None
        return crypto.cipher().decrypt(value, self.context)

    @property
    def context(self) -> str:
        return f"{self.model._meta.table_name}.{self.column_name}"


class BaseModel(peewee.Model):
    class Meta:
        database = database
        legacy_table_names = False


class Venue(BaseModel):
    slug = peewee.TextField(unique=True)
    name = peewee.TextField()
    kana = peewee.TextField()
    address = peewee.TextField(default="")
    access = peewee.TextField(default="")
    sort_order = peewee.IntegerField(default=0)
    active = peewee.BooleanField(default=True)


class Slot(BaseModel):
    venue = peewee.ForeignKeyField(Venue, backref="slots")
    date = IsoDateField()
    start = HourMinuteField()
    capacity = peewee.IntegerField()
    phone_seats = peewee.IntegerField(default=0)
    staff_seats = peewee.IntegerField(default=0)
    booked_web = peewee.IntegerField(default=0)
    booked_phone = peewee.IntegerField(default=0)
    booked_staff = peewee.IntegerField(default=0)
    booked_over = peewee.IntegerField(default=0)
    closed = peewee.BooleanField(default=False)
    closed_reason = peewee.TextField(default="")

    @property
    def booked(self) -> int:
        return self.booked_web + self.booked_phone + self.booked_staff + self.booked_over

    def starts_at(self, tz: datetime.tzinfo) -> datetime.datetime:
        return datetime.datetime.combine(self.date, self.start, tz)


class ReceptionWindow(BaseModel):
    venue = peewee.ForeignKeyField(Venue, null=True, unique=True)
    opens_days_before = peewee.IntegerField()
    opens_time = HourMinuteField()
    closes_days_before = peewee.IntegerField()
    closes_time = HourMinuteField()


class Booking(BaseModel):
    number = peewee.TextField(unique=True)
    slot = peewee.ForeignKeyField(Slot, backref="bookings")
    status = peewee.TextField()
    channel = peewee.TextField()
    counted_as = peewee.TextField()
    party_size = peewee.IntegerField(default=1)
    name = EncryptedField(null=True)
    kana = EncryptedField(null=True)
    phone = EncryptedField(null=True)
    email = EncryptedField(null=True)
    birth_date = EncryptedField(null=True)
    lookup_token = EncryptedField(null=True)
    phone_index = peewee.TextField(null=True)
    active_person_key = peewee.TextField(null=True)
    notify = peewee.TextField(default="none")
    idempotency_key = peewee.TextField(null=True, unique=True)
    override_reason = peewee.TextField(default="")
    created_by = peewee.TextField(default="")
    version = peewee.IntegerField(default=1)
    walk_in = peewee.BooleanField(default=False)
    created_at = TimestampField()
    updated_at = TimestampField()
    cancelled_at = TimestampField(null=True)

    ENCRYPTED_FIELDS = ("name", "kana", "phone", "email", "birth_date", "lookup_token")


class EligibilityQuestion(BaseModel):
    sort_order = peewee.IntegerField(default=0)
    text = peewee.TextField()
    required = peewee.BooleanField(default=True)
    guidance = peewee.TextField(default="")
    active = peewee.BooleanField(default=True)


class StaffUser(BaseModel):
    login = peewee.TextField(unique=True)
    display_name = peewee.TextField(default="")
    role = peewee.TextField()
    password_hash = peewee.TextField()
    must_change_password = peewee.BooleanField(default=True)
    disabled = peewee.BooleanField(default=False)
    expires_at = TimestampField(null=True)
    totp_secret = EncryptedField(null=True)
    created_at = TimestampField()
    last_login_at = TimestampField(null=True)
    totp_last_step = peewee.IntegerField(default=0)
    password_changed_at = TimestampField(null=True)
    edits_flows = peewee.BooleanField(default=False)  # staff who may also edit and publish IVR flows


class RecoveryCode(BaseModel):
    user = peewee.ForeignKeyField(StaffUser, backref="recovery_codes", on_delete="CASCADE")
    code_hash = peewee.TextField(unique=True)
    used_at = TimestampField(null=True)


class AccessLog(BaseModel):
    at = TimestampField()
    actor = peewee.TextField(default="")
    endpoint = peewee.TextField()
    method = peewee.TextField()
    status = peewee.IntegerField()
    source = peewee.TextField(default="")


class Traffic(BaseModel):
    """Requests per hour ('2026-12-01T10', Tokyo time) and site."""

    hour = peewee.TextField()
    site = peewee.TextField()
    requests = peewee.IntegerField()

    class Meta:
        primary_key = peewee.CompositeKey("hour", "site")
        without_rowid = True


class MessageText(BaseModel):
    event = peewee.TextField()
    channel = peewee.TextField()
    subject = peewee.TextField(default="")
    body = peewee.TextField()
    updated_at = TimestampField()
    updated_by = peewee.TextField(default="")

    class Meta:
        indexes = ((("event", "channel"), True),)


class AuditLog(BaseModel):
    at = TimestampField()
    actor = peewee.TextField()
    action = peewee.TextField()
    object_type = peewee.TextField()
    object_id = peewee.TextField()
    details = peewee.TextField(default="{}")
    source = peewee.TextField(default="")
    chain = peewee.TextField(default="")  # db/audit.py: the keyed link to the row before


class Outbox(BaseModel):
    created_at = TimestampField()
    event = peewee.TextField()
    booking = peewee.ForeignKeyField(Booking, null=True, backref="messages")
    channel = peewee.TextField()
    idempotency_key = peewee.TextField(unique=True)
    status = peewee.TextField(default="pending")
    attempts = peewee.IntegerField(default=0)
    next_attempt_at = TimestampField()
    claimed_at = TimestampField(null=True)
    resends = peewee.IntegerField(default=0)
    last_error = peewee.TextField(default="")
    sent_at = TimestampField(null=True)
    gateway_id = peewee.TextField(default="")
    segments = peewee.IntegerField(default=0)
    receipt = peewee.TextField(default="")
    receipt_at = TimestampField(null=True)
    recipient = EncryptedField(null=True)  # an IVR SMS's number (a booking's message goes to the booking's)
    body = peewee.TextField(default="")  # an IVR SMS's text as staff wrote it
    did = peewee.TextField(default="")  # the line whose flow sent an IVR SMS

    @property
    def reference(self) -> str:
        """What the gateway or mail server sees as this message's identity: the same on every retry,
        new when staff resend."""
        return f"madoguchi-{self.id}-{self.resends}"


class JobRun(BaseModel):
    job = peewee.TextField()
    day = IsoDateField()
    finished_at = TimestampField()
    result = peewee.TextField(default="")

    class Meta:
        primary_key = peewee.CompositeKey("job", "day")
        without_rowid = True


class WebSession(BaseModel):
    token_hash = peewee.TextField(primary_key=True)
    data = EncryptedField()
    expires_at = TimestampField()
    updated_at = TimestampField()


class RateLimit(BaseModel):
    key = peewee.TextField()
    window_start = peewee.IntegerField()
    count = peewee.IntegerField()

    class Meta:
        primary_key = peewee.CompositeKey("key", "window_start")
        without_rowid = True


class SiteNotice(BaseModel):
    text = peewee.TextField(default="")
    updated_at = TimestampField()
    updated_by = peewee.TextField(default="")


class PhoneLine(BaseModel):
    did = peewee.TextField(unique=True)
    label = peewee.TextField(default="")
    flow = peewee.TextField()
    tts_engine = peewee.TextField(default="openjtalk")
    tts_voice = peewee.TextField(default="")
    tts_speed = peewee.FloatField(default=1.0)
    tts_volume = peewee.FloatField(default=0.7)
    record = peewee.BooleanField(default=True)
    active = peewee.BooleanField(default=True)
    mode = peewee.TextField(default="ai")  # "ai" or "dtmf_only": never reaches speech recognition


class FlowVersion(BaseModel):
    """One version of a phone line's flow graph (db/flows.py): draft → published → retired."""

    did = peewee.TextField()
    version = peewee.IntegerField()
    status = peewee.TextField()
    graph = peewee.TextField()  # JSON (db/flowgraph.py)
    comment = peewee.TextField(default="")
    created_at = TimestampField()
    created_by = peewee.TextField(default="")
    published_at = TimestampField(null=True)
    published_by = peewee.TextField(default="")


class TransferTarget(BaseModel):
    """Where a flow's transfer node sends a caller (db/targets.py)."""

    name = peewee.TextField(unique=True)
    address = peewee.TextField()
    label = peewee.TextField(default="")
    group_name = peewee.TextField(default="")  # the phones of one group share a call queue
    updated_at = TimestampField()
    updated_by = peewee.TextField(default="")


class QueueEntry(BaseModel):
    """A caller waiting for a group's phones, and what became of the wait (db/queues.py)."""

    sip_call_id = peewee.TextField()
    did = peewee.TextField()
    group_name = peewee.TextField()
    entered_at = TimestampField()
    state = peewee.TextField(default="waiting")
    target = peewee.TextField(default="")
    offered_at = TimestampField(null=True)
    left_at = TimestampField(null=True)
    wait_s = peewee.FloatField(null=True)


class Extension(BaseModel):
    """A staff phone registering to the appliance (db/extensions.py)."""

    number = peewee.TextField(unique=True)
    label = peewee.TextField(default="")
    ha1 = peewee.TextField()
    updated_at = TimestampField()
    updated_by = peewee.TextField(default="")


class Calendar(BaseModel):
    """Opening hours a flow's schedule node reads (db/calendars.py)."""

    name = peewee.TextField(unique=True)
    weekly = peewee.TextField(default="{}")
    holidays_closed = peewee.BooleanField(default=True)
    year_end_closed = peewee.BooleanField(default=True)
    exceptions = peewee.TextField(default="[]")
    updated_at = TimestampField()
    updated_by = peewee.TextField(default="")


class CallRecord(BaseModel):
    sip_call_id = peewee.TextField(unique=True)
    did = peewee.TextField()
    caller = EncryptedField(null=True)
    caller_index = peewee.TextField(null=True)
    worker = peewee.IntegerField()
    kind = peewee.TextField(default="ivr")  # "ai" (speech recognised) or "ivr" (keys only): billed apart
    started_at = TimestampField()
    answered_at = TimestampField(null=True)
    ended_at = TimestampField(null=True)
    duration_s = peewee.FloatField(null=True)
    outcome = peewee.TextField(default="")
    end_reason = peewee.TextField(default="")
    path = peewee.TextField(default="[]")
    flow_version = peewee.IntegerField(null=True)  # the version of the line's flow graph it followed
    live_step = peewee.TextField(default="")  # while it goes on: where it is in its flow
    live_keys = EncryptedField(null=True)  # the keys pressed so far
    live_state = peewee.TextField(default="")  # "flow", "ringing:<target>", "talking:<target>"
    recording = peewee.TextField(default="")
    recording_seconds = peewee.FloatField(null=True)
    transcript = peewee.TextField(default="")


class CallTurn(BaseModel):
    """One question of a spoken dialog and its answer (db/migrations/0008_call_turns.sql)."""

    call = peewee.ForeignKeyField(CallRecord, backref="turns", on_delete="CASCADE")
    seq = peewee.IntegerField()
    step = peewee.TextField()
    result = peewee.TextField()
    offset_s = peewee.FloatField(null=True)
    duration_s = peewee.FloatField(null=True)
    confidence = peewee.FloatField(null=True)
    prompt = EncryptedField(null=True)
    heard = EncryptedField(null=True)
    alternatives = EncryptedField(null=True)  # a JSON list
    scores = EncryptedField(null=True)  # a JSON list of [expected answer, score], best first
    keys = EncryptedField(null=True)
    understood = EncryptedField(null=True)
    corrected = EncryptedField(null=True)
    corrected_by = peewee.TextField(default="")
    corrected_at = TimestampField(null=True)

    class Meta:
        indexes = ((("call", "seq"), True),)

    @property
    def alternative_list(self) -> list[str]:
        try:
            value = json.loads(self.alternatives or "[]")
        except ValueError:
            return []
        return [str(v) for v in value] if isinstance(value, list) else []

    @property
    def score_list(self) -> list[tuple[str, float]]:
        try:
            value = json.loads(self.scores or "[]")
        except ValueError:
            return []
        return [(str(v[0]), float(v[1])) for v in value if isinstance(v, list) and len(v) == 2
                and isinstance(v[1], int | float)] if isinstance(value, list) else []


class PromptText(BaseModel):
    """A phone prompt as staff edited it (db/prompts.py, db/migrations/0009_prompt_text.sql)."""

    key = peewee.TextField(unique=True)
    text = peewee.TextField()
    updated_at = TimestampField()
    updated_by = peewee.TextField(default="")


class PurgeReport(BaseModel):
    """A purge's signed report (db/purge.py), kept as the JSON that was signed."""

    made_at = TimestampField()
    dry_run = peewee.BooleanField(default=False)
    document = peewee.TextField()


class FaqCategory(BaseModel):
    """A heading of the FAQ (db/faq.py)."""

    key = peewee.TextField(unique=True)
    name = peewee.TextField()
    sort_order = peewee.IntegerField(default=0)


class FaqEntry(BaseModel):
    """One question and its answer (db/faq.py); `revision` counts saves, so two editors cannot overwrite."""

    key = peewee.TextField(unique=True)
    category = peewee.ForeignKeyField(FaqCategory, backref="entries", column_name="category_id")
    question = peewee.TextField()
    answer = peewee.TextField()
    phrasings = peewee.TextField(default="")
    bring = peewee.TextField(default="")
    source_url = peewee.TextField(default="")
    public = peewee.BooleanField(default=True)
    status = peewee.TextField(default="draft")
    revision = peewee.IntegerField(default=1)
    sort_order = peewee.IntegerField(default=0)
    updated_at = TimestampField()
    updated_by = peewee.TextField(default="")


class FaqRevision(BaseModel):
    entry = peewee.ForeignKeyField(FaqEntry, backref="revisions", column_name="entry_id", on_delete="CASCADE")
    revision = peewee.IntegerField()
    content = peewee.TextField()  # JSON: the entry's fields as saved
    status = peewee.TextField()
    saved_at = TimestampField()
    saved_by = peewee.TextField(default="")
    comment = peewee.TextField(default="")


class FaqUse(BaseModel):
    entry = peewee.ForeignKeyField(FaqEntry, backref="uses", column_name="entry_id")
    used_at = TimestampField()
    channel = peewee.TextField()
    rank = peewee.IntegerField(null=True)
    used_by = peewee.TextField(default="")


class FaqSearchMiss(BaseModel):
    asked_at = TimestampField()
    query = peewee.TextField()
    found = peewee.IntegerField(default=0)
    reviewed = peewee.BooleanField(default=False)


class Inquiry(BaseModel):
    """One contact in the record book (db/inquiries.py)."""

    channel = peewee.TextField()
    received_at = TimestampField()
    answered_at = TimestampField(null=True)
    talk_ended_at = TimestampField(null=True)
    completed_at = TimestampField(null=True)
    did = peewee.TextField(default="")
    call = peewee.ForeignKeyField(CallRecord, null=True, column_name="call_id", on_delete="SET NULL")
    target = peewee.TextField(default="")
    topic = peewee.TextField(default="")
    summary = EncryptedField(null=True)
    answer = EncryptedField(null=True)
    caller_name = EncryptedField(null=True)
    caller_phone = EncryptedField(null=True)
    booking_number = peewee.TextField(default="")
    status = peewee.TextField(default="open")
    first_contact = peewee.BooleanField(default=False)
    revision = peewee.IntegerField(default=1)
    transcript = EncryptedField(null=True)  # the conversation, as the recognition service read it
    transcript_state = peewee.TextField(default="")  # "", "done" or "failed"
    transcript_tries = peewee.IntegerField(default=0)
    created_by = peewee.TextField(default="")
    updated_at = TimestampField()
    updated_by = peewee.TextField(default="")


class InquiryFaq(BaseModel):
    inquiry = peewee.ForeignKeyField(Inquiry, backref="faq_links", column_name="inquiry_id", on_delete="CASCADE")
    entry = peewee.ForeignKeyField(FaqEntry, column_name="entry_id")

    class Meta:
        primary_key = peewee.CompositeKey("inquiry", "entry")


class Escalation(BaseModel):
    inquiry = peewee.ForeignKeyField(Inquiry, backref="escalations", column_name="inquiry_id")
    group_name = peewee.TextField()
    note = EncryptedField(null=True)
    escalated_at = TimestampField()
    escalated_by = peewee.TextField(default="")
    due_at = TimestampField()
    status = peewee.TextField(default="open")
    reply = EncryptedField(null=True)
    replied_at = TimestampField(null=True)
    replied_by = peewee.TextField(default="")
    closed_at = TimestampField(null=True)
    closed_by = peewee.TextField(default="")


ALL_MODELS = (Venue, Slot, ReceptionWindow, Booking, EligibilityQuestion, StaffUser, RecoveryCode, AuditLog,
              AccessLog, Outbox, WebSession, RateLimit, SiteNotice, PhoneLine, CallRecord, MessageText,
              Traffic, JobRun, CallTurn, PromptText, FlowVersion, Calendar,
              TransferTarget, Extension, QueueEntry, PurgeReport, FaqCategory, FaqEntry, FaqRevision,
              FaqUse, FaqSearchMiss, Inquiry, InquiryFaq, Escalation)
