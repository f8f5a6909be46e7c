"""Write `porter-nltk.tsv`: words and their stems by NLTK's default Porter stemmer.

The fixture checks `src/porter.rs` against NLTK, the stemmer `rouge-score` uses with
`use_stemmer=True`. Words: a hand-picked list that exercises every rule and every
NLTK extension, then every distinct `[a-z0-9]+` run longer than 3 characters in the
descriptions of the ICD-10-CM FY2026 table (clinical vocabulary), sorted.

Run from the repository root, with `rouge-score` and `nltk` installed in the venv:

    python3 -m venv .venv && .venv/bin/pip install rouge-score==0.1.2 nltk==3.10.4
    .venv/bin/python plugins/summarisation/tests/porter_fixture.py \
        ../shared/data/icd10cm/codes-2026.tsv > plugins/summarisation/tests/porter-nltk.tsv
"""

import re
import sys

import nltk
from nltk.stem.porter import PorterStemmer

HAND_PICKED = """
caresses ponies ties caress cats dies flies lies ties pies spies
feed agreed plastered bled motoring sing died spied tied cried eyed
conflated troubled sized hopping tanned falling hissing fizzed failing filing
happy sky skies spy fly try enjoy toy boy syzygy yyyy yelling eyeing saying playing
dying lying tying news innings inning outings outing cannings canning howe
proceed exceed succeed proceeding exceeded succeeding
relational conditional rational valenci hesitanci digitizer conformabli radicalli
differentli vileli analogousli vietnamization predication operator feudalism
decisiveness hopefulness callousness formaliti sensitiviti sensibiliti
radically possibly probably generally hopefully archaeology geology theology
triplicate formative formalize electriciti electrical hopeful goodness
revival allowance inference airliner gyroscopic adjustable defensible irritant
replacement adjustment dependent adoption homologou communism activate angulariti
homologous effective bowdlerize probate rate cease controll roll
generalizations oscillators generously abnormalities hospitalization hospitalized
diabetes diabetic hypertension hypertensive pneumonia pneumonias chronic chronically
kidney kidneys disease diseases diseased patient patients admitted admission
discharged discharge treated treatment treating presented presenting presentation
fractures fractured fracturing infection infections infected infectious
medication medications medicated prescribed prescription stable stabilized unstable
ow owed owing bowed bowing sewing mixing fixing
1990s 2023 covid19 abc123ing 3rd 10mg mg 500mg x2 b12 hba1c
alli ally allied rally sally bully fully fulli skillfully carefully
logi logic logical biology apology analogies eulogies
agree agrees agreeing feeds needing bleed bleeding seed seeding
cries crying tries trying dries drying fried frying
hoping hopped hopes hoped filed files filing fill filled
""".split()


def icd_vocabulary(path):
    words = set()
    with open(path, encoding="utf-8") as table:
        next(table)
        for line in table:
            description = line.rstrip("\n").split("\t")[-1].lower()
            words.update(w for w in re.findall(r"[a-z0-9]+", description) if len(w) > 3)
    return sorted(words)


def main():
    stemmer = PorterStemmer()
    seen = set()
    words = []
    for word in HAND_PICKED + icd_vocabulary(sys.argv[1]):
        if word not in seen:
            seen.add(word)
            words.append(word)
    print(f"# NLTK {nltk.__version__} PorterStemmer() (NLTK_EXTENSIONS): {len(words)} words", file=sys.stderr)
    for word in words:
        print(f"{word}\t{stemmer.stem(word)}")


if __name__ == "__main__":
    main()
