"""The flow editor's node form: the fields of one node, by its kind (db/flowgraph.FIELDS), read from the
posted form into the JSON the flow keeps. Numbers out of range or not numbers are reported in Japanese;
everything else (exits to nowhere, missing texts) is the flow check's to say, on the draft."""

from __future__ import annotations

import unicodedata

from db import flowgraph

NUMBERS = {"timeout_s": float, "max_failures": int, "min_digits": int, "max_digits": int, "max_s": float,
           "every_s": float, "max_wait_s": float, "max_length": int}
TEXTS = ("text", "no_input", "wrong_key", "invalid")
EXITS = ("next", "failure", "open", "closed", "sent", "failed", "busy", "no_answer", "overflow")
CHOICES = (*EXITS, "calendar", "target", "group", "check", "to", "repeat_key", "back_key", "top_key", "audio", "faq")


def node_from_form(kind: str, form, old: dict) -> tuple[dict, list[str]]:
    """The node as posted (fields the editor does not show, such as an audio file, kept from `old`)."""
    node: dict = {"kind": kind}
    errors: list[str] = []
    for name in flowgraph.FIELDS[kind]:
        if name == "options":
            options = {}
            for key in flowgraph.KEYS:
                target = form.get(f"option_{key}", "").strip()
                if target:
                    options[key] = target
            node["options"] = options
        elif name == "record":
            node["record"] = form.get("record") == "on"
        elif name in NUMBERS:
            raw = unicodedata.normalize("NFKC", form.get(name, "")).strip()
            if not raw:
                continue
            try:
                node[name] = NUMBERS[name](raw)
            except ValueError:
                errors.append(flowgraph.message("problem.value", field=name))
        elif name in TEXTS or name in CHOICES:
            value = form.get(name, "").replace("\r\n", "\n").strip()
            if value:
                node[name] = value
        elif name in old:
            node[name] = old[name]
    return node, errors
