"""A generated (synthetic) Korean-to-English translation task: templated sentences with numbers, dates, times.

Every pair is built from templates and word lists with a seeded random number generator, so the data is the
same on every machine and needs no download. It is synthetic: a test bed for a translator (word order changes
from Korean subject-object-verb to English subject-verb-object, particles, counters, tense and agreement,
numbers and dates to copy or rewrite), not a sample of real Korean. Kinds of sentence:

- actions: `"어제 나는 공원에서 고양이를 세 마리 봤다."` -> `"I saw three cats in the park yesterday."`
  (subject, verb in past/present/future, a counted object with its counter, an optional recipient, place and
  time: relative, weekday, date or clock time; the time phrase stands before or after the subject);
- clock times (`"지금은 오후 3시 5분이다."` -> `"It is 3:05 pm now."`), dates with weekdays
  (`"오늘은 2024년 3월 5일 화요일이다."` -> `"Today is Tuesday, March 5, 2024."`), prices
  (`"이 가방은 32,500원이다."` -> `"This bag costs 32,500 won."`), ages and counts
  (`"교실에 학생이 12명 있었다."` -> `"There were 12 students in the classroom."`).

Counts are written with digits (`"3개"`, `"12마리"`) or native Korean numerals (`"세 개"` -> `"three"`).
The splits are disjoint by English sentence: no held-out meaning occurs in training in any Korean word order,
so held-out sentences are new combinations of known words.

Example:
    >>> pairs = generate_ko_en(3, seed=0)
    >>> splits = split_ko_en(train_size=2000, validation_size=100, test_size=200, seed=0)
    >>> len(splits["test"])
    200
"""

from __future__ import annotations

import calendar

import numpy as np

from keras_nn.errors import ConfigError


def has_final_consonant(word: str) -> bool:
    """True when the last Hangul syllable of `word` ends in a consonant (batchim); digits are read aloud."""
    last = word.rstrip()[-1]
    if last.isdigit():
        # 0 영, 1 일, 3 삼, 6 육, 7 칠, 8 팔 end in a consonant; 2 이, 4 사, 5 오, 9 구 do not.
        return last in "013678"
    code = ord(last) - 0xAC00
    return 0 <= code < 11172 and code % 28 != 0


def particle(word: str, with_final: str, without_final: str) -> str:
    """`word` with the particle form its last sound takes: `particle("책", "을", "를")` is `"책을"`."""
    return word + (with_final if has_final_consonant(word) else without_final)


# (Korean, English, grammatical person: "1" I, "2" you, "3" he/she/it, "p" plural). "우리 엄마" is the usual
# Korean for "my mother".
SUBJECTS = (
    ("나", "I", "1"),
    ("너", "you", "2"),
    ("그", "he", "3"),
    ("그녀", "she", "3"),
    ("우리", "we", "p"),
    ("그들", "they", "p"),
    ("민수", "Minsu", "3"),
    ("지민", "Jimin", "3"),
    ("서연", "Seoyeon", "3"),
    ("준호", "Junho", "3"),
    ("하준", "Hajun", "3"),
    ("선생님", "the teacher", "3"),
    ("내 친구", "my friend", "3"),
    ("우리 엄마", "my mother", "3"),
    ("우리 아빠", "my father", "3"),
    ("학생들", "the students", "p"),
)
RECIPIENTS = (
    ("민수", "Minsu"),
    ("지민", "Jimin"),
    ("서연", "Seoyeon"),
    ("준호", "Junho"),
    ("선생님", "the teacher"),
    ("내 친구", "my friend"),
    ("남동생", "my brother"),
    ("할머니", "my grandmother"),
)

