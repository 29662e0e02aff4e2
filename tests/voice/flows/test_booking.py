"""The booking line as playbooks (events in, commands out, no SIP, no audio, no database): booking by
keys alone and by speech alone, a full slot's alternatives, eligibility, the misses that lead to keys
and then to a person, the words that work anywhere, and looking up, changing and cancelling. The
call came in on Tuesday 1 December 2026 at 10:00 from 090-1111-2222."""

from __future__ import annotations

import datetime

from tests.voice.playbook import (
    Playbook,
    asked,
    context,
    finished,
    heard,
    keys,
    reply,
    said,
    silence,
    started,
)
from voice.call.events import (
    Answer,
    CallEnded,
    HangUp,
    Listen,
    SpeakSlower,
    SpeechRecognized,
    Transfer,
    TransferFailed,
)
from voice.call.requests import (
    Booked,
    BookingFound,
    BookingInfo,
    BookSlot,
    CancelBooking,
    Changed,
    Choices,
    DaysFound,
    FindBooking,
    FindDays,
    FindSlots,
    LoadChoices,
    MoveBooking,
    Question,
    Refused,
    SlotOffer,
    SlotsFound,
    VenueChoice,
)
from voice.flows.booking import BookingFlow

D, T = datetime.date, datetime.time
HONCHO = VenueChoice(1, "デモ市役所 本庁舎 市民課", "デモシヤクショ ホンチョウシャ シミンカ")
KITA = VenueChoice(2, "北支所", "キタシショ")
VENUES = (HONCHO, KITA, VenueChoice(3, "南支所", "ミナミシショ"), VenueChoice(4, "東支所", "ヒガシシショ"),
          VenueChoice(5, "北部公民館", "ホクブコウミンカン"))
QUESTION = Question(1, "電子証明書の更新の手続きです。", True, "カードそのものの更新は、別の手続きです")
CHOICES = Choices(VENUES, (QUESTION,))
DAY = D(2026, 12, 3)


def slot(slot_id: int, start: T, venue: VenueChoice = HONCHO, day: D = DAY) -> SlotOffer:
    return SlotOffer(slot_id, venue.id, venue.name, venue.kana, day, start, 2)


