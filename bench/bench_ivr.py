"""Key-press IVR calls at once on one number (issue 14's capacity goal: 50), through the real engine:
SIPp callers each send continuous G.711 audio as a phone does, press three keys (RFC 4733) through a
3-level flow and then hear about 60 s of announcement; the call log says whether every call took the
path its keys chose (a lost key sends a call elsewhere: a re-prompt, then the failure branch).
Prints, per number of calls at once: SIPp's failed calls, wrong paths (lost keys), the engine's CPU
(all its processes: Kamailio, workers, recognition service) in cores and per call, and the load. Then
the same with 20 % of the calls transferred at the third level to a SIPp target that talks 40 s, on a
line whose calls are recorded.

    .venv/bin/python bench/bench_ivr.py [--calls 10,30,50] [--transfer-share 0.2]
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LINE, RECORDED_LINE = "0120000050", "0120000051"
ANNOUNCEMENT = ("ただいまより、手続きのご案内をいたします。" + "国民健康保険の加入の手続きは、ほかの健康保険をやめた日から十四日以内に、"
                "市役所の窓口でお願いします。必要なものは、資格喪失証明書と、本人確認書類です。") * 3
KEYS_AT_S = (4.0, 8.0, 12.0)  # after the answer: each menu's short prompt has begun (keys cut it short)


def flow() -> dict:
    def menu(text: str, key: str, target: str) -> dict:
        return {"kind": "menu", "text": text, "options": {key: target}, "failure": "bye", "timeout_s": 20}
    return {"start": "m1", "fallback": "ご案内できません。", "nodes": {
        "m1": {**menu("一番目のメニューです。1を押してください。", "1", "m2")},
        "m2": {**menu("二番目のメニューです。2を押してください。", "2", "m3")},
        "m3": {"kind": "menu", "text": "三番目のメニューです。3を押してください。",
               "options": {"3": "info", "9": "staff"}, "failure": "bye", "timeout_s": 20},
        "info": {"kind": "announcement", "text": ANNOUNCEMENT, "next": "bye"},
        "staff": {"kind": "transfer", "target": "bench-staff", "record": True, "busy": "bye"},
        "bye": {"kind": "hangup", "text": "お電話ありがとうございました。"}}}


# --- the caller's RTP: a pcap SIPp plays (Ethernet, IPv4, UDP, RTP), 20 ms a packet ------------------

def _packet(seq: int, stamp: int, ssrc: int, payload_type: int, payload: bytes, marker: bool = False) -> bytes:
    rtp = struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | payload_type, seq & 0xFFFF, stamp & 0xFFFFFFFF, ssrc)
    udp_payload = rtp + payload
    udp = struct.pack("!HHHH", 40000, 40002, 8 + len(udp_payload), 0) + udp_payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, bytes([127, 0, 0, 1]),
                     bytes([127, 0, 0, 1])) + udp
    return b"\x00" * 12 + b"\x08\x00" + ip


def write_pcap(path: Path, keys: str, seconds: float) -> None:
    """μ-law comfort noise at 50 packets/s for `seconds`, with each key an RFC 4733 event of 100 ms at
    KEYS_AT_S (the audio pauses during it, as phones do)."""
    import random
    rng = random.Random(7)
    noise = bytes(0xFF ^ rng.randrange(0, 3) for _ in range(160))  # near-silence, never constant
    events = {round(at / 0.02): key for at, key in zip(KEYS_AT_S, keys, strict=False)}
    codes = {str(d): d for d in range(10)} | {"*": 10, "#": 11}
    records, seq, stamp, tick = [], 1, 0, 0
    total = round(seconds / 0.02)
    while tick < total:
        key = events.get(tick)
        if key is not None:
            for step in range(5):  # 100 ms: start (marker), updates, then the end three times
                duration = 160 * (step + 1)
                payload = struct.pack("!BBH", codes[key], 10, duration)
                records.append((tick, _packet(seq, stamp, 0x1234, 101, payload, marker=step == 0)))
                seq, tick = seq + 1, tick + 1
            for _ in range(3):
                records.append((tick - 1, _packet(seq, stamp, 0x1234, 101, struct.pack("!BBH", codes[key], 0x80 | 10, 800))))
                seq += 1
            stamp += 800
            continue
        records.append((tick, _packet(seq, stamp, 0x1234, 0, noise)))
        seq, stamp, tick = seq + 1, stamp + 160, tick + 1
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for at_tick, frame in records:
            micros = at_tick * 20000
            out.write(struct.pack("<IIII", micros // 1_000_000, micros % 1_000_000, len(frame), len(frame)) + frame)


# --- the run ----------------------------------------------------------------------------------------

def engine_cpu_seconds(engine) -> float:
    root = psutil.Process(engine.process.pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def run(engine, folder: Path, calls: int, share: float, staff_port: int) -> dict:
    from tests.sip.conftest import free_port_block, start_uas
    transferred = round(calls * share)
    plain = calls - transferred
    scenario = (ROOT / "bench" / "ivr_call.xml").read_text(encoding="utf-8")
    jobs = []
    before = engine.last_call_id()
    staff = None
    if transferred:
        staff = start_uas(folder / f"staff-{calls}", "staff_answer.xml", staff_port, duration_ms=40_000, timeout_s=400,
                          calls=transferred)
    for region, (count, line, keys) in zip((52000, 56000), ((plain, LINE, "123"), (transferred, RECORDED_LINE, "129")),
                                           strict=True):
        if not count:
            continue
        pcap = folder / f"caller-{keys}.pcap"
        write_pcap(pcap, keys, 100.0)
        path = folder / f"ivr_call-{keys}.xml"
        path.write_text(scenario.replace("[field0]", str(pcap)), encoding="utf-8")
        argv = ["sipp", f"127.0.0.1:{engine.sip_port}", "-sf", str(path), "-s", line, "-i", "127.0.0.1", "-p", "0",
                "-m", str(count), "-r", "10", "-l", str(count),
                "-mp", str(free_port_block(2 * count + 4, region=region)),  # apart: both SIPp run at once
                "-nostdin", "-timeout", "400s", "-timeout_error", "-trace_err",
                "-error_file", str(folder / f"sipp-{keys}-{calls}.err")]
        jobs.append(subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=folder))
    ramp = calls / 10 + 2
    time.sleep(ramp + KEYS_AT_S[-1] + 3)  # every call answered and past its keys: the steady part
    cpu0, wall0 = engine_cpu_seconds(engine), time.monotonic()
    time.sleep(30)
    cpu = (engine_cpu_seconds(engine) - cpu0) / (time.monotonic() - wall0)
    load = os.getloadavg()[0]
    failed = 0
    for job in jobs:
        job.communicate(timeout=600)
        failed += job.returncode != 0
    if staff is not None:
        try:
            staff.communicate(timeout=300)
        except subprocess.TimeoutExpired:  # fewer transfers reached it than expected: the paths say which
            staff.kill()
            staff.communicate()
    engine.wait_idle(120)
    rows = engine.calls(before)
    expected = {LINE: ["m1", "m2", "m3", "info", "bye"], RECORDED_LINE: ["m1", "m2", "m3", "staff"]}
    wrong = [r["path"] for r in rows if r["path"] != expected[r["did"]]]
    if wrong:  # what the engine logged about those calls, for the one reading the numbers
        ids = [r["id"] for r in rows if r["path"] != expected[r["did"]]]
        sip_ids = [row[0] for row in engine.query(
            f"SELECT sip_call_id FROM call_record WHERE id IN ({','.join('?' * len(ids))})", *ids)]
        lines = [line for line in engine.log_text().splitlines() if any(s in line for s in sip_ids)]
        kept = Path(tempfile.gettempdir()) / f"madoguchi-wrong-paths-{calls}-{transferred}.log"
        kept.write_text("\n".join(lines), encoding="utf-8")
        print(f"  the engine log of those calls: {kept}")
    recorded = sum(1 for r in rows if r["did"] == RECORDED_LINE and r["recording"])
    return {"calls": calls, "transferred": transferred, "answered": sum(1 for r in rows if r["answered_at"]),
            "logged": len(rows), "sipp_failed_runs": failed, "wrong_paths": len(wrong), "wrong_examples": wrong[:3],
            "recorded": recorded, "cores": round(cpu, 3), "per_call_pct": round(100 * cpu / calls, 2),
            "load": round(load, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", default="10,30,50", help="numbers of calls at once, comma-separated")
    parser.add_argument("--transfer-share", type=float, default=0.2)
    parser.add_argument("--only-transfers", action="store_true", help="skip the runs without transfers")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    counts = [int(c) for c in args.calls.split(",")]
    from tests.sip.conftest import free_port_block, start_engine, stop_engine
    staff_port = free_port_block(1, region=47000)
    with tempfile.TemporaryDirectory(prefix="madoguchi-bench-ivr-") as tmp:
        root = Path(tmp)

        def prepare(cli):
            assert cli("voice", "target", "set", "bench-staff", f"sip:staff@127.0.0.1:{staff_port}").returncode == 0
            for did, record, graph in ((LINE, "--no-record", flow()), (RECORDED_LINE, "--record", flow())):
                assert cli("voice", "line", "set", did, "--flow", "ivr", "--mode", "dtmf_only", record).returncode == 0
                path = root / f"{did}.json"
                path.write_text(json.dumps(graph, ensure_ascii=False), encoding="utf-8")
                done = cli("voice", "flow", "import", did, str(path), "--publish", "bench")
                assert done.returncode == 0, done.stderr

        engine = start_engine(root / "engine", prepare, voice_max_calls=max(counts) + 4, voice_ring_ms=0,
                              media_timeout_s=30, transfer_timeout_s=10)
        try:
            time.sleep(3)
            idle0, wall0 = engine_cpu_seconds(engine), time.monotonic()
            time.sleep(10)
            idle = (engine_cpu_seconds(engine) - idle0) / (time.monotonic() - wall0)
            print(f"{os.cpu_count()} cores; engine with {len(engine.workers())} worker processes, idle: "
                  f"{idle:.3f} cores")
            print("| calls at once | transferred | SIPp runs failed | answered | wrong paths (lost keys) | "
                  "recorded transfers | engine CPU (cores) | per call | load (1 min) |")
            print("|---|---|---|---|---|---|---|---|---|")
            results = []
            for share in ((args.transfer_share,) if args.only_transfers else (0.0, args.transfer_share)):
                for calls in counts:
                    result = run(engine, root, calls, share, staff_port)
                    results.append(result)
                    print(f"| {calls} | {result['transferred']} | {result['sipp_failed_runs']} | {result['answered']} | "
                          f"{result['wrong_paths']} | {result['recorded']} | {result['cores']} | "
                          f"{result['per_call_pct']} % | {result['load']} |", flush=True)
                    if result["wrong_examples"]:
                        print(f"  wrong paths, e.g. {result['wrong_examples']}")
                    time.sleep(5)
            if args.json:
                print(json.dumps(results, ensure_ascii=False))
        finally:
            stop_engine(engine)


if __name__ == "__main__":
    main()