# Counters: the Korean counter word and how English counts it ("" plain plural, else "cups of" and so on).
# Objects: (Korean, singular, plural, counter).
_FOOD = (
    ("사과", "apple", "apples"),
    ("바나나", "banana", "bananas"),
    ("오렌지", "orange", "oranges"),
    ("복숭아", "peach", "peaches"),
    ("쿠키", "cookie", "cookies"),
    ("샌드위치", "sandwich", "sandwiches"),
    ("달걀", "egg", "eggs"),
    ("토마토", "tomato", "tomatoes"),
    ("감자", "potato", "potatoes"),
    ("만두", "dumpling", "dumplings"),
    ("케이크", "cake", "cakes"),
    ("도넛", "donut", "donuts"),
)
_GOODS = (
    ("가방", "bag", "bags"),
    ("모자", "hat", "hats"),
    ("컵", "cup", "cups"),
    ("상자", "box", "boxes"),
    ("공", "ball", "balls"),
    ("시계", "watch", "watches"),
    ("의자", "chair", "chairs"),
    ("우산", "umbrella", "umbrellas"),
    ("열쇠", "key", "keys"),
    ("접시", "plate", "plates"),
)
_BOOKS = (
    ("책", "book", "books"),
    ("잡지", "magazine", "magazines"),
    ("공책", "notebook", "notebooks"),
    ("소설", "novel", "novels"),
)
_ANIMALS = (
    ("고양이", "cat", "cats"),
    ("개", "dog", "dogs"),
    ("새", "bird", "birds"),
    ("물고기", "fish", "fish"),
    ("토끼", "rabbit", "rabbits"),
    ("말", "horse", "horses"),
    ("오리", "duck", "ducks"),
)
_DRINKS = (
    ("커피", "coffee", "cup"),
    ("차", "tea", "cup"),
    ("우유", "milk", "glass"),
    ("물", "water", "glass"),
    ("주스", "juice", "glass"),
)
_PAPERS = (
    ("편지", "letter", "letters"),
    ("엽서", "postcard", "postcards"),
    ("표", "ticket", "tickets"),
    ("사진", "photo", "photos"),
)
_PENS = (("연필", "pencil", "pencils"), ("펜", "pen", "pens"))


def _objects(items, counter):
    return tuple((ko, one, many, counter) for ko, one, many in items)


FOOD, GOODS, BOOKS = _objects(_FOOD, "개"), _objects(_GOODS, "개"), _objects(_BOOKS, "권")
ANIMALS, PAPERS, PENS = _objects(_ANIMALS, "마리"), _objects(_PAPERS, "장"), _objects(_PENS, "자루")
# A drink is counted in cups or glasses: the English plural is built by `_counted`.
DRINKS = tuple((ko, drink, vessel, "잔") for ko, drink, vessel in _DRINKS)


def _pick(objects, *names):
    return tuple(o for o in objects if o[1] in names)


# Verbs: Korean past, present, future; English past, base form, third person singular; objects; whether the
# verb takes a recipient ("to Minsu").
VERBS = (
    (("먹었다", "먹는다", "먹을 것이다"), ("ate", "eat", "eats"), FOOD, False),
    (
        ("샀다", "산다", "살 것이다"),
        ("bought", "buy", "buys"),
        FOOD + GOODS + BOOKS + PENS + DRINKS + _pick(PAPERS, "ticket", "postcard"),
        False,
    ),
    (
        ("읽었다", "읽는다", "읽을 것이다"),
        ("read", "read", "reads"),
        _pick(BOOKS, "book", "magazine", "novel") + _pick(PAPERS, "letter"),
        False,
    ),
    (("봤다", "본다", "볼 것이다"), ("saw", "see", "sees"), ANIMALS + _pick(PAPERS, "photo"), False),
    (("마셨다", "마신다", "마실 것이다"), ("drank", "drink", "drinks"), DRINKS, False),
    (("썼다", "쓴다", "쓸 것이다"), ("wrote", "write", "writes"), _pick(PAPERS, "letter", "postcard"), False),
    (
        ("만들었다", "만든다", "만들 것이다"),
        ("made", "make", "makes"),
        _pick(FOOD, "cookie", "sandwich", "cake", "dumpling") + _pick(GOODS, "box", "chair"),
        False,
    ),
    (("찾았다", "찾는다", "찾을 것이다"), ("found", "find", "finds"), GOODS + BOOKS + ANIMALS + PENS, False),
    (
        ("그렸다", "그린다", "그릴 것이다"),
        ("drew", "draw", "draws"),
        ANIMALS + _pick(FOOD, "apple", "banana", "orange"),
        False,
    ),
    (
        ("씻었다", "씻는다", "씻을 것이다"),
        ("washed", "wash", "washes"),
        _pick(GOODS, "cup", "plate") + _pick(FOOD, "apple", "tomato", "potato", "peach"),
        False,
    ),
    (
        ("잃어버렸다", "잃어버린다", "잃어버릴 것이다"),
        ("lost", "lose", "loses"),
        GOODS + BOOKS + PENS + _pick(PAPERS, "ticket"),
        False,
    ),
    (
        ("줬다", "준다", "줄 것이다"),
        ("gave", "give", "gives"),
        FOOD + BOOKS + PENS + _pick(GOODS, "bag", "hat", "ball", "watch") + _pick(PAPERS, "ticket", "photo"),
        True,
    ),
    (
        ("보냈다", "보낸다", "보낼 것이다"),
        ("sent", "send", "sends"),
        _pick(PAPERS, "letter", "postcard", "photo") + BOOKS,
        True,
    ),
)
TENSES = ("past", "present", "future")