DAY_SLOTS = tuple(slot(10 + i, T(9 + i // 2, 30 * (i % 2))) for i in range(6))  # 9:00 ... 11:30
TEN_THIRTY = DAY_SLOTS[3]


def booked(booking_slot: SlotOffer = TEN_THIRTY, sms: bool = True) -> Booked:
    return Booked(BookingInfo("12345674", 1, "confirmed", booking_slot, "ヤマダハナコ", sms))


def flow(**settings) -> BookingFlow:
    return BookingFlow(context("booking", call_id="call-9@trunk", **settings))


def up_to_the_venue(playbook: Playbook) -> Playbook:
    return (playbook
            << started() >> Answer() >> said("予約窓口", "ご用件をお話しください") >> Listen
            << keys("1") >> asked(LoadChoices)
            << reply(CHOICES) >> said("電子証明書の更新の手続きです", "はいは1") >> Listen
            << keys("1") >> said("ご希望の会場") >> Listen)


def up_to_the_time(playbook: Playbook) -> Playbook:
    """Booking by speech up to the time question: 本庁舎, 十二月三日, that day's free slots."""
    return (up_to_the_venue(playbook)
            << heard("本庁舎でお願いします") >> said("ご希望の日にち") >> Listen
            << heard("十二月三日") >> asked(FindSlots, first_day=DAY)
            << reply(SlotsFound(DAY_SLOTS)) >> said("ご希望の時間") >> Listen)


def test_a_booking_by_keys_alone():
    """Every answer pressed: the venue from the menu, MMDD, the first free time, the name skipped after
    two silences (asked at the counter), the caller's own number, YYYYMMDD, SMS, the final 1."""
    booking = flow()
    assert (up_to_the_venue(Playbook(booking))
            << keys("9") >> said("会場を番号で選びます", "1番、デモ市役所 本庁舎 市民課、2番、北支所") >> Listen
            << keys("1") >> said("ご希望の日にち") >> Listen
            << keys("1203") >> asked(FindSlots, venue_id=1, first_day=DAY, last_day=DAY)
            << reply(SlotsFound(DAY_SLOTS)) >> said("12月3日、木曜日は、9時から11時30分までの間") >> Listen
            << keys("1") >> said("12月3日、木曜日、9時から、デモ市役所 本庁舎 市民課ですね") >> Listen
            << keys("1") >> said("お名前を") >> Listen
            << silence() >> said("お声が聞こえませんでした", "お名前を") >> Listen
            << silence() >> said("1を押してください", "当日、窓口でお伺いします") >> Listen
            << keys("1") >> said("おかけいただいているお電話", "0、9、0の、1、1、1、1の、2、2、2、2") >> Listen
            << keys("1") >> said("生年月日") >> Listen
            << keys("19500304") >> said("昭和25年3月4日、西暦1950年3月4日ですね") >> Listen
            << keys("1") >> said("ショートメッセージ") >> Listen
            << keys("1") >> said("ご予約の内容です", "お名前は、当日、窓口でお伺いします", "1950年3月4日") >> Listen
            << keys("1") >> said("ただいま予約しています")
            >> asked(BookSlot, slot_id=DAY_SLOTS[0].slot_id, name="お名前未確認（電話予約）", kana="ミカクニン",
                     phone="09011112222", birth_date=D(1950, 3, 4), sms=True, key="call-9@trunk:book")
            << reply(booked(DAY_SLOTS[0])) >> said("予約番号は、1、2、3、4の、5、6、7、4です。もう一度", "ショートメッセージ")
            << finished() >> HangUp("booked"))
    assert booking.log.path[:4] == ["intent", "book", "question_1", "venue"] and "booked" in booking.log.path


def test_a_booking_by_speech_alone():
    """Every answer said: the venue by a part of its name, the day, the time among the free ones, the
    name read back in katakana, 「はい」 for the caller's number, the birth date with its era."""
    booking = flow()
    assert (Playbook(booking)
            << started() >> Answer() >> said() >> Listen
            << heard("予約をお願いします") >> asked(LoadChoices)
            << reply(CHOICES) >> said() >> Listen
            << heard("はい、そうです") >> said("ご希望の会場") >> Listen
            << heard("本庁舎でお願いします") >> said("ご希望の日にち") >> Listen
            << heard("十二月三日") >> asked(FindSlots, first_day=DAY)
            << reply(SlotsFound(DAY_SLOTS)) >> said("ご希望の時間") >> Listen
            << heard("十時半") >> said("10時30分から", "本庁舎") >> Listen
            << heard("はい") >> said("お名前を") >> Listen
            << heard("山田花子です") >> said("ヤマダハナコ様ですね") >> Listen
            << heard("はい") >> said("0、9、0の") >> Listen
            << heard("はい、お願いします") >> said("生年月日") >> Listen
            << heard("昭和二十五年三月四日") >> said("昭和25年3月4日") >> Listen
            << heard("はい") >> said("ショートメッセージ") >> Listen
            << heard("はい") >> said("ヤマダハナコ様", "10時30分") >> Listen
            << heard("はい、お願いします") >> said()
            >> asked(BookSlot, slot_id=TEN_THIRTY.slot_id, kana="ヤマダハナコ", phone="09011112222", sms=True)
            << reply(booked()) >> said("予約番号は")
            << CallEnded("caller_hangup"))
    assert booking.log.outcome == "booked"


def test_each_turn_is_kept_for_staff_review():
    """A turn holds what was asked, what was heard or pressed, and what the dialog made of it, misses
    included, so staff can find where a call went wrong."""
    booking = flow()
    assert (Playbook(booking)
            << started() >> Answer() >> said() >> Listen
            << heard("予約をお願いします") >> asked(LoadChoices)
            << reply(CHOICES) >> said() >> Listen
            << heard("ほげほげ") >> said("聞き取れませんでした") >> Listen
            << silence() >> said("お声が聞こえませんでした") >> Listen
            << keys("1") >> said("ご希望の会場") >> Listen
            << heard("北支所") >> said("ご希望の日にち") >> Listen
            << CallEnded("caller_hangup"))
    turns = booking.log.turns
    assert [(t["step"], t["result"]) for t in turns] == [
        ("intent", "understood"), ("question_1", "nomatch"), ("question_1", "noinput"),
        ("question_1", "understood"), ("venue", "understood")]
    assert turns[0]["heard"] == "予約をお願いします" and turns[0]["understood"] == "book"
    assert "ご用件をお話しください" in turns[0]["prompt"]
    assert turns[1]["heard"] == "ほげほげ" and turns[1]["understood"] == ""
    assert turns[3]["keys"] == "1" and turns[3]["understood"] == "はい" and turns[3]["heard"] == ""
    assert turns[4]["understood"] == "sure 北支所"


def test_nothing_is_booked_without_a_clear_yes_at_the_end():
    """A doubtful 「はい」 (an unsure recogniser) at the final read-back is asked again, not booked."""
    booking = flow()
    playbook = (up_to_the_venue(Playbook(booking))
                << heard("本庁舎") >> said() >> Listen
                << keys("1203") >> asked(FindSlots)
                << reply(SlotsFound(DAY_SLOTS)) >> said() >> Listen
                << keys("1") >> said() >> Listen << keys("1") >> said("お名前") >> Listen
                << heard("山田花子") >> said() >> Listen << keys("1") >> said() >> Listen
                << keys("1") >> said() >> Listen << keys("19500304") >> said() >> Listen
                << keys("1") >> said() >> Listen << keys("2") >> said("ご予約の内容です") >> Listen
                << heard("はいる", confidence=0.05) >> said("聞き取れませんでした", "ご予約の内容です") >> Listen
                << keys("2") >> said("直すところ") >> Listen)
    assert playbook  # a BookSlot anywhere would be a command the playbook does not expect


def test_a_full_day_offers_three_alternatives_and_a_slot_taken_meanwhile_too():
    later = (slot(40, T(9), day=D(2026, 12, 4)), slot(41, T(9, 30), day=D(2026, 12, 4)),
             slot(42, T(9), KITA, day=D(2026, 12, 4)))
    assert (up_to_the_venue(Playbook(flow()))
            << heard("本庁舎") >> said() >> Listen
            << keys("1203") >> asked(FindSlots, first_day=DAY, last_day=DAY)
            << reply(SlotsFound(())) >> asked(FindSlots, first_day=DAY, limit=3)
            << reply(SlotsFound(later)) >> said("予約できる時間がありません", "12月4日、金曜日の、1番、9時から",
                                                 "3番、9時から、北支所") >> Listen
            << heard("3番でお願いします") >> said("北支所ですね") >> Listen
            << keys("1") >> said("お名前") >> Listen
            << heard("山田花子") >> said() >> Listen << keys("1") >> said() >> Listen
            << keys("1") >> said() >> Listen << keys("19500304") >> said() >> Listen
            << keys("1") >> said("ショートメッセージ") >> Listen << keys("2") >> said("ご予約の内容です") >> Listen
            << keys("1") >> said() >> asked(BookSlot, slot_id=42)
            << reply(Refused("slot_full")) >> asked(FindSlots, exclude_slot_id=42)
            << reply(SlotsFound(later[:2])) >> said("満席になりました", "1番") >> Listen)


def test_a_day_not_open_yet_says_when_it_opens():
    opens = datetime.datetime(2027, 1, 2, 9, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=9)))
    assert (up_to_the_venue(Playbook(flow()))
            << heard("本庁舎") >> said() >> Listen
            << heard("三月三日") >> asked(FindSlots, first_day=D(2027, 3, 3))
            << reply(SlotsFound((), opens_at=opens)) >> said("3月3日、水曜日の予約の受付は、1月2日、土曜日、9時から始まります",
                                                            "ご希望の日にち") >> Listen)


def test_a_caller_who_is_not_eligible_hears_the_guidance():
    booking = flow()
    assert (Playbook(booking)
            << started() >> Answer() >> said() >> Listen
            << keys("1") >> asked(LoadChoices) << reply(CHOICES) >> said() >> Listen
            << heard("いいえ") >> said("カードそのものの更新は、別の手続きです", "0を押してください") >> Listen
            << keys("0") >> said("担当者におつなぎします") >> Transfer("staff"))
    assert booking.outcome == "not_eligible"


def test_an_unsure_no_to_a_required_question_is_asked_again_rather_than_turning_the_caller_away():
    """「はい」 heard as a doubtful 「いいね」 would end the booking: only a clear no (or 2) does that."""
    booking = flow()
    assert (Playbook(booking)
            << started() >> Answer() >> said() >> Listen
            << keys("1") >> asked(LoadChoices) << reply(CHOICES) >> said() >> Listen
            << heard("いいね", confidence=0.3) >> said("聞き取れませんでした", "電子証明書の更新の手続きです") >> Listen
            << heard("はい、そうです") >> said("ご希望の会場") >> Listen)
    assert booking.outcome == ""


def test_misses_lead_to_keys_then_a_person_then_the_city_number():
    """Garbage and silence at the venue: asked again, told the keys, offered a person, handed over;
    with nobody to take the call, the city's number and goodbye."""
    booking = flow(help_phone="0586-28-8100")
    assert (up_to_the_venue(Playbook(booking))
            << heard("スタッフのアイス") >> said("聞き取れませんでした", "ご希望の会場") >> Listen
            << silence() >> said("お声が聞こえませんでした", "会場を番号で選びます") >> Listen
            << heard("えーと") >> said("0を押してください", "会場を番号で選びます") >> Listen
            << silence() >> said("担当者におつなぎします") >> Transfer("staff")
            << TransferFailed("staff", "unknown_target") >> said("0、5、8、6の、2、8の、8、1、0、0")
            << finished() >> HangUp("not_understood"))
    assert booking.log.path.count("venue_nomatch") == 2 and booking.log.path.count("venue_noinput") == 2


def test_repeat_slower_and_a_person_work_at_any_question():
    assert (up_to_the_venue(Playbook(flow()))
            << heard("もう一度お願いします") >> said("ご希望の会場") >> Listen
            << keys("*") >> said("ご希望の会場") >> Listen
            << heard("ゆっくり話してください") >> SpeakSlower() >> said("ゆっくりお話しします", "ご希望の会場") >> Listen
            << keys("") >> SpeakSlower() >> said("ゆっくりお話しします") >> Listen
            << keys("0") >> said("担当者におつなぎします") >> Transfer("staff"))


def test_a_hang_up_mid_dialog_books_nothing():
    booking = flow()
    assert (up_to_the_venue(Playbook(booking))
            << heard("本庁舎") >> said() >> Listen
            << CallEnded("caller_hangup"))
    assert booking.log.outcome == "caller_hangup"


FOUND = BookingInfo("12345674", 3, "confirmed", TEN_THIRTY, "ヤマダハナコ", True)


def up_to_the_booking(playbook: Playbook) -> Playbook:
    return (playbook
            << started() >> Answer() >> said() >> Listen
            << keys("2") >> said("予約番号8けた") >> Listen
            << keys("12345674") >> said("生年月日") >> Listen
            << keys("19500304") >> asked(FindBooking, number="12345674", birth_date=D(1950, 3, 4))
            << reply(BookingFound(FOUND)) >> said("ご予約は、12月3日、木曜日、10時30分から", "取り消す場合は2") >> Listen)


def test_looking_up_and_cancelling_asks_for_a_firm_yes():
    booking = flow()
    cancelled = BookingInfo("12345674", 4, "cancelled", TEN_THIRTY, "ヤマダハナコ", True)
    assert (up_to_the_booking(Playbook(booking))
            << keys("2") >> said("取り消します。よろしければ") >> Listen
            << keys("1") >> asked(CancelBooking, number="12345674", version=3)
            << reply(Changed(cancelled)) >> said("ご予約を取り消しました")
            << finished() >> HangUp("cancelled"))


def test_looking_up_and_changing_the_day():
    new = slot(60, T(14), KITA, day=D(2026, 12, 8))
    moved = BookingInfo("12345674", 4, "confirmed", new, "ヤマダハナコ", True)
    assert (up_to_the_booking(Playbook(flow()))
            << heard("変更したいです") >> said("ご希望の日にち") >> Listen
            << heard("十二月八日") >> asked(FindSlots, venue_id=1, first_day=D(2026, 12, 8))
            << reply(SlotsFound((new,))) >> said() >> Listen
            << heard("午後二時") >> said("午後2時から", "北支所ですね") >> Listen
            << keys("1") >> said("ご予約を、12月8日、火曜日、午後2時から、北支所に変更します") >> Listen
            << keys("1") >> asked(MoveBooking, number="12345674", slot_id=60, version=3)
            << reply(Changed(moved)) >> said("変更しました")
            << finished() >> HangUp("changed"))


def test_a_wrong_number_or_birth_date_is_asked_again_and_a_locked_one_ends_with_the_city_number():
    assert (Playbook(flow())
            << started() >> Answer() >> said() >> Listen
            << keys("2") >> said() >> Listen
            << keys("12345678") >> said("聞き取れませんでした", "予約番号") >> Listen  # the check digit is wrong
            << keys("12345674") >> said() >> Listen << keys("19500304") >> asked(FindBooking)
            << reply(Refused("not_found")) >> said("見つかりませんでした", "予約番号8けた") >> Listen
            << keys("12345674") >> said() >> Listen << keys("19500305") >> asked(FindBooking)
            << reply(Refused("locked")) >> said("しばらく確認できません", "お問い合わせは")
            << finished() >> HangUp("locked"))


def test_the_database_busy_is_an_apology_not_silence():
    assert (Playbook(flow())
            << started() >> Answer() >> said() >> Listen
            << keys("1") >> asked(LoadChoices)
            << reply(Refused("busy")) >> said("混み合っています", "失礼いたします")
            << finished() >> HangUp("busy"))


def test_a_venue_from_the_menu_by_its_number_said():
    """A caller who cannot make the recogniser hear a venue's name says its number in the menu: the
    venue is confirmed before it is taken (a number is short and may be misheard)."""
    booking = flow()
    assert (up_to_the_venue(Playbook(booking))
            << heard("ほげほげ") >> said("聞き取れませんでした") >> Listen
            << heard("ふがふが") >> said("会場を番号で選びます") >> Listen
            << heard("2番です") >> said("北支所ですね") >> Listen
            << heard("はい") >> said("ご希望の日にち") >> Listen)
    assert booking.draft.venue == KITA


def test_the_venue_menu_pages_on_by_saying_next():
    """A caller who cannot press keys hears the next page of the venue menu by saying 「次」."""
    booking = flow()
    assert (up_to_the_venue(Playbook(booking))
            << keys("9") >> said("1番、デモ市役所 本庁舎 市民課") >> Listen
            << heard("次") >> said("1番、北部公民館") >> Listen
            << heard("一番") >> said("北部公民館ですね") >> Listen)


def test_the_menu_read_after_two_misses_pages_on_from_its_first_page():
    """Two misses read the menu's first page as the question's keys prompt: 「次の会場」 then reads the
    second page (not the first again), and a name said there is one of that page's venues."""
    booking = flow()
    assert (up_to_the_venue(Playbook(booking))
            << heard("ほげほげ") >> said("聞き取れませんでした") >> Listen
            << heard("ふがふが") >> said("1番、デモ市役所 本庁舎 市民課") >> Listen
            << heard("次の会場") >> said("1番、北部公民館") >> Listen
            << heard("北部公民館でお願いします") >> said("ご希望の日にち") >> Listen)
    assert booking.draft.venue.name == "北部公民館"


def test_a_name_read_back_wrong_twice_is_asked_at_the_counter_instead():
    """Whisper base may never hear a name right: after two wrong read-backs the line says the name
    will be asked at the counter and goes on, rather than asking forever."""
    booking = flow()
    assert (up_to_the_time(Playbook(booking))
            << heard("十時半") >> said("10時30分から") >> Listen
            << heard("はい") >> said("お名前を") >> Listen
            << heard("小柄しげるです") >> said("様ですね") >> Listen
            << heard("いいえ") >> said("もう一度、お名前を") >> Listen
            << heard("ほがらしげるです") >> said("様ですね") >> Listen
            << heard("いいえ、違います") >> said("お名前は、当日、窓口でお伺いします", "おかけいただいているお電話") >> Listen)
    assert booking.draft.kana == ""


def test_a_slot_read_back_wrong_offers_the_nearest_free_times_that_day():
    """「十一時半」 heard as 11:00 and denied: the three free times nearest it are offered, and the time
    said again (or its number) picks one; 「ほかの日」 goes back to the day."""
    booking = flow()
    playbook = (up_to_the_time(Playbook(booking))
                << heard("十一時") >> said("11時から") >> Listen
                << heard("いいえ") >> said("失礼しました", "12月3日、木曜日、デモ市役所 本庁舎 市民課の、1番、10時から",
                                          "3番、11時30分から", "ほかの日") >> Listen)
    assert playbook << heard("十一時三十分") >> said("11時30分から", "ですね") >> Listen
    again = flow()
    assert (up_to_the_time(Playbook(again))
            << heard("十一時") >> said("11時から") >> Listen
            << heard("いいえ") >> said("失礼しました") >> Listen
            << heard("ほかの日でお願いします") >> said("ご希望の日にち") >> Listen)


def test_a_slot_read_back_wrong_twice_asks_which_part_is_wrong():
    """The second no to a slot's read-back: the line asks what is wrong rather than offering times
    again. 「会場が違います」 asks the venue anew, and the venue read back is not guessed again; 2 asks the
    day; 「時間」 offers the free times nearest."""
    def twice_denied(booking):
        return (up_to_the_time(Playbook(booking))
                << heard("十一時") >> said("11時から") >> Listen
                << heard("いいえ") >> said("失礼しました", "1番、10時から") >> Listen
                << heard("一番") >> said("10時から", "ですね") >> Listen
                << heard("いいえ") >> said("違っているのは、会場、日にち、時間のどれですか")
                >> expecting("会場", "日にち", "時間", "1番", "一番"))
    venue = flow()
    assert (twice_denied(venue)
            << heard("会場が違います") >> said("ご希望の会場") >> Listen
            << heard("ありがとう", 市民課=4.0, 北支所=1.0) >> said("聞き取れませんでした") >> Listen)
    day = flow()
    assert twice_denied(day) << keys("2") >> said("ご希望の日にち") >> Listen
    time = flow()
    assert twice_denied(time) << heard("時間です") >> said("1番、") >> Listen


def test_next_misheard_as_a_word_like_it_still_pages_on():
    """Whisper base hears a lone 「次」 as 「月」: at a menu that is the next page, not a miss."""
    booking = flow()
    assert (up_to_the_venue(Playbook(booking))
            << keys("9") >> said("1番、デモ市役所 本庁舎 市民課") >> Listen
            << heard("月") >> said("1番、北部公民館") >> Listen)


def test_a_time_not_heard_as_one_is_the_free_time_it_sounds_like_and_read_back():
    """「しゅうじはん」 is no time the parser knows, but of the day's free times it sounds like 10:30,
    which is read back for a yes; what sounds like none of them is asked again."""
    booking = flow()
    assert (up_to_the_time(Playbook(booking))
            << heard("ありがとう") >> said("聞き取れませんでした") >> Listen
            << heard("しゅうじはん") >> said("10時30分から", "本庁舎 市民課ですね") >> Listen)


def test_recognition_down_apologises_once_and_goes_on_by_keys():
    """The recogniser could not be asked: not the caller's miss. The line apologises once and from then
    on asks every question for keys (a name can then be skipped at once with 1)."""
    booking = flow()
    down = SpeechRecognized("", 0.0, failed=True)
    assert (up_to_the_venue(Playbook(booking))
            << down >> said("音声の聞き取りができないため", "会場を番号で選びます") >> Listen
            << keys("1") >> said("日にちを、月と日の4けたで押してください") >> Listen
            << down >> said("日にちを、月と日の4けたで") >> Listen)
    assert "音声の聞き取りができない" not in booking.last_said[0].text
    assert booking.asking.misses == 0 and booking.log.path.count("recognition_unavailable") == 2


def expecting(*phrases: str):
    """A Listen that sends these answers (among others) to be scored against the audio."""
    def match(command) -> bool:
        return isinstance(command, Listen) and all(p in command.expected for p in phrases)
    match.description = f"Listen expecting {phrases}"
    return match


def test_a_closed_question_has_its_answers_scored_and_a_garbled_transcript_is_saved_by_them():
    """Each closed question sends what callers say to it for scoring: the intents, yes and no, the
    venues (with the first menu page's numbers and 「次の会場」), the day's free times. A transcript that
    matches nothing is understood by the scores: 「ホントローカーで…」 with the audio speaking clearly
    for 本庁舎; a time the transcript misses, by the scores for 10時半 among the free times."""
    booking = flow()
    assert (Playbook(booking)
            << started() >> Answer() >> said("ご用件をお話しください") >> expecting("予約", "キャンセル", "オペレーター")
            << heard("余地") >> said("聞き取れませんでした") >> Listen
            << heard("用約をお願いします", 予約=8.0, 確認=1.0, キャンセル=-4.0) >> asked(LoadChoices)
            << reply(CHOICES) >> said("電子証明書の更新の手続きです") >> expecting("はい", "いいえ", "違います")
            << heard("はい") >> said("ご希望の会場") >> expecting("本庁舎", "北支所", "北部公民館", "どこでも")
            << heard("ホントローカーでお願いいたします", 本庁舎=11.0, 市民課=0.5, 北支所=2.0, 北部公民館=-3.0)
            >> said("ご希望の日にち") >> Listen
            << heard("十二月三日") >> asked(FindSlots, first_day=DAY)
            << reply(SlotsFound(DAY_SLOTS)) >> said("ご希望の時間") >> expecting("9時", "9時半", "10時半", "11時半")
            << heard("許してお願いします", **{"10時": 2.0, "10時半": 7.5, "11時半": 1.0})
            >> said("10時30分から", "本庁舎 市民課ですね") >> Listen)


def test_scores_that_lean_only_a_little_make_the_line_confirm_the_venue():
    """A venue the audio leans to by a small lead, with a transcript that matches nothing, is asked
    about (「北支所でよろしいですか」) rather than taken; a caller's no asks for the venue again."""
    booking = flow()
    assert (up_to_the_venue(Playbook(booking))
            << heard("ありがとう", 北支所=4.0, 本庁舎=0.5, 北部公民館=1.0) >> said("北支所") >> Listen
            << heard("いいえ") >> said("ご希望の会場") >> Listen)
    assert booking.log.path[-2:] == ["venue_confirm", "venue"]


def test_a_venue_denied_makes_the_line_ask_about_the_one_the_audio_spoke_for_next():
    """「北支所でお願いします」 scored 市民課 (本庁舎) 4.5, 北支所 3.0 on a real demo call: 本庁舎 is read back;
    at the caller's no the line asks about 北支所 next, as a clerk would, rather than asking again (the
    same audio would be guessed the same); a venue denied is never guessed again."""
    booking = flow()
    said_kita = heard("さっそでお願いいたします", 市民課=4.5, 北支所=3.0, 北部公民館=1.0)
    assert (up_to_the_venue(Playbook(booking))
            << said_kita >> said("デモ市役所 本庁舎 市民課ですね") >> Listen
            << heard("いいえ、違います") >> said("北支所ですね") >> Listen
            << heard("はい") >> said("ご希望の日にち") >> Listen)
    assert booking.draft.venue == KITA
    again = flow()
    assert (up_to_the_venue(Playbook(again))
            << heard("ありがとう", 市民課=4.5, 北支所=-3.0) >> said("本庁舎 市民課ですね") >> Listen
            << heard("いいえ") >> said("ご希望の会場") >> Listen
            << heard("ありがとう", 市民課=4.5, 北支所=-3.0) >> said("聞き取れませんでした") >> Listen)


def test_keys_only_calls_send_nothing_to_be_scored():
    """Once the recogniser is down every question is asked for keys, and no answers are sent with it."""
    booking = flow()
    assert (up_to_the_venue(Playbook(booking))
            << SpeechRecognized("", 0.0, failed=True) >> said("会場を番号で選びます")
            >> (lambda c: isinstance(c, Listen) and c.expected == ()))


def two_venues_denied(playbook: Playbook) -> Playbook:
    """Up to the venue, then 北支所 and 東支所 guessed from the scores, read back and denied."""
    return (up_to_the_venue(playbook)
            << heard("ありがとう", 北支所=4.0, 本庁舎=0.5) >> said("北支所ですね") >> Listen
            << heard("いいえ") >> said("ご希望の会場") >> Listen
            << heard("ありがとう", 東支所=4.0, 本庁舎=0.5) >> said("東支所ですね") >> Listen
            << heard("いいえ、違います"))


def test_a_venue_read_back_wrong_twice_is_chosen_from_the_menu_instead():
    """Two wrong venue read-backs: the numbered menu is read from its first page (numbers are heard
    better than names) rather than the question asked again and again."""
    booking = flow()
    assert (two_venues_denied(Playbook(booking)) >> said("会場を番号で選びます", "1番、デモ市役所 本庁舎 市民課") >> Listen
            << keys("1") >> said("ご希望の日にち") >> Listen)


def test_a_venue_denied_can_still_be_named_from_the_menu():
    """A caller who misheard a right read-back (「北支所ですね」 heard as 「北市町ですね」) says no, and at the
    menu names 北支所 from the page that reads it: it is taken (the slot's read-back names it), not refused
    for ever."""
    booking = flow()
    assert (two_venues_denied(Playbook(booking)) >> said("会場を番号で選びます", "2番、北支所") >> Listen
            << heard("北支所でお願いします") >> said("ご希望の日にち") >> Listen)
    assert booking.draft.venue == KITA


def test_a_read_back_denied_three_times_hands_the_caller_over():
    """A birth date heard wrong three times over: the line stops asking and hands the caller to a
    person (with nobody to take the call: the city's number), rather than looping for ever."""
    booking = flow()
    playbook = (up_to_the_time(Playbook(booking))
                << heard("十時半") >> said("10時30分から") >> Listen
                << heard("はい") >> said("お名前を") >> Listen
                << heard("山田花子です") >> said("ヤマダハナコ様ですね") >> Listen
                << heard("はい") >> said("0、9、0の") >> Listen
                << heard("はい") >> said("生年月日") >> Listen)
    for _ in range(2):  # asked again, the keys come first: the same words are misheard alike
        playbook = (playbook << heard("昭和二十五年三月四日") >> said("昭和25年3月4日") >> Listen
                    << heard("いいえ") >> said("聞き違えて申し訳ありません", "できればボタンで") >> Listen)
    assert (playbook << heard("昭和二十五年三月四日") >> said("昭和25年3月4日") >> Listen
            << heard("いいえ") >> said("担当者におつなぎします") >> Transfer("staff")
            << TransferFailed("staff", "unknown_target") >> said("0、5、8、6の") << finished() >> HangUp("not_understood"))
    assert "birth_confirm_denied" in booking.log.path


def test_once_the_venue_menu_is_read_its_numbers_and_next_are_scored():
    """After two misses the venue question reads its menu: from then on the menu's numbers, its four
    venues and 「次の会場」 are what is scored, and 「二番」 heard as nothing is taken by the scores' clear lead."""
    booking = flow()
    assert (up_to_the_venue(Playbook(booking))
            << heard("ありがとう") >> said("聞き取れませんでした") >> Listen
            << heard("ありがとう") >> said("会場を番号で選びます") >> expecting("1番", "4番", "北支所", "次の会場")
            << heard("ニバ", **{"2番": 8.0, "1番": 1.0, "北支所": 2.5, "次の会場": -2.0}) >> said("ご希望の日にち") >> Listen)
    assert booking.draft.venue == KITA


def test_a_date_not_understood_twice_is_chosen_from_the_free_days_read_out():
    """「十二月八日」 heard as 「海が降ろうか」 twice: the line reads the venue's first free days by number
    (a number among three is heard far better than a date), the caller says 「二番」 and is asked the
    time on that day; 「次」 reads the next days, past the last it starts again, 0 asks for the date by keys."""
    booking = flow()
    days = (D(2026, 12, 2), D(2026, 12, 3), D(2026, 12, 4))
    menu = (up_to_the_venue(Playbook(booking))
            << heard("本庁舎でお願いします") >> said("ご希望の日にち") >> Listen
            << heard("海が降ろうか") >> said("聞き取れませんでした", "ご希望の日にち") >> Listen
            << heard("海が降ろうか") >> asked(FindDays, venue_id=1, first_day=D(2026, 12, 1), limit=3)
            << reply(DaysFound(days))
            >> said("聞き取れませんでした", "空いている日は、1番、12月2日、水曜日、2番、12月3日、木曜日")
            >> expecting("1番", "2番", "12月3日", "次"))
    assert (menu << heard("にばん", **{"2番": 7.0, "1番": 1.0, "12月3日": 2.0})
            >> asked(FindSlots, venue_id=1, first_day=DAY, last_day=DAY)
            << reply(SlotsFound(DAY_SLOTS)) >> said("12月3日、木曜日は") >> Listen)
    paging = flow()
    assert (up_to_the_venue(Playbook(paging))
            << heard("本庁舎でお願いします") >> said("ご希望の日にち") >> Listen
            << heard("海が降ろうか") >> said("ご希望の日にち") >> Listen
            << heard("海が降ろうか") >> asked(FindDays) << reply(DaysFound(days)) >> said("空いている日は") >> Listen
            << heard("次") >> asked(FindDays, first_day=D(2026, 12, 5))
            << reply(DaysFound(())) >> asked(FindDays, first_day=D(2026, 12, 1))
            << reply(DaysFound(days)) >> said("これより後に空いている日はありません", "1番、12月2日") >> Listen
            << keys("0") >> said("日にちを、月と日の4けたで押してください") >> Listen
            << keys("1203") >> asked(FindSlots, first_day=DAY))


def test_a_menu_number_not_understood_twice_reads_the_options_one_at_a_time_for_a_yes():
    """「一番です」 in noise came back as 「2時間です」 every time: after two misses at the day menu the line
    asks about each free day in turn (yes and no are heard best); 「いいえ」 goes on to the next, past
    the page's last the next free days follow, and 「はい」 takes that day. The time menu does the same
    from its page, and a yes there reads the slot back with its day and venue (a day taken from a garbled
    date is checked there)."""
    booking = flow()
    days = (D(2026, 12, 2), D(2026, 12, 3))
    assert (up_to_the_venue(Playbook(booking))
            << heard("本庁舎でお願いします") >> said("ご希望の日にち") >> Listen
            << heard("海が降ろうか") >> said("ご希望の日にち") >> Listen
            << heard("海が降ろうか") >> asked(FindDays) << reply(DaysFound(days)) >> said("空いている日は") >> Listen
            << heard("2時間です") >> said("聞き取れませんでした", "空いている日は") >> Listen
            << heard("2時間です") >> said("一つずつお伺いします。12月2日、水曜日は、いかがですか") >> expecting("はい", "いいえ")
            << heard("いいえ") >> said("12月3日、木曜日は、いかがですか") >> Listen
            << heard("いいえ、違います") >> asked(FindDays, first_day=D(2026, 12, 4))
            << reply(DaysFound((D(2026, 12, 7),))) >> said("12月7日、月曜日は、いかがですか") >> Listen
            << heard("はい") >> asked(FindSlots, venue_id=1, first_day=D(2026, 12, 7), last_day=D(2026, 12, 7)))
    times = flow()
    assert (up_to_the_time(Playbook(times))
            << heard("おじさん") >> said("ご希望の時間") >> Listen
            << heard("おじさん") >> said("1番、9時、2番、9時30分") >> Listen
            << heard("2時間です") >> said("聞き取れませんでした", "空いている時間は") >> Listen
            << silence() >> said("一つずつお伺いします。9時からは、いかがですか") >> Listen
            << keys("2") >> said("9時30分からは、いかがですか") >> Listen
            << keys("1") >> said("12月3日、木曜日、9時30分から、デモ市役所 本庁舎 市民課ですね") >> Listen
            << keys("1") >> said("お名前を") >> Listen)
    assert times.draft.slot == DAY_SLOTS[1]


def test_a_time_not_understood_twice_is_chosen_from_the_free_times_read_out():
    """「九時半でお願いします」 heard as 「おじさんておめがいてます」 twice: the line reads the day's free times
    four at a time by number (the keys prompt alone left a voice-only caller nothing to say); 「次」 reads
    the next ones, past the last it starts again, and 「二番」 there is read back for a yes."""
    booking = flow()
    menu = (up_to_the_time(Playbook(booking))
            << heard("おじさんておめがいてます") >> said("聞き取れませんでした", "ご希望の時間") >> Listen
            << heard("おじさんておめがいてます")
            >> said("聞き取れませんでした", "12月3日、木曜日の空いている時間は、1番、9時、2番、9時30分、3番、10時、4番、10時30分")
            >> expecting("1番", "一番", "4番", "9時半", "次"))
    assert (menu << heard("次") >> said("空いている時間は、1番、11時、2番、11時30分です") >> expecting("2番", "11時半")
            << heard("次") >> said("これより後に空いている時間はありません", "1番、9時、2番、9時30分") >> Listen
            << heard("にばん", **{"2番": 7.5, "1番": 1.0, "次": -1.0})
            >> said("12月3日、木曜日、9時30分から、デモ市役所 本庁舎 市民課ですね") >> Listen)
    by_keys = flow()
    assert (up_to_the_time(Playbook(by_keys))
            << heard("おじさん") >> said("ご希望の時間") >> Listen
            << heard("おじさん") >> said("空いている時間は") >> Listen
            << keys("4") >> said("10時30分から") >> Listen)
    keys_asked = flow()
    assert (up_to_the_time(Playbook(keys_asked))
            << heard("おじさん") >> said("ご希望の時間") >> Listen
            << heard("おじさん") >> said("空いている時間は") >> Listen
            << keys("0") >> said("ご希望の時間を、4けたで押してください") >> Listen
            << keys("1100") >> said("11時から") >> Listen)


def test_a_part_of_the_day_alone_reads_its_free_times_and_any_of_it_takes_the_first():
    """「午後三時半」 heard as 「午後」 alone: the caller has a time in mind, so the free times from the
    first afternoon one are read to choose from (taking 13:00 had the caller deny it); 「午後ならいつでも」
    takes the first afternoon time, read back for a yes."""
    slots = tuple(slot(20 + i, at) for i, at in enumerate((T(10), T(10, 30), T(13), T(13, 30), T(14), T(15, 30))))

    def up_to_the_time_of(playbook: Playbook) -> Playbook:
        return (up_to_the_venue(playbook)
                << heard("本庁舎でお願いします") >> said("ご希望の日にち") >> Listen
                << heard("十二月三日") >> asked(FindSlots, first_day=DAY)
                << reply(SlotsFound(slots)) >> said("ご希望の時間") >> Listen)

    menu = flow()
    assert (up_to_the_time_of(Playbook(menu))
            << heard("午後")
            >> said("空いている時間は、1番、午後1時、2番、午後1時30分、3番、午後2時、4番、午後3時30分です") >> Listen
            << heard("4番です") >> said("午後3時30分から", "ですね") >> Listen)
    any_of_it = flow()
    assert (up_to_the_time_of(Playbook(any_of_it))
            << heard("午後なら何時でもいいです") >> said("午後1時から", "ですね") >> Listen)


def test_a_free_time_said_at_a_list_that_does_not_hold_it_is_read_back():
    """After 11:00 was denied the three nearest free times are offered; the caller says the time it
    wants, free but not offered (「九時でお願いします」): that slot is read back rather than asked again.
    So at the time menu for a free time on another page."""
    offers = flow()
    assert (up_to_the_time(Playbook(offers))
            << heard("十一時") >> said("11時から") >> Listen
            << heard("いいえ") >> said("失礼しました", "1番、10時から") >> Listen
            << heard("九時でお願いします") >> said("12月3日、木曜日、9時から", "ですね") >> Listen)
    menu = flow()
    assert (up_to_the_time(Playbook(menu))
            << heard("おじさん") >> said("ご希望の時間") >> Listen
            << heard("おじさん") >> said("1番、9時、2番、9時30分、3番、10時、4番、10時30分") >> Listen
            << heard("十一時半です") >> said("11時30分から", "ですね") >> Listen)


def test_a_day_past_the_reception_window_offers_the_earliest_free_slots_from_today():
    """「十二月八日」 heard as 「12月4日」 on 7 December is next year's 4 December: no slot that day nor after
    it, so the earliest from today are offered (it went back to the venue question, round and round)."""
    booking = flow()
    next_year = D(2027, 11, 20)  # the call comes in on 1 December 2026
    assert (up_to_the_venue(Playbook(booking))
            << heard("本庁舎でお願いします") >> said("ご希望の日にち") >> Listen
            << heard("11月20日") >> asked(FindSlots, first_day=next_year, last_day=next_year)
            << reply(SlotsFound(())) >> asked(FindSlots, first_day=next_year, last_day=None)
            << reply(SlotsFound(())) >> asked(FindSlots, first_day=D(2026, 12, 1), last_day=None)
            << reply(SlotsFound(DAY_SLOTS[:3]))
            >> said("11月20日", "ご案内できるのは", "1番、9時から") >> Listen)


def test_a_question_asked_anew_a_fifth_time_hands_the_caller_over():
    """Answers understood each time, yet the dialog comes back to the same question (here: the venue
    whose every day the caller names has no slots): the fifth time, a person instead."""
    booking = flow()
    playbook = up_to_the_venue(Playbook(booking))
    for _ in range(4):
        playbook = (playbook << heard("本庁舎でお願いします") >> said("ご希望の日にち") >> Listen
                    << heard("十二月三日") >> asked(FindSlots) << reply(SlotsFound(())) >> asked(FindSlots)
                    << reply(SlotsFound(())) >> asked(FindSlots) << reply(SlotsFound(())) >> said("ご希望の会場") >> Listen)
    assert playbook << heard("本庁舎でお願いします") >> said("ご希望の日にち") >> Listen << heard("十二月三日") \
        >> asked(FindSlots) << reply(SlotsFound(())) >> asked(FindSlots) << reply(SlotsFound(())) >> asked(FindSlots) \
        << reply(SlotsFound(())) >> said("担当者におつなぎします") >> Transfer("staff")
    assert booking.log.path[-2:] == ["venue_again", "transfer"] and booking.outcome == "not_understood"


def test_a_date_heard_as_next_years_gives_way_to_a_near_one_among_the_hypotheses():
    """「十二月三日」 heard first as 「11月30日」 (past: next year's) and then as 「12月3日」: the near one."""
    booking = flow()
    assert (up_to_the_venue(Playbook(booking))
            << heard("本庁舎でお願いします") >> said("ご希望の日にち") >> Listen
            << heard("11月30日", alternatives=("12月3日",)) >> asked(FindSlots, first_day=DAY, last_day=DAY))
