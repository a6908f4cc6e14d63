import re

from keras_nn.data.sentences import ANIMALS, generate_sentences

PLURALS = {plural: noun for noun, (plural, _, _) in ANIMALS.items()}


def _head(word):
    """(noun, plural) of a noun form."""
    return (PLURALS[word], True) if word in PLURALS else (word, False)


def test_same_seed_same_text_and_size():
    assert generate_sentences(200, seed=3) == generate_sentences(200, seed=3)
    assert generate_sentences(200, seed=3) != generate_sentences(200, seed=4)
    text = generate_sentences()
    assert 150_000 < len(text.encode()) < 500_000  # a few hundred KB at most
    assert text.endswith("\n")


def test_verbs_agree_with_the_distant_head_noun_and_food_fits_the_eater():
    agreed = ambiguous = 0
    contexts = {}
    for line in generate_sentences(2000, seed=0).splitlines():
        match = re.match(r"the (\w+) (?:(?:near|with|behind) the \w+ |that the \w+ \w+ )?(eats?|chases?) (.*) \.$", line)
        if not match:
            continue
        noun, plural = _head(match.group(1))
        verb = match.group(2)
        assert verb.endswith("s") != plural, line  # "eats" for one, "eat" for many
        if verb.startswith("eat"):
            assert match.group(3).split()[0] in ANIMALS[noun][1], line
        agreed += 1
        words = line.split()
        before = words[words.index(verb) - 1]
        contexts.setdefault(before, set()).add(verb.endswith("s"))
    ambiguous = sum(len(forms) == 2 for forms in contexts.values())
    assert agreed > 1000
    # The word before the verb does not tell its number (a bigram cannot learn the agreement).
    assert ambiguous >= 5
