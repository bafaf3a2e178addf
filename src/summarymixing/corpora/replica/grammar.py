"""A small English grammar for the synthetic replicas' transcripts.

Sentences are drawn from a few templates over a fixed vocabulary of about three hundred common words,
written with LibriSpeech's text conventions: UPPER-CASE, words separated by single spaces, apostrophes
kept (``DON'T``, ``IT'S``, ``JOHN'S``), no other punctuation. The vocabulary is small and the grammar
regular so that a small ASR model learns it in minutes, yet the sentences are varied enough that the
test sentences are not memorised training sentences.

A template is a sequence of slots; a slot is either a word list below (``NOUN``, ``VERB_T``, ...) or a
phrase rule expanded recursively (``NP``: a noun phrase, ``PP``: a prepositional phrase, ...).
"""

from __future__ import annotations

import re

import numpy as np

NAMES = (
    "JOHN MARY TOM ANNA PETER LUCY JAMES SARAH HENRY ALICE GEORGE EMMA ROBERT MARGARET ARTHUR EDITH "
    "WILLIAM JANE CHARLES ELLEN"
).split()
SUBJECT_PRONOUNS = "HE SHE THEY WE I YOU".split()
OBJECT_PRONOUNS = "HIM HER THEM US ME IT".split()
DETERMINERS = "THE THE THE A THIS THAT EVERY HIS HER OUR THEIR MY YOUR ONE".split()
ADJECTIVES = (
    "OLD YOUNG LITTLE BIG GOOD DARK BRIGHT COLD WARM QUIET GREEN RED WHITE BLACK HAPPY TIRED STRANGE "
    "GENTLE HEAVY EMPTY FULL SMALL LONG SHORT DEEP SILENT FAMOUS POOR RICH BROKEN GOLDEN WILD SOFT "
    "CLEVER BRAVE PROUD HUNGRY LOVELY ANCIENT NARROW"
).split()
NOUNS = (
    "MAN WOMAN CHILD BOY GIRL FRIEND FATHER MOTHER BROTHER SISTER KING QUEEN DOCTOR SOLDIER FARMER "
    "TEACHER CAPTAIN STRANGER DOG HORSE CAT BIRD LETTER BOOK HAT COAT KEY BOX CUP BREAD APPLE CANDLE "
    "LAMP WINDOW DOOR TABLE CHAIR PICTURE SONG STORY SHIP WAGON BELL RING STONE FLOWER TREE"
).split()
PLACES = (
    "HOUSE GARDEN RIVER FOREST VILLAGE CITY CHURCH ROAD HILL FIELD KITCHEN ROOM CASTLE SHORE BRIDGE "
    "MARKET SCHOOL STATION VALLEY LAKE"
).split()
PREPOSITIONS = "IN NEAR BY BEHIND UNDER ACROSS THROUGH AROUND BESIDE BEYOND".split()
VERBS_TRANSITIVE = (
    "SAW FOUND TOOK BROUGHT LOVED HELPED CALLED FOLLOWED WATCHED KNEW MET CARRIED OPENED CLOSED "
    "BOUGHT SOLD LEFT KEPT PAINTED REMEMBERED VISITED ANSWERED"
).split()
VERBS_INTRANSITIVE = (
    "SLEPT WAITED LAUGHED SMILED WALKED RAN STOOD SAT LISTENED WORKED SANG DANCED CRIED WANDERED "
    "RESTED SPOKE PRAYED STAYED"
).split()
VERBS_BASE = "SEE FIND TAKE BRING LOVE HELP CALL FOLLOW WATCH KNOW MEET CARRY OPEN CLOSE BUY SELL KEEP".split()
VERBS_SAYING = "SAID THOUGHT KNEW FELT HOPED BELIEVED".split()
ADVERBS = (
    "QUIETLY SLOWLY SUDDENLY CAREFULLY GENTLY QUICKLY ALWAYS NEVER OFTEN SOMETIMES AGAIN TOGETHER ALONE "
    "SOON"
).split()
TIMES = (
    "THAT NIGHT|THIS MORNING|IN THE EVENING|AT DAWN|ALL DAY|LAST WINTER|NEXT SUMMER|ONE AFTERNOON|"
    "BEFORE DINNER|AFTER SUPPER|EVERY SUNDAY|LONG AGO|AT MIDNIGHT|THE NEXT DAY"
).split("|")
NEGATED_AUXILIARIES = "DON'T DIDN'T CAN'T WON'T COULDN'T WOULDN'T SHOULDN'T".split()
CONTRACTED_SUBJECTS = "IT'S THAT'S THERE'S HE'S SHE'S".split()
QUESTION_WORDS = "WHY WHERE WHEN HOW".split()
NUMBERS = "TWO THREE FOUR FIVE SIX SEVEN TEN TWELVE".split()
PLURAL_NOUNS = "APPLES LETTERS BOOKS BIRDS HORSES FLOWERS CANDLES STONES CHILDREN MEN WOMEN SHEEP".split()

