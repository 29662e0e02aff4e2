"""What the SIP adapter reads from an INVITE: the dialled number and the caller's number."""

from __future__ import annotations

import pytest

from voice.call.sipinfo import caller_number, dialled_number
from voice.tts import split_sentences


def invite(uri: str, to: str) -> str:
    return (f"INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n"
            f"From: <sip:0901234567@10.0.0.1>;tag=1\r\nTo: {to}\r\nCall-ID: a\r\nCSeq: 1 INVITE\r\n\r\n")


@pytest.mark.parametrize(("uri", "to", "registered", "did"), [
    ("sip:0586000001@10.0.0.5", "<sip:0586000001@10.0.0.5>", "", "0586000001"),
    ("sip:+81586000001@10.0.0.5;user=phone", "<sip:x@y>", "", "81586000001"),
    ("tel:0586-00-0001", "<tel:0586000001>", "", "0586000001"),
    # register mode: the trunk calls our registered contact and names the dialled number in To
    ("sip:city01@192.0.2.10:5060", "<sip:0586000002@trunk.example>", "city01", "0586000002"),
    ("sip:city01@192.0.2.10:5060", "\"窓口\" <tel:+81586000003>;tag=9", "city01", "81586000003"),
    # a trunk that puts the DID in the request URI itself keeps working in register mode
    ("sip:0586000001@192.0.2.10", "<sip:city01@trunk.example>", "city01", "0586000001"),
    ("sip:@10.0.0.5", "<sip:@10.0.0.5>", "", ""),
])
def test_dialled_number(uri, to, registered, did):
    assert dialled_number(invite(uri, to), registered) == did


def test_dialled_number_of_garbage_is_empty():
    assert dialled_number("garbage\r\n\r\n") == ""
    assert dialled_number(invite("sip:city01@h", "garbage"), "city01") == ""


@pytest.mark.parametrize(("uri", "number"), [
    ("<sip:09012345678@10.0.0.1>", "09012345678"),
    ("\"Anonymous\" <sip:anonymous@anonymous.invalid>", ""),
    ("<tel:+81-90-1234-5678>", "819012345678"),
    ("", ""),
])
def test_caller_number(uri, number):
    assert caller_number(uri) == number


@pytest.mark.parametrize(("text", "sentences"), [
    ("予約をお願いします、と聞こえました。もう一度お話しください。", ["予約をお願いします、と聞こえました。", "もう一度お話しください。"]),
    ("はい！本当ですか？ええ", ["はい！", "本当ですか？", "ええ"]),
    ("句点なし", ["句点なし"]),
    ("。", ["。"]),
])
def test_prompts_are_synthesised_sentence_by_sentence(text, sentences):
    assert split_sentences(text) == sentences
