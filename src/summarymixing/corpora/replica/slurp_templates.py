"""Sentence templates of the SLURP replica: home-assistant commands in SLURP's scenarios and actions.

Each intent (a real SLURP ``(scenario, action)`` pair, 24 of them over all 18 scenarios) has a few short
templates that share its key words (``alarm`` + ``set``/``wake``, ``weather``/``rain``, ...), so that a
small model trained on a couple of thousand recordings tells the intents apart in unseen voices. A
template is a string of words in which ``{slot}`` is an entity of that type (SLURP's entity types),
filled from the small word lists in ``SLOTS``. Sentences follow SLURP's text conventions: lower case, numbers spelled out, no
punctuation but apostrophes, an optional wake word (``olly``) or ``please``.

``tokenize`` splits words like SLURP's (spaCy) tokens: ``what's`` -> ``what 's``, ``don't`` -> ``do n't``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from math import prod

import numpy as np

SLOTS: dict[str, tuple[str, ...]] = {
    "time": (
        "seven am", "six thirty am", "eight o'clock", "nine pm", "noon", "midnight", "half past seven",
        "ten fifteen", "five pm", "quarter to eight",
    ),
    "date": (
        "today", "tomorrow", "this weekend", "next week", "next monday", "this friday", "the day after tomorrow",
        "sunday morning",
    ),
    "timeofday": ("this morning", "tonight", "this afternoon", "this evening"),
    "place_name": ("london", "paris", "new york", "tokyo", "berlin", "madrid", "chicago", "dublin", "rome", "sydney"),
    "person": ("john", "mary", "sarah", "david", "emma", "peter", "lucy", "tom", "my boss", "my sister"),
    "event_name": (
        "meeting", "dentist appointment", "lunch", "team call", "yoga class", "birthday party", "doctor's appointment",
        "dinner",
    ),
    "house_place": ("kitchen", "bedroom", "living room", "bathroom", "hallway", "office"),
    "coffee_type": ("latte", "cappuccino", "espresso", "black coffee", "flat white", "americano"),
    "list_name": ("shopping", "grocery", "to do", "holiday", "party", "work"),
    "ingredient": ("milk", "eggs", "bread", "apples", "butter", "rice", "cheese", "tomatoes", "bananas"),
    "food_type": ("pizza", "sushi", "chinese", "indian", "thai", "burgers", "curry", "pasta", "noodles"),
    "business_name": ("dominos", "pizza express", "burger king", "nandos", "wagamama", "subway"),
    "news_topic": (
        "sports", "politics", "technology", "business", "science", "football", "the election", "the economy",
    ),
    "song_name": (
        "yesterday", "let it be", "hey jude", "bohemian rhapsody", "imagine", "wonderwall", "thriller", "hello",
    ),
    "artist_name": (
        "the beatles", "adele", "queen", "michael jackson", "coldplay", "oasis", "madonna", "taylor swift",
    ),
    "music_genre": ("jazz", "rock", "classical", "pop", "country", "blues", "hip hop", "reggae"),
    "radio_name": ("bbc radio one", "capital fm", "radio two", "classic fm", "heart fm", "kiss fm"),
    "definition_word": (
        "serendipity", "ephemeral", "ubiquitous", "melancholy", "nostalgia", "paradox", "algorithm", "metaphor",
    ),
    "weather_descriptor": ("sunny", "rainy", "cold", "windy", "hot", "snowy", "cloudy", "foggy"),
    "transport_type": ("train", "bus", "plane", "ferry", "coach"),
    "joke_type": ("funny", "short", "silly", "knock knock", "dad", "clean"),
    "business_type": ("restaurant", "cafe", "bar", "cinema", "museum", "park"),
    "relation": ("mom", "dad", "brother", "wife", "husband", "best friend"),
}  # fmt: skip

INTENTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("alarm", "set"): (
        "set an alarm for {time}",
        "wake me up at {time}",
        "set an alarm for {time} {date}",
        "wake me up {date} at {time}",
    ),
    ("alarm", "query"): (
        "what alarms do i have {date}",
        "which alarms are on {date}",
        "show me my alarms for {date}",
        "list my alarms {date}",
    ),
    ("audio", "volume_mute"): (
        "mute the speakers in the {house_place}",
        "mute yourself for {time}",
        "mute the sound {timeofday}",
        "be quiet and mute for {time}",
    ),
    ("calendar", "set"): (
        "add {event_name} to my calendar {date}",
        "put {event_name} with {person} in my calendar",
        "add {event_name} at {time} to my calendar",
        "schedule {event_name} in my calendar {date}",
    ),
    ("calendar", "query"): (
        "what's on my calendar {date}",
        "what is in my calendar for {date}",
        "when is {event_name} in my calendar",
        "check my calendar {date}",
    ),
    ("cooking", "recipe"): (
        "how do i cook {food_type}",
        "give me a recipe for {food_type}",
        "find a {food_type} recipe",
        "a quick recipe with {ingredient}",
    ),
    ("datetime", "query"): (
        "what time is it in {place_name}",
        "what's the time in {place_name}",
        "tell me the time in {place_name}",
        "what is the date {date}",
    ),
    ("email", "query"): (
        "check my emails from {person}",
        "read my new emails from {person}",
        "any new emails {date}",
        "do i have new emails from {person}",
    ),
    ("email", "sendemail"): (
        "send an email to {person}",
        "send {person} an email about {event_name}",
        "write an email to {person}",
        "email {relation} that i'm late",
    ),
    ("general", "joke"): (
        "tell me a joke",
        "tell me a {joke_type} joke",
        "i want to hear a {joke_type} joke",
        "tell {person} a joke",
    ),
    ("iot", "hue_lightoff"): (
        "turn off the lights in the {house_place}",
        "switch off the {house_place} lights",
        "lights off in the {house_place}",
        "turn the lights off {timeofday}",
    ),
    ("iot", "coffee"): (
        "make me a {coffee_type}",
        "brew me a {coffee_type}",
        "i need a {coffee_type} from the coffee machine",
        "make coffee for {person}",
    ),
    ("lists", "createoradd"): (
        "add {ingredient} to my {list_name} list",
        "put {ingredient} on the {list_name} list",
        "add {ingredient} to the list",
        "create a {list_name} list",
    ),
    ("music", "likeness"): (
        "i love {artist_name}",
        "i really like {music_genre} music",
        "i like {song_name} by {artist_name}",
        "remember that i love {song_name}",
    ),
    ("news", "query"): (
        "what's the news about {news_topic}",
        "read me the {news_topic} news",
        "any news from {place_name}",
        "latest news headlines {date}",
    ),
    ("play", "music"): (
        "play {song_name} by {artist_name}",
        "play some {music_genre} music",
        "play songs by {artist_name}",
        "play my {music_genre} playlist",
    ),
    ("play", "radio"): (
        "play {radio_name} radio",
        "tune in to {radio_name} radio",
        "turn on the radio {timeofday}",
        "put on the radio station {radio_name}",
    ),
    ("qa", "definition"): (
        "what does {definition_word} mean",
        "define the word {definition_word}",
        "what is the meaning of {definition_word}",
        "give me the definition of {definition_word}",
    ),
    ("recommendation", "events"): (
        "are there any events in {place_name} {date}",
        "what events are on near me {date}",
        "recommend an event {timeofday}",
        "any good events in {place_name}",
    ),
    ("social", "post"): (
        "post on facebook that i'm in {place_name}",
        "tweet that i love {place_name}",
        "complain to {business_name} on twitter",
        "post on facebook about my {event_name}",
    ),
    ("takeaway", "order"): (
        "order a {food_type} takeaway",
        "order {food_type} from {business_name}",
        "order a takeaway from {business_name}",
        "i want to order {food_type} for delivery",
    ),
    ("transport", "ticket"): (
        "book a {transport_type} ticket to {place_name}",
        "buy me a ticket to {place_name} {date}",
        "i need a {transport_type} ticket for {date}",
        "get me a ticket to {place_name}",
    ),
    ("transport", "taxi"): (
        "call me a taxi to {place_name}",
        "book a taxi for {time}",
        "get me a taxi to the {business_type}",
        "order a taxi {timeofday}",
    ),
    ("weather", "query"): (
        "what's the weather in {place_name} {date}",
        "what is the weather {date}",
        "will it rain in {place_name}",
        "is it going to be {weather_descriptor} {date}",
    ),
}  # fmt: skip

# Weighted by repetition; real prompts often start with the wake word "olly".
PREFIXES = ("", "", "", "", "olly", "olly", "please")
SUFFIXES = ("", "", "", "please")

SLOT_RE = re.compile(r"^\{(\w+)\}$")
# spaCy splits these endings off a word: what's -> what 's, can't -> ca n't, i'm -> i 'm.
CLITIC_RE = re.compile(r"^(?P<stem>.+?)(?P<clitic>n't|'s|'m|'re|'ve|'ll|'d)$")
SPECIAL_TOKENS = {"can't": ["ca", "n't"], "won't": ["wo", "n't"]}


@dataclass(frozen=True)
class Sentence:
    """A sentence of the replica with its SLURP annotation, tokens and entity spans."""

    text: str  # "olly wake me up at seven am"
    annotation: str  # "olly wake me up at [time : seven am]"
    tokens: tuple[str, ...]  # SLURP-like (spaCy) tokens of ``text``
    entities: tuple[tuple[str, str, tuple[int, ...]], ...]  # (type, filler, token ids)


def tokenize(word: str) -> list[str]:
    """One word -> its SLURP (spaCy) tokens: ``what's`` -> ``["what", "'s"]``; ``o'clock`` stays whole."""
    if word in SPECIAL_TOKENS:
        return list(SPECIAL_TOKENS[word])
    match = CLITIC_RE.match(word)
    return [match["stem"], match["clitic"]] if match else [word]


