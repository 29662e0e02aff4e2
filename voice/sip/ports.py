"""Media ports: frames between pjmedia's conference bridge and Python deques, copied and nothing else
(these callbacks run on pjmedia's clock thread)."""

from __future__ import annotations

import ctypes
import logging
from collections import deque

import pjsua2 as pj

log = logging.getLogger(__name__)

FRAME_BYTES = 640  # 20 ms at 16 kHz, 16-bit mono
QUEUE_FRAMES = 1500  # 30 s: a stalled loop drops the oldest audio instead of growing without bound


def _vector_bytes_slow(vector) -> bytes:
    return bytes(vector)  # SWIG walks the vector element by element: about 130 µs per 640-byte frame


def _vector_bytes_fast(vector) -> bytes:
    """Copy a SWIG std::vector<unsigned char> by its (begin, end) pointers: about 0.5 µs per frame,
    which matters at 50 frames a second per direction per call. Used only after check_vector_copy()
    has proved on this build that it gives the same bytes."""
    address = int(vector.this)
    begin = ctypes.c_void_p.from_address(address).value
    end = ctypes.c_void_p.from_address(address + ctypes.sizeof(ctypes.c_void_p)).value
    return ctypes.string_at(begin, end - begin) if begin else b""


def check_vector_copy():
    """The fast copy if it reads this pjsua2 build's vectors correctly, else the slow one."""
    try:
        samples = [pj.ByteVector(bytes(range(256)) * 2 + bytes(128)), pj.ByteVector(b"\x01"), pj.ByteVector()]
        if all(_vector_bytes_fast(v) == _vector_bytes_slow(v) for v in samples):
            return _vector_bytes_fast
    except (TypeError, ValueError, AttributeError):
        pass
    log.warning("using the slow frame copy (this pjsua2 build's vector layout is not the expected one)")
    return _vector_bytes_slow


vector_bytes = _vector_bytes_slow  # check_vector_copy() picks the fast copy at start


class FramePort(pj.AudioMediaPort):
    """Copies frames between the conference bridge and deques; nothing else (clock thread)."""

    def __init__(self):
        super().__init__()
        self.heard: deque[bytes] = deque(maxlen=QUEUE_FRAMES)
        self.played: deque[bytes] = deque(maxlen=QUEUE_FRAMES)
        self.outbox: deque[bytes] = deque()
        self.active = False

    def onFrameReceived(self, frame):
        if self.active:
            self.heard.append(vector_bytes(frame.buf) if frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO else b"")

    def onFrameRequested(self, frame):
        if not self.active:
            return
        try:
            data = self.outbox.popleft()
        except IndexError:
            self.played.append(b"")
            return
        frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
        frame.buf = pj.ByteVector(data)
        frame.size = len(data)
        self.played.append(data)

    def reset(self) -> None:
        self.active = False
        self.heard.clear()
        self.played.clear()
        self.outbox.clear()


def use_fastest_vector_copy() -> None:
    global vector_bytes
    vector_bytes = check_vector_copy()
