"""URL rules of the staff admin site, each with the least role that may use it, all in one place.

Role None: the sign-in pages; "token": /metrics, for a scraper holding key_dir/metrics.token. "viewer" reads; "staff" runs the counter (bookings, slots, lists);
"flows" is staff made flow editors (`madoguchi user flows`), who also edit, simulate and publish the
lines' IVR flows; "admin" also edits venues, texts, phone prompts and lines, settings and staff accounts, reads the logs and books over capacity. GET pages that
change nothing are open to viewers; every POST needs staff or more (the account pages aside).
SENSITIVE rules ask for the password and code again when the last sign-in is older than
admin_reauth_minutes.
"""

from __future__ import annotations

from flask import Blueprint

from web.admin import (
    access,
    metrics,
    views_account,
    views_bookings,
    views_calls,
    views_desk,
    views_desk_report,
    views_faq,
    views_flows,
    views_notify,
    views_prompts,
    views_reports,
    views_slots,
    views_users,
)

blueprint = Blueprint("admin", __name__)

GET, POST, BOTH = ["GET"], ["POST"], ["GET", "POST"]

RULES = [
    # rule, endpoint, view, methods, role, sensitive
    ("/login", "login", views_account.login, BOTH, None, False),
    ("/login/code", "login_code", views_account.login_code, BOTH, None, False),
    ("/login/new-password", "login_new_password", views_account.login_new_password, BOTH, None, False),
    ("/login/enrol", "login_enrol", views_account.login_enrol, BOTH, None, False),
    ("/login/recovery-codes", "login_codes", views_account.login_codes, BOTH, None, False),
    ("/logout", "logout", views_account.logout, POST, None, False),
    ("/metrics", "metrics", metrics.metrics, GET, "token", False),  # Prometheus, with key_dir/metrics.token
    ("/reauth", "reauth", views_account.reauth, BOTH, "viewer", False),
    ("/account", "account", views_account.account, GET, "viewer", False),
    ("/account/password", "account_password", views_account.account_password, POST, "viewer", False),
    ("/account/recovery-codes", "account_recovery_codes", views_account.account_recovery_codes, POST, "viewer", True),

    ("/", "home", views_slots.home, GET, "viewer", False),
    ("/venues", "venues", views_slots.venues, GET, "viewer", False),
    ("/venues/new", "venue_new", views_slots.venue_new, BOTH, "admin", False),
    ("/venues/<int:venue_id>/edit", "venue_edit", views_slots.venue_edit, BOTH, "admin", False),
    ("/venues/<int:venue_id>/week", "week", views_slots.week, GET, "viewer", False),
    ("/slots/generate", "generate", views_slots.generate, BOTH, "staff", False),
    ("/slots/capacity", "capacity", views_slots.capacity, BOTH, "staff", False),
    ("/slots/close", "close", views_slots.close, BOTH, "staff", False),
    ("/slots/<int:slot_id>", "slot_edit", views_slots.slot_edit, BOTH, "staff", False),
    ("/settings/window", "window", views_slots.window, BOTH, "admin", False),
    ("/settings/questions", "questions", views_slots.questions, GET, "admin", False),
    ("/settings/questions/new", "question_new", views_slots.question_new, BOTH, "admin", False),
    ("/settings/questions/<int:question_id>", "question_edit", views_slots.question_edit, BOTH, "admin", False),
    ("/settings/notice", "notice", views_slots.notice, BOTH, "admin", False),

    ("/bookings", "bookings", views_bookings.search, GET, "viewer", False),
    ("/bookings/new", "booking_new", views_bookings.new, BOTH, "staff", False),
    ("/bookings/<number>", "booking", views_bookings.detail, GET, "viewer", False),
    ("/bookings/<number>/edit", "booking_edit", views_bookings.edit, POST, "staff", False),
    ("/bookings/<number>/move", "booking_move", views_bookings.move, BOTH, "staff", False),
    ("/bookings/<number>/cancel", "booking_cancel", views_bookings.cancel, POST, "staff", False),
    ("/bookings/<number>/attendance", "booking_attendance", views_bookings.attendance, POST, "staff", False),
    ("/slots/<int:slot_id>/walk-in", "walk_in", views_bookings.walk_in, POST, "staff", False),

    ("/lists", "day_list", views_reports.day_list, GET, "viewer", False),
    ("/lists/print.pdf", "day_list_pdf", views_reports.day_list_pdf, GET, "viewer", False),
    ("/lists/export.csv", "day_list_csv", views_reports.day_list_csv, GET, "staff", True),
    ("/statistics", "statistics", views_reports.statistics_page, GET, "viewer", False),
    ("/statistics/report.pdf", "report_pdf", views_reports.report_pdf, GET, "viewer", False),
    ("/statistics/report.csv", "report_csv", views_reports.report_csv, GET, "viewer", False),
    ("/logs/audit", "audit_log", views_reports.audit_log, GET, "admin", False),
    ("/logs/audit.csv", "audit_log_csv", views_reports.audit_log_csv, GET, "admin", True),
    ("/logs/access", "access_log", views_reports.access_log, GET, "admin", False),
    ("/logs/access.csv", "access_log_csv", views_reports.access_log_csv, GET, "admin", True),
    ("/users", "users", views_users.user_list, GET, "admin", True),
    ("/users/new", "user_new", views_users.user_new, POST, "admin", True),
    ("/users/<login>", "user_action", views_users.user_action, POST, "admin", True),
    ("/messages", "messages", views_notify.problems, GET, "staff", False),
    ("/messages/<int:message_id>/resend", "message_resend", views_notify.message_resend, POST, "staff", False),
    ("/usage", "usage", views_notify.usage_page, GET, "admin", False),
    ("/purge-reports", "purge_reports", views_notify.purge_reports, GET, "admin", False),
    ("/purge-reports/<int:report_id>.json", "purge_report_json", views_notify.purge_report_json, GET, "admin", False),
    ("/usage/statement.pdf", "usage_pdf", views_notify.usage_pdf, GET, "admin", False),
    ("/usage/statement.csv", "usage_csv", views_notify.usage_csv, GET, "admin", False),
    ("/texts", "texts", views_reports.texts_index, GET, "admin", False),
    ("/texts/<event>/<channel>", "text_edit", views_reports.text_edit, BOTH, "admin", False),

    # the phone: the call log and its statistics for every reader; a call's turns, its recording and their
    # corrections are personal data (callers say names, numbers, birth dates): staff and up
    ("/calls", "calls", views_calls.call_list, GET, "viewer", False),
    ("/calls/live", "live_calls", views_calls.live_calls, GET, "staff", False),
    ("/calls/ivr-report", "ivr_report", views_calls.ivr_report_page, GET, "viewer", False),
    ("/calls/ivr-report.pdf", "ivr_report_pdf", views_calls.ivr_report_pdf, GET, "viewer", False),
    ("/calls/ivr-report.csv", "ivr_report_csv", views_calls.ivr_report_csv, GET, "viewer", False),
    ("/calls/export.csv", "calls_csv", views_calls.call_list_csv, GET, "staff", False),
    ("/calls/statistics", "call_statistics", views_calls.statistics_page, GET, "viewer", False),
    ("/calls/statistics.csv", "call_statistics_csv", views_calls.statistics_csv, GET, "viewer", False),
    ("/calls/corrections", "call_corrections", views_calls.corrections, GET, "staff", False),
    ("/calls/<int:call_id>", "call", views_calls.call_detail, GET, "staff", False),
    ("/calls/<int:call_id>/recording.wav", "call_recording", views_calls.call_recording, GET, "staff", False),
    ("/calls/<int:call_id>/turns/<int:turn_id>.wav", "call_turn_audio", views_calls.call_turn_audio, GET, "staff",
     False),
    ("/calls/<int:call_id>/turns/<int:turn_id>/correct", "call_turn_correct", views_calls.call_turn_correct, POST,
     "staff", False),

    # the operator's desk and the inquiry record book: staff write; viewers read it masked
    ("/desk", "desk", views_desk.desk, GET, "staff", False),
    ("/desk/phones", "desk_phones", views_desk.desk_phones, POST, "staff", False),
    ("/inquiries", "inquiries", views_desk.book, GET, "viewer", False),
    ("/inquiries/export.csv", "inquiries_csv", views_desk.book_csv, GET, "staff", True),
    ("/inquiries/new", "inquiry_new", views_desk.inquiry_new, POST, "staff", False),
    ("/inquiries/<int:inquiry_id>", "inquiry", views_desk.inquiry, GET, "viewer", False),
    ("/inquiries/<int:inquiry_id>/save", "inquiry_save", views_desk.inquiry_save, POST, "staff", False),
    ("/inquiries/<int:inquiry_id>/escalate", "inquiry_escalate", views_desk.inquiry_escalate, POST, "staff", False),
    ("/desk/report", "desk_report", views_desk_report.report_page, GET, "viewer", False),
    ("/desk/report.pdf", "desk_report_pdf", views_desk_report.report_pdf, GET, "viewer", False),
    ("/desk/report.csv", "desk_report_csv", views_desk_report.report_csv, GET, "viewer", False),
    ("/escalations", "escalations", views_desk.escalation_list, GET, "viewer", False),
    ("/escalations/<int:escalation_id>", "escalation_action", views_desk.escalation_action, POST, "staff", False),

    # the FAQ: its answer candidates and entries for every reader; recording a use, editing, importing
    # and the citizens' unanswered searches (their words) for staff
    ("/faq", "faq", views_faq.faq_list, GET, "viewer", False),
    ("/faq/use", "faq_use", views_faq.faq_use, POST, "staff", False),
    ("/faq/new", "faq_new", views_faq.faq_new, BOTH, "staff", False),
    ("/faq/<int:entry_id>", "faq_entry", views_faq.faq_entry, GET, "viewer", False),
    ("/faq/<int:entry_id>/edit", "faq_edit", views_faq.faq_edit, BOTH, "staff", False),
    ("/faq/<int:entry_id>/status", "faq_status", views_faq.faq_status, POST, "staff", False),
    ("/faq/<int:entry_id>/restore", "faq_restore", views_faq.faq_restore, POST, "staff", False),
    ("/faq/<int:entry_id>/delete", "faq_delete", views_faq.faq_delete, POST, "staff", False),
    ("/faq/categories", "faq_categories", views_faq.faq_categories, BOTH, "staff", False),
    ("/faq/categories/<int:category_id>", "faq_category", views_faq.faq_category, POST, "staff", False),
    ("/faq/export.csv", "faq_csv", views_faq.faq_csv, GET, "viewer", False),
    ("/faq/import", "faq_import", views_faq.faq_import, POST, "staff", False),
    ("/faq/proposals", "faq_misses", views_faq.faq_misses, GET, "staff", False),
    ("/faq/proposals/reviewed", "faq_misses_reviewed", views_faq.faq_misses_reviewed, POST, "staff", False),

    ("/prompts", "prompts", views_prompts.prompts_index, GET, "admin", False),
    ("/prompts/<key>", "prompt_edit", views_prompts.prompt_edit, BOTH, "admin", False),
    ("/prompts/<key>/audio.wav", "prompt_audio", views_prompts.prompt_audio, GET, "admin", False),
    ("/lines", "lines", views_prompts.lines_index, GET, "flows", False),
    ("/lines/<int:line_id>", "line_edit", views_prompts.line_edit, BOTH, "admin", False),
    # IVR flows: edits go to a draft; publishing changes what callers hear (audited)
    ("/lines/<int:line_id>/flow", "flow_edit", views_flows.flow_edit, GET, "flows", False),
    ("/lines/<int:line_id>/flow/node", "flow_node", views_flows.flow_node, POST, "flows", False),
    ("/lines/<int:line_id>/flow/node/new", "flow_node_new", views_flows.flow_node_new, POST, "flows", False),
    ("/lines/<int:line_id>/flow/settings", "flow_settings", views_flows.flow_settings, POST, "flows", False),
    ("/lines/<int:line_id>/flow/publish", "flow_publish", views_flows.flow_publish, POST, "flows", False),
    ("/lines/<int:line_id>/flow/discard", "flow_discard", views_flows.flow_discard, POST, "flows", False),
    ("/lines/<int:line_id>/flow/import", "flow_import", views_flows.flow_import, POST, "flows", False),
    ("/lines/<int:line_id>/flow/audio", "flow_audio", views_flows.flow_audio, POST, "flows", False),
    ("/lines/<int:line_id>/flow/v<int:version>.json", "flow_export", views_flows.flow_export, GET, "flows", False),
    ("/lines/<int:line_id>/flow/v<int:version>/rollback", "flow_rollback", views_flows.flow_rollback, POST, "flows",
     False),
    ("/lines/<int:line_id>/flow/simulate", "flow_simulate", views_flows.flow_simulate, GET, "flows", False),
    ("/lines/<int:line_id>/flow/say.wav", "flow_say", views_flows.flow_say, GET, "flows", False),
]

ROLES = {endpoint: role for _, endpoint, _, _, role, _ in RULES}

for rule, endpoint, view, methods, role, sensitive in RULES:
    blueprint.add_url_rule(rule, endpoint, access.guard(view, role, sensitive), methods=methods)

blueprint.before_app_request(access.load_user)
blueprint.after_app_request(access.log_access)