PLACES = (
    ("학교", "at school"),
    ("집", "at home"),
    ("공원", "in the park"),
    ("도서관", "at the library"),
    ("시장", "at the market"),
    ("카페", "at the cafe"),
    ("식당", "at the restaurant"),
    ("회사", "at the office"),
    ("서울", "in Seoul"),
    ("부산", "in Busan"),
    ("가게", "at the store"),
    ("역", "at the station"),
)
# Relative times and the tenses they allow.
RELATIVE_TIMES = (
    ("어제", "yesterday", ("past",)),
    ("오늘", "today", TENSES),
    ("내일", "tomorrow", ("future",)),
    ("지난주에", "last week", ("past",)),
    ("다음 주에", "next week", ("future",)),
    ("아침에", "in the morning", TENSES),
    ("저녁에", "in the evening", TENSES),
    ("밤에", "at night", TENSES),
    ("매일", "every day", ("present",)),
    ("주말에", "on the weekend", TENSES),
    ("작년에", "last year", ("past",)),
    ("내년에", "next year", ("future",)),
)
WEEKDAYS = (
    ("월요일", "Monday"),
    ("화요일", "Tuesday"),
    ("수요일", "Wednesday"),
    ("목요일", "Thursday"),
    ("금요일", "Friday"),
    ("토요일", "Saturday"),
    ("일요일", "Sunday"),
)
MONTHS = tuple(calendar.month_name[1:])
NATIVE_NUMBERS = (
    ("한", "one"),
    ("두", "two"),
    ("세", "three"),
    ("네", "four"),
    ("다섯", "five"),
    ("여섯", "six"),
    ("일곱", "seven"),
    ("여덟", "eight"),
    ("아홉", "nine"),
    ("열", "ten"),
)
PLACES_OF_PEOPLE = (
    ("교실", "in the classroom"),
    ("공원", "in the park"),
    ("도서관", "in the library"),
    ("버스", "on the bus"),
    ("식당", "in the restaurant"),
    ("방", "in the room"),
)
PEOPLE = (
    ("학생", "student", "students", "명"),
    ("아이", "child", "children", "명"),
    ("사람", "person", "people", "명"),
    ("선생님", "teacher", "teachers", "명"),
) + ANIMALS
DEMONSTRATIVES = (("이", "this"), ("저", "that"))
PRICED = FOOD + GOODS + BOOKS + PENS


def _capitalize(text):
    return text[:1].upper() + text[1:]


def _verb_english(verb, tense, person):
    past, base, third = verb[1]
    if tense == "past":
        return past
    if tense == "future":
        return f"will {base}"
    return third if person == "3" else base


def _counted(obj, count_en, count):
    """`"3 apples"`, `"one cup of coffee"`, `"two glasses of milk"`."""
    ko, one, many, counter = obj
    if counter == "잔":
        vessel = many if count == 1 else ("glasses" if many == "glass" else f"{many}s")
        return f"{count_en} {vessel} of {one}"
    return f"{count_en} {one if count == 1 else many}"


def _count(rng, counter, low=1, high=20):
    """A count written both ways: `("세 개", "three", 3)` (native numeral) or `("12개", "12", 12)` (digits)."""
    if rng.random() < 0.4:
        value = int(rng.integers(1, len(NATIVE_NUMBERS) + 1))
        ko, en = NATIVE_NUMBERS[value - 1]
        return f"{ko} {counter}", en, value
    value = int(rng.integers(low, high + 1))
    return f"{value}{counter}", str(value), value


def _date(rng, with_year=None):
    year = int(rng.integers(1990, 2036))
    month = int(rng.integers(1, 13))
    day = int(rng.integers(1, calendar.monthrange(year, month)[1] + 1))
    with_year = rng.random() < 0.5 if with_year is None else with_year
    return year, month, day, with_year


def _date_text(year, month, day, with_year):
    ko = f"{year}년 {month}월 {day}일" if with_year else f"{month}월 {day}일"
    en = f"{MONTHS[month - 1]} {day}, {year}" if with_year else f"{MONTHS[month - 1]} {day}"
    return ko, en


