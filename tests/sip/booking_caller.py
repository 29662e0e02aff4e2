"""A caller who wants one slot and books it on the booking line by listening and answering (the
`converse` step of tests/sip/caller.py): what it says to each question, in its own voice (Open JTalk
at its speed and pitch, with noise or not), what it checks in each read-back (its venue among all,
its time among all, its name), and when it presses keys instead. Used by tests/sip/test_booking_calls.py
and bench/bench_phone_booking.py."""

from __future__ import annotations

import datetime
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

KANJI_DIGITS = "〇一二三四五六七八九"


def kanji_number(value: int) -> str:
    """12 → 十二, 3 → 三: how a date is written for the synthesiser to read it as a person says it."""
    tens, ones = divmod(value, 10)
    return ("" if tens == 0 else ("十" if tens == 1 else KANJI_DIGITS[tens] + "十")) + (KANJI_DIGITS[ones] if ones else "")


def with_noise(path, snr_db: float) -> None:
    """White noise under the speech at snr_db (and before and after it: a line is never silent)."""
    with wave.open(str(path), "rb") as w:
        speech = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64)
    level = np.sqrt(np.mean(speech[np.abs(speech) > 200] ** 2))
    rng = np.random.default_rng(7)
    padded = np.concatenate([np.zeros(4000), speech, np.zeros(4000)])
    noisy = padded + rng.normal(0, level / 10 ** (snr_db / 20), len(padded))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.clip(noisy, -32768, 32767).astype(np.int16).tobytes())


@dataclass
class Caller:
    number: int
    phone: str
    venue: str
    venue_name: str
    venue_index: int  # its place in the key menu
    slot_id: int
    day: datetime.date
    start: datetime.time
    name: str
    kana: str
    born: datetime.date
    speed: float
    pitch: float
    noise_db: float | None
    keys: bool


def era_year(born: datetime.date) -> int:
    return born.year - 1988 if born >= datetime.date(1989, 1, 8) else born.year - 1925


def era_words(born: datetime.date) -> str:
    era, year = ("平成" if born >= datetime.date(1989, 1, 8) else "昭和"), era_year(born)
    return f"{era}{'元' if year == 1 else kanji_number(year)}年{kanji_number(born.month)}月{kanji_number(born.day)}日"


def voice_wav(path: Path, text: str, caller: Caller) -> str:
    from voice.audio import resample
    from voice.tts import Voice, synthesize
    samples = synthesize(text, Voice(speed=caller.speed))
    if caller.pitch != 1.0:
        samples = resample(samples, 16000, int(16000 / caller.pitch)).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(samples.tobytes())
    if caller.noise_db is not None:
        with_noise(path, caller.noise_db)
    return str(path)


def said_time(at: datetime.time) -> list[str]:
    """How a caller says a time, and how it may be read back to them (「午後三時半」「午後三時三十分」)."""
    hour = f"午後{kanji_number(at.hour - 12)}時" if at.hour > 12 else f"{kanji_number(at.hour)}時"
    if not at.minute:
        return [hour]
    return [hour + "半", f"{hour}{kanji_number(at.minute)}分"] if at.minute == 30 else [f"{hour}{kanji_number(at.minute)}分"]


def short_name(venue_name: str) -> str:
    """What a citizen calls a venue: 「本庁舎」 for デモ市役所 本庁舎 市民課, 「総合体育館」 for 総合体育館 会議室."""
    parts = venue_name.split()
    return parts[-2] if len(parts) > 1 else venue_name


