"""What a recogniser says that nobody on the phone said: Whisper's well-known hallucinations on
silence, noise and very short input (subtitle credits, 'thanks for watching'), and filler-only text."""

from __future__ import annotations

import re
import unicodedata

# Phrases Whisper produces from its subtitle-heavy training data when there is no real speech.
HALLUCINATIONS = (
    "ご視聴ありがとうございました", "ご視聴ありがとうございます", "最後までご視聴", "チャンネル登録",
    "高評価", "字幕", "おやすみなさい", "ありがとうございました。ありがとうございました",
    "thank you for watching", "thanks for watching", "subtitles by",
)
# not ええ nor うん: on the phone they mean "yes" (うーん, with its long vowel, is thinking)
FILLERS = re.compile(r"^(?:えー*と?|えっと|あー+|あの+|うー+ん|んー+|まあ|その)$")
_PUNCT = re.compile(r"[\s、。,.!?！？・…「」『』（）()\[\]]+")


def normalize(text: str) -> str:
    """NFKC, lower case, no punctuation or spaces: for comparing what was heard with what was expected."""
    return _PUNCT.sub("", unicodedata.normalize("NFKC", text)).lower()


def is_hallucination(text: str) -> bool:
    flat = normalize(text)
    if not flat:
        return True
    if any(normalize(h) in flat for h in HALLUCINATIONS):
        return True
    # the same short phrase repeated over and over is a decoder loop, not a caller
    for size in range(1, 9):
        unit = flat[:size]
        if len(flat) >= size * 4 and unit * (len(flat) // size) == flat[: size * (len(flat) // size)]:
            return True
    return False


def clean(text: str) -> str:
    """The text worth acting on, or '' when it is a hallucination or only filler."""
    text = text.strip()
    if is_hallucination(text):
        return ""
    tokens = [p for p in re.split(r"[、。\s]+", text) if p]
    kept = [p for p in tokens if not FILLERS.match(p)]
    return text if len(kept) == len(tokens) else "、".join(kept)