def _clock(rng):
    """A clock time: `("오후 3시 5분", "3:05 pm")`, `("오전 9시", "9 am")`, `("정오", "noon")`."""
    if rng.random() < 0.05:
        return ("정오", "noon") if rng.random() < 0.5 else ("자정", "midnight")
    half = "오전" if rng.random() < 0.5 else "오후"
    hour = int(rng.integers(1, 13))
    minute = int(rng.integers(0, 12)) * 5 if rng.random() < 0.7 else 0
    ko = f"{half} {hour}시" + (f" {minute}분" if minute else "")
    en = f"{hour}:{minute:02d}" if minute else f"{hour}"
    return ko, f"{en} {'am' if half == '오전' else 'pm'}"


def _time_phrase(rng, tense):
    """`(Korean, English)` of a time phrase that fits `tense`, or None for none."""
    kind = rng.random()
    if kind < 0.2:
        return None
    if kind < 0.5:
        options = [t for t in RELATIVE_TIMES if tense in t[2]]
        ko, en, _ = options[int(rng.integers(len(options)))]
        return ko, en
    if kind < 0.62:
        ko, en = WEEKDAYS[int(rng.integers(7))]
        return f"{ko}에", f"on {en}"
    if kind < 0.8:
        ko, en = _date_text(*_date(rng))
        return f"{ko}에", f"on {en}"
    if kind < 0.85:
        year = int(rng.integers(1990, 2036))
        return f"{year}년에", f"in {year}"
    clock_ko, clock_en = _clock(rng)
    if rng.random() < 0.3:
        day_ko, day_en = WEEKDAYS[int(rng.integers(7))]
        return f"{day_ko} {clock_ko}에", f"at {clock_en} on {day_en}"
    return f"{clock_ko}에", f"at {clock_en}"


def action_sentence(rng):
    """Subject, counted object, optional recipient, place and time, in past, present or future."""
    subject_ko, subject_en, person = SUBJECTS[int(rng.integers(len(SUBJECTS)))]
    verb = VERBS[int(rng.integers(len(VERBS)))]
    obj = verb[2][int(rng.integers(len(verb[2])))]
    tense = TENSES[int(rng.integers(3))]
    count_ko, count_en, count = _count(rng, obj[3])
    time = _time_phrase(rng, tense)
    place = PLACES[int(rng.integers(len(PLACES)))] if rng.random() < 0.5 else None
    # Nobody gives things to themselves: the recipient is drawn among the others.
    recipients = [r for r in RECIPIENTS if r[1] != subject_en]
    recipient = recipients[int(rng.integers(len(recipients)))] if verb[3] else None

    # Korean: [time] subject [time] [place] [recipient] object count verb (the quantity after the object with
    # its particle, or before the particle: "사과를 세 개" / "사과 세 개를").
    subject_part = particle(subject_ko, "은", "는")
    if rng.random() < 0.6:
        object_part = f"{particle(obj[0], '을', '를')} {count_ko}"
    else:
        object_part = f"{obj[0]} {particle(count_ko, '을', '를')}"
    middle = [f"{place[0]}에서"] if place else []
    if recipient:
        middle.append(f"{recipient[0]}에게")
    middle += [object_part, verb[0][TENSES.index(tense)]]
    if time and rng.random() < 0.5:
        korean = [time[0], subject_part, *middle]
    elif time:
        korean = [subject_part, time[0], *middle]
    else:
        korean = [subject_part, *middle]

    english = [subject_en, _verb_english(verb, tense, person), _counted(obj, count_en, count)]
    if recipient:
        english.append(f"to {recipient[1]}")
    if place:
        english.append(place[1])
    if time:
        english.append(time[1])
    return " ".join(korean) + ".", _capitalize(" ".join(english)) + "."


def clock_sentence(rng):
    ko, en = _clock(rng)
    ending = "이다" if has_final_consonant(ko) else "다"
    return f"지금은 {ko}{ending}.", f"It is {en} now."


def date_sentence(rng):
    """`"오늘은 2024년 3월 5일 화요일이다."` -> `"Today is Tuesday, March 5, 2024."` (the weekday is the date's)."""
    year, month, day, with_year = _date(rng)
    day_ko, day_en = _date_text(year, month, day, with_year)
    which = int(rng.integers(3))
    subject_ko, subject_en = (("오늘은", "Today"), ("내일은", "Tomorrow"), ("어제는", "Yesterday"))[which]
    verb_en = "was" if which == 2 else "is"
    if rng.random() < 0.5:
        weekday_ko, weekday_en = WEEKDAYS[calendar.weekday(year, month, day)]
        day_ko, day_en = f"{day_ko} {weekday_ko}", f"{weekday_en}, {day_en}"
    ending = "이었다" if which == 2 else "이다"
    return f"{subject_ko} {day_ko}{ending}.", f"{subject_en} {verb_en} {day_en}."