def rules(folder: Path, caller: Caller, venue_names: list[str]) -> list[dict]:
    folder.mkdir(parents=True, exist_ok=True)
    said = iter(range(100))

    def wav(text):
        return voice_wav(folder / f"{next(said)}.wav", text, caller)
    yes, no = wav("はい"), wav("いいえ、違います")
    venue = short_name(caller.venue_name)
    # what the caller checks in a read-back: its venue among all, its time among all, its name
    its_venue = {"any": [venue], "among": sorted(map(short_name, venue_names), key=len, reverse=True)}
    hour = caller.start.hour - 12 if caller.start.hour > 12 else caller.start.hour
    hours = [f"{hour}時", f"{kanji_number(hour)}時"]
    others = [f"1{hour}時", f"十{kanji_number(hour)}時"]  # 11時 is not 1時
    minutes = (str(caller.start.minute), kanji_number(caller.start.minute) + "分", "半")  # 「11時30」: 分 is often lost
    its_time = ({"digits": [f"{h}{m}" for h in hours for m in minutes], "unless": others}
                if caller.start.minute else
                {"digits": hours, "unless": others + [f"{h}{m}" for h in hours for m in ("半", "3", "1", "4", "2", "5")]})
    its_name = [f"{caller.kana}様", f"{caller.name}様"]
    # its birth date read back (「昭和44年12月21日、西暦1969年12月21日」): its month and day, and its year
    its_birth = {"date": [caller.born.month, caller.born.day], "years": [caller.born.year, era_year(caller.born)]}
    menu_page, menu_key = divmod(caller.venue_index, 4)
    time_wav = wav(f"{said_time(caller.start)[0]}でお願いします")
    date_wav = wav(f"{kanji_number(caller.day.month)}月{kanji_number(caller.day.day)}日")
    numbers = [wav(f"{kanji_number(n)}番です") for n in (1, 2, 3, 4)]  # an option of a menu, by its number
    its_day = {"digits": [f"{caller.day.month}月{caller.day.day}日",
                          f"{kanji_number(caller.day.month)}月{kanji_number(caller.day.day)}日"], "unless": []}
    # a free day asked about alone (「12月8日、火曜日は、いかがですか」): the caller's Whisper wrote 8日 as 4日 or
    # 6日 there every time, but its weekday right; the days asked about follow on, so the weekday tells
    weekday = "月火水木金土日"[caller.day.weekday()] + "曜日"
    its_day_alone = {"digits": [*its_day["digits"], weekday], "unless": []}
    menu = ({"keys": str(menu_key + 1), "next_keys": "9"} if caller.keys else
            {"say": wav(f"{venue}でお願いします"), "next_say": wav("次の会場")})
    return [  # first match wins: the final read-back holds the words of the other questions
        {"when": ["この内容で予約して", "直す場合は", "ご予約の内容です"], "hear_all": True,
         "say": wav("はい、お願いします"), "keys": "1", "yes_no": True,
         "expect": [{"exactly": [*its_name, "窓口でお伺い"]}, its_venue, its_day_alone, its_time], "otherwise": no},
        # free days or times asked about one at a time (the menu's number not understood): yes to its own
        {"when": ["ほかの日にする場合は"], "say": yes, "keys": "1", "yes_no": True, "expect": [its_day_alone], "otherwise": no},
        {"when": ["ほかの時間にする場合は"], "say": yes, "keys": "1", "yes_no": True, "expect": [its_time], "otherwise": no,
         "expect_next": [its_venue, its_day_alone, its_time]},
        # which part of a slot read back wrong twice is wrong: the first the caller found wrong in it
        {"when": ["違っているのは", "会場は1、日にちは2"], "parts_say": [wav("会場が違います"), wav("日にちが違います"), wav("時間が違います")],
         "parts_keys": ["1", "2", "3"]},
        # any other read-back (its 「…ですね」 may be misheard: 「出帳場ですめ」; its question is the same)
        {"when": ["ですね", "違う場合は"], "say": yes, "keys": "1", "confirms": True, "yes_no": True, "otherwise": no},
        {"when": ["ご用件をお話し", "新しく予約する場合は"], "say": wav("予約をお願いします"), "keys": "1"},
        {"when": ["当てはまる場合は", "当てはまらない場合は"], "say": wav("はい、そうです"), "keys": "1", "yes_no": True},
        {"when": ["「はい」か「いいえ」でお答え", "はいは1、いいえは2です"], "repeat_last": True, "say": yes, "keys": "1"},
        # the venue menu, heard to its end, a page at a time: the venue on its page, else the next page
        {"when": ["番号で選びます", "次の会場は"], "menu_page": menu_page, **menu, "expect_next": [its_venue]},
        {"when": ["ご希望の会場", "どの会場でも"], "say": wav(f"{venue}でお願いします"), "keys": "9",
         "expect_next": [its_venue]},
        # free times read by number when its time was not understood: its time by number, else the next ones
        {"when": ["空いている時間は", "その後の時間は"], "pick": its_time, "say": time_wav, "pick_say": numbers,
         "none_say": wav("次"), "none_keys": "9", "expect_next": [its_venue, its_day_alone, its_time]},
        # free days read by number when its date was not understood: its day by number, else the next days
        {"when": ["空いている日は", "その後の日は"], "pick": its_day, "say": date_wav, "pick_say": numbers,
         "none_say": wav("次"), "none_keys": "9"},
        # times offered by number: its own time said again (or the number pressed), else another day
        {"when": ["ご案内できるのは", "ご希望の番号か時間を", "ほかの日をご希望の場合は"], "pick": its_time, "say": time_wav,
         "none_say": wav("ほかの日でお願いします"), "none_keys": "9", "expect_next": [its_venue, its_day_alone, its_time]},
        {"when": ["ご希望の時間", "までの間で空き"], "say": time_wav,
         "keys": f"{caller.start:%H%M}", "expect_next": [its_venue, its_day_alone, its_time]},
        {"when": ["ご希望の日にち", "月と日"], "say": date_wav, "keys": f"{caller.day:%m%d}"},
        {"when": ["フルネーム", "お名前を、ゆっくり", "もう一度、お名前", "お名前を"], "say": wav(f"{caller.name}です"), "keys": "1",
         "expect_next": [{"exactly": its_name}]},
        {"when": ["おかけいただいている", "別の番号にする"], "say": yes, "keys": "1", "yes_no": True},
        # (its example is heard best: 「生年月日」 came back as 「正面学気」, 「西暦の8けた」 as 「精力の発欠」)
        {"when": ["生年月日をお話し", "西暦の8けた", "昭和25年3月4日", "1950年3月4日"], "say": wav(era_words(caller.born)), "keys": f"{caller.born:%Y%m%d}",
         "expect_next": [its_birth]},
        {"when": ["ショートメッセージでお送りします"], "say": yes, "keys": "1", "yes_no": True},
    ]


def conversation(engine, folder: Path, caller: Caller, venue_names: list[str]) -> dict:
    """The caller's `converse` step: answers as soon as it knows the question (barge-in), the final
    read-back and the menus (venues, times, days) heard to their end."""
    from voice.asr.whisper import FOLDER_NAME
    return {"converse": rules(folder, caller, venue_names), "keys": caller.keys, "turns": 60, "barge_in": True,
            "listen_to_end": ["ご予約の内容です", "番号で選びます", "次の会場は", "ご案内できるのは", "ご希望の番号か時間",
                              "空いている日は", "その後の日は", "空いている時間は", "その後の時間は"],
            "prompt_timeout": 70,
            "model": str(engine.settings.models_dir / FOLDER_NAME)}