# A slot in a template names one of these: a word list, or a phrase rule (a list of alternatives,
# each a list of slots).
WORD_LISTS: dict[str, list[str]] = {
    "NAME": NAMES,
    "POSSESSIVE": [f"{name}'S" for name in NAMES],
    "SUBJ": SUBJECT_PRONOUNS,
    "OBJ": OBJECT_PRONOUNS,
    "DET": DETERMINERS,
    "ADJ": ADJECTIVES,
    "NOUN": NOUNS,
    "PLACE": PLACES,
    "PREP": PREPOSITIONS,
    "VERB_T": VERBS_TRANSITIVE,
    "VERB_I": VERBS_INTRANSITIVE,
    "VERB_BASE": VERBS_BASE,
    "VERB_SAY": VERBS_SAYING,
    "ADV": ADVERBS,
    "TIME": TIMES,
    "NEG": NEGATED_AUXILIARIES,
    "CONTRACTED": CONTRACTED_SUBJECTS,
    "WH": QUESTION_WORDS,
    "NUMBER": NUMBERS,
    "PLURAL": PLURAL_NOUNS,
}

PHRASES: dict[str, list[list[str]]] = {
    "NP": [["DET", "NOUN"], ["DET", "ADJ", "NOUN"], ["NAME"], ["POSSESSIVE", "NOUN"]],
    "SUBJECT": [["NP"], ["SUBJ"], ["SUBJ"]],
    "OBJECT": [["NP"], ["OBJ"]],
    "PP": [["PREP", "THE", "PLACE"], ["PREP", "THE", "ADJ", "PLACE"], ["PREP", "POSSESSIVE", "PLACE"]],
    "CLAUSE": [
        ["SUBJECT", "VERB_T", "OBJECT"],
        ["SUBJECT", "VERB_I"],
        ["SUBJECT", "VERB_I", "ADV"],
        ["SUBJECT", "ADV", "VERB_T", "OBJECT"],
    ],
}

TEMPLATES: list[list[str]] = [
    ["CLAUSE", "PP"],
    ["TIME", "CLAUSE"],
    ["CLAUSE", "TIME"],
    ["TIME", "CLAUSE", "PP"],
    ["SUBJECT", "VERB_T", "OBJECT", "AND", "VERB_I", "ADV"],
    ["CLAUSE", "AND", "CLAUSE"],
    ["CLAUSE", "BUT", "CLAUSE"],
    ["SUBJECT", "VERB_SAY", "THAT", "CLAUSE"],
    ["SUBJECT", "NEG", "VERB_BASE", "OBJECT", "PP"],
    ["SUBJ", "NEG", "VERB_BASE", "THE", "ADJ", "NOUN"],
    ["CONTRACTED", "THE", "ADJ", "NOUN", "PP"],
    ["CONTRACTED", "NOT", "THE", "NOUN", "THAT", "SUBJ", "VERB_T"],
    ["WH", "DID", "SUBJECT", "VERB_BASE", "OBJECT", "TIME"],
    ["THERE", "WAS", "A", "ADJ", "NOUN", "PP"],
    ["THE", "NOUN", "WAS", "ADJ", "AND", "ADJ"],
    ["POSSESSIVE", "NOUN", "WAS", "PP"],
    ["IT'S", "ADJ", "PP", "TIME"],
    ["SUBJECT", "VERB_T", "NUMBER", "PLURAL", "PP"],
]

TRANSCRIPT_PATTERN = re.compile(r"^[A-Z']+( [A-Z']+)*$")


def _expand(slot: str, rng: np.random.Generator) -> list[str]:
    if slot in PHRASES:
        alternatives = PHRASES[slot]
        return [word for part in alternatives[rng.integers(len(alternatives))] for word in _expand(part, rng)]
    if slot in WORD_LISTS:
        words = WORD_LISTS[slot]
        return words[rng.integers(len(words))].split()
    return [slot]  # a literal word of the template (AND, THE, WAS, ...)


def random_sentence(rng: np.random.Generator, min_words: int, max_words: int) -> str:
    """A random sentence of ``min_words`` to ``max_words`` words, in LibriSpeech's text conventions."""
    if not 1 <= min_words <= max_words:
        raise ValueError(f"words range [{min_words}, {max_words}] is empty")
    for _ in range(1000):
        words = _expand_template(TEMPLATES[rng.integers(len(TEMPLATES))], rng)
        if min_words <= len(words) <= max_words:
            return " ".join(words)
    raise ValueError(f"the grammar cannot produce sentences of {min_words} to {max_words} words")


def _expand_template(template: list[str], rng: np.random.Generator) -> list[str]:
    return [word for slot in template for word in _expand(slot, rng)]


def vocabulary() -> set[str]:
    """Every word the grammar can produce."""
    words = {word for entries in WORD_LISTS.values() for entry in entries for word in entry.split()}
    literal_slots = [slot for template in TEMPLATES for slot in template]
    literal_slots += [slot for alternatives in PHRASES.values() for alt in alternatives for slot in alt]
    words |= {slot for slot in literal_slots if slot not in WORD_LISTS and slot not in PHRASES}
    return words