def render(template: str, fillers: dict[int, str], prefix: str = "", suffix: str = "") -> Sentence:
    """Fill ``template``'s slots (the ``i``-th slot word gets ``fillers[i]``) and add prefix and suffix."""
    words: list[str] = prefix.split()
    annotation: list[str] = prefix.split()
    tokens: list[str] = [token for word in words for token in tokenize(word)]
    entities = []
    slot_index = 0
    for word in template.split():
        slot = SLOT_RE.match(word)
        if slot is None:
            words.append(word)
            annotation.append(word)
            tokens.extend(tokenize(word))
            continue
        filler = fillers[slot_index]
        slot_index += 1
        first = len(tokens)
        for filler_word in filler.split():
            words.append(filler_word)
            tokens.extend(tokenize(filler_word))
        annotation.append(f"[{slot[1]} : {filler}]")
        entities.append((slot[1], filler, tuple(range(first, len(tokens)))))
    for word in suffix.split():
        words.append(word)
        annotation.append(word)
        tokens.extend(tokenize(word))
    return Sentence(" ".join(words), " ".join(annotation), tuple(tokens), tuple(entities))


def slots_of(template: str) -> list[str]:
    """The entity types of ``template``'s slots, in order."""
    return [match[1] for match in map(SLOT_RE.match, template.split()) if match]


def random_sentence(rng: np.random.Generator, scenario: str, action: str) -> Sentence:
    """A random sentence of the intent ``scenario_action``: template, fillers, prefix and suffix."""
    templates = INTENTS[(scenario, action)]
    template = templates[int(rng.integers(len(templates)))]
    fillers = {i: SLOTS[slot][int(rng.integers(len(SLOTS[slot])))] for i, slot in enumerate(slots_of(template))}
    prefix = PREFIXES[int(rng.integers(len(PREFIXES)))]
    suffix = SUFFIXES[int(rng.integers(len(SUFFIXES)))]
    return render(template, fillers, prefix, suffix)


def distinct_sentences(scenario: str, action: str) -> int:
    """How many different sentences the intent's templates can make (an upper bound: fillers may repeat)."""
    per_template = sum(prod(len(SLOTS[slot]) for slot in slots_of(t)) for t in INTENTS[(scenario, action)])
    return per_template * len(set(PREFIXES)) * len(set(SUFFIXES))