def price_sentence(rng):
    ko_word, en_word = DEMONSTRATIVES[int(rng.integers(len(DEMONSTRATIVES)))]
    obj = PRICED[int(rng.integers(len(PRICED)))]
    price = f"{int(rng.integers(5, 1000)) * 100:,}"
    past = rng.random() < 0.5
    return (
        f"{ko_word} {particle(obj[0], '은', '는')} {price}원{'이었다' if past else '이다'}.",
        f"{_capitalize(en_word)} {obj[1]} {'cost' if past else 'costs'} {price} won.",
    )


def age_sentence(rng):
    subject_ko, subject_en, person = SUBJECTS[int(rng.integers(len(SUBJECTS)))]
    if person == "p":
        subject_ko, subject_en, person = SUBJECTS[0]
    age = int(rng.integers(2, 100))
    past = rng.random() < 0.3
    verb = ("was" if person in "13" else "were") if past else {"1": "am", "2": "are", "3": "is"}[person]
    return (
        f"{particle(subject_ko, '은', '는')} {age}살{'이었다' if past else '이다'}.",
        f"{_capitalize(subject_en)} {verb} {age} {'year' if age == 1 else 'years'} old.",
    )


def count_sentence(rng):
    """`"교실에 학생이 12명 있었다."` -> `"There were 12 students in the classroom."`"""
    place_ko, place_en = PLACES_OF_PEOPLE[int(rng.integers(len(PLACES_OF_PEOPLE)))]
    obj = PEOPLE[int(rng.integers(len(PEOPLE)))]
    count_ko, count_en, count = _count(rng, obj[3], 1, 40)
    past = rng.random() < 0.5
    verb = ("was" if count == 1 else "were") if past else ("is" if count == 1 else "are")
    return (
        f"{place_ko}에 {particle(obj[0], '이', '가')} {count_ko} {'있었다' if past else '있다'}.",
        f"There {verb} {count_en} {obj[1] if count == 1 else obj[2]} {place_en}.",
    )


# Kinds of sentence and their shares of the data.
SENTENCE_KINDS = {
    "action": (action_sentence, 0.7),
    "clock": (clock_sentence, 0.05),
    "date": (date_sentence, 0.08),
    "price": (price_sentence, 0.06),
    "age": (age_sentence, 0.05),
    "count": (count_sentence, 0.06),
}


def generate_ko_en(count: int, seed: int = 0) -> list[tuple[str, str]]:
    """`count` generated `(korean, english)` pairs (repeats possible; `split_ko_en` removes them).

    Example:
        >>> generate_ko_en(1, seed=3)
        [('오늘 그는 도서관에서 개 1마리를 볼 것이다.', 'He will see 1 dog at the library today.')]
    """
    rng = np.random.default_rng(seed)
    kinds = list(SENTENCE_KINDS.values())
    shares = np.asarray([share for _, share in kinds])
    choices = rng.choice(len(kinds), size=count, p=shares / shares.sum())
    return [kinds[int(index)][0](rng) for index in choices]


def split_ko_en(
    train_size=30000, validation_size=500, test_size=1000, seed=0
) -> dict[str, list[tuple[str, str]]]:
    """Generated pairs in train/validation/test splits that are disjoint by English sentence.

    Args:
        train_size, validation_size, test_size: pairs per split (validation and test may be 0).
        seed: seed of every draw; the same seed gives the same splits.

    Returns:
        `{"train": [(korean, english), ...], "validation": [...], "test": [...]}`. Held-out pairs are drawn
        first; a training pair whose English side is held out (in any Korean word order) is left out.

    Raises:
        ConfigError: a size that is not an integer >= 0 (train >= 1).
    """
    for name, value in (
        ("train_size", train_size),
        ("validation_size", validation_size),
        ("test_size", test_size),
    ):
        minimum = 1 if name == "train_size" else 0
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ConfigError(f"task_options.{name}={value!r} must be an integer >= {minimum}")
    wanted = {"test": test_size, "validation": validation_size, "train": train_size}
    splits = {split: [] for split in wanted}
    seen = set()
    draw, batch = 0, max(sum(wanted.values()) // 2, 256)
    for split, size in wanted.items():
        while len(splits[split]) < size:
            if draw > 50:
                raise ConfigError(f"cannot draw {size} distinct {split} sentences; ask for fewer")
            for korean, english in generate_ko_en(batch, seed=seed * 1000 + draw):
                if english not in seen and len(splits[split]) < size:
                    seen.add(english)
                    splits[split].append((korean, english))
            draw += 1
    return splits
