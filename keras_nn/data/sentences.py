"""`generated:sentences`: a synthetic English corpus from a small probabilistic grammar (seeded, no download).

Sentences such as "the cat near the dogs eats tuna ." are drawn from a grammar whose choices depend on words
several positions back, which a bigram model cannot see but a recurrent network can carry in its state:

- number agreement across a prepositional phrase or relative clause: "the cats that the dog sees eat fish ."
  (the verb agrees with "cats", four words back, not with "dog" just before it);
- selection: what is eaten or chased depends on the subject ("the bird ... eats seeds", "the dog ... eats
  bones"), however many words stand between them;
- pronouns: "the cats are hungry , so they eat ." repeats the subject's number in the second clause;
- a short dialogue pattern: a question "does the cat eat tuna ?" is answered "yes , it does ." or
  "no , it eats fish ." with the subject's pronoun and food.

One sentence per line, lower case, words and punctuation separated by spaces. The text is generated, not
written by people: it is a test bed that trains in minutes on a CPU, not a model of English.

Example:
    >>> text = generate_sentences(3, seed=0)
    >>> text.splitlines()[0]
    'the mice are old , so they eat grain .'
"""

from __future__ import annotations

import random

# noun: (plural, foods it eats, what it chases)
ANIMALS = {
    "cat": ("cats", ("tuna", "fish", "milk"), ("mice", "birds")),
    "dog": ("dogs", ("bones", "meat", "rice"), ("cats", "balls")),
    "bird": ("birds", ("seeds", "worms", "bread"), ("flies", "bugs")),
    "mouse": ("mice", ("cheese", "grain", "bread"), ("crumbs", "bugs")),
    "fox": ("foxes", ("eggs", "meat", "berries"), ("rabbits", "mice")),
}
PLACES = ("in the garden", "on the roof", "at home", "by the river", "under the table")
PREPOSITIONS = ("near", "with", "behind")
ADJECTIVES = ("hungry", "tired", "happy", "small", "old")
TIMES = ("every morning", "at night", "today", "again")
# verb: (singular form, plural form)
TRANSITIVE = {"see": ("sees", "see"), "like": ("likes", "like"), "follow": ("follows", "follow")}


def _noun_phrase(noun, plural):
    return f"the {ANIMALS[noun][0] if plural else noun}"


def _other(rng, avoid):
    return rng.choice([noun for noun in ANIMALS if noun != avoid])


def _subject(rng):
    """A subject with something between it and its verb: `(words, noun, plural)`."""
    noun, plural = rng.choice(list(ANIMALS)), rng.random() < 0.5
    words = [_noun_phrase(noun, plural)]
    roll = rng.random()
    if roll < 0.35:
        other = _other(rng, noun)
        words.append(f"{rng.choice(PREPOSITIONS)} {_noun_phrase(other, rng.random() < 0.5)}")
    elif roll < 0.6:
        other, other_plural = _other(rng, noun), rng.random() < 0.5
        verb = rng.choice(list(TRANSITIVE))
        words.append(f"that {_noun_phrase(other, other_plural)} {TRANSITIVE[verb][1 if other_plural else 0]}")
    return " ".join(words), noun, plural


def _eat(plural):
    return "eat" if plural else "eats"


def _sentence(rng):
    roll = rng.random()
    if roll < 0.45:
        words, noun, plural = _subject(rng)
        tail = f" {rng.choice(TIMES)}" if rng.random() < 0.3 else ""
        return f"{words} {_eat(plural)} {rng.choice(ANIMALS[noun][1])}{tail} ."
    if roll < 0.7:
        words, noun, plural = _subject(rng)
        chases = "chase" if plural else "chases"
        return f"{words} {chases} the {rng.choice(ANIMALS[noun][2])} {rng.choice(PLACES)} ."
    if roll < 0.85:
        noun, plural = rng.choice(list(ANIMALS)), rng.random() < 0.5
        be, pronoun = ("are", "they") if plural else ("is", "it")
        return (
            f"{_noun_phrase(noun, plural)} {be} {rng.choice(ADJECTIVES)} , so {pronoun} "
            f"{_eat(plural)} {rng.choice(ANIMALS[noun][1])} ."
        )
    noun, plural = rng.choice(list(ANIMALS)), rng.random() < 0.5
    food = rng.choice(ANIMALS[noun][1])
    do, pronoun = ("do", "they") if plural else ("does", "it")
    question = f"{do} {_noun_phrase(noun, plural)} eat {food} ?"
    if rng.random() < 0.5:
        return f"{question}\nyes , {pronoun} {do} ."
    other = rng.choice([item for item in ANIMALS[noun][1] if item != food])
    return f"{question}\nno , {pronoun} {_eat(plural)} {other} ."


def generate_sentences(num_sentences: int = 8000, seed: int = 0) -> str:
    """Text of `num_sentences` generated sentences, one a line (a question and its answer share two lines).

    Args:
        num_sentences: how many sentences (about 35 characters each).
        seed: the generator's seed; the same seed gives the same text.

    Returns:
        The text, ending with a newline.
    """
    rng = random.Random(seed)
    return "\n".join(_sentence(rng) for _ in range(int(num_sentences))) + "\n"
