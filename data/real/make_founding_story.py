"""Write founding_story.txt: the founding example's story (animals, machines and AI, negation,
neutral filler) told in real sentences, from the templates and word lists below.

Deterministic (a fixed seed): ``python data/real/make_founding_story.py`` rewrites the same file.
The concept word lists are in ``founding_story.concepts.json`` beside it; every word a template
uses for a concept comes from those lists, so the lists are the ground truth of the corpus.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 2024
SENTENCES = 2400
PER_PARAGRAPH = 4

CONCEPTS = json.loads((HERE / "founding_story.concepts.json").read_text(encoding="utf-8"))["concepts"]
ANIMALS = ["cat", "dog", "horse", "rabbit", "fox", "owl", "goat", "mouse", "wolf", "parrot", "tiger",
           "sheep", "duck", "elephant", "monkey", "bear", "cow", "pig", "squirrel", "donkey"]
PLURAL = {"mouse": "mice", "wolf": "wolves", "sheep": "sheep", "fox": "foxes"}
MACHINES = ["robot", "computer", "machine", "AI", "chatbot", "drone", "algorithm", "laptop",
            "AI assistant", "neural network", "server", "calculator", "android", "processor", "software"]
ANIMAL_ADJ = ["happy", "loyal", "hungry", "sleepy", "small", "old", "curious", "brave", "lazy", "wild", "gentle"]
MACHINE_ADJ = ["new", "fast", "broken", "clever", "noisy", "cheap", "powerful", "old", "quiet", "shiny"]
ANIMAL_DOES = ["slept by the window", "chased a ball across the yard", "ate its dinner slowly",
               "ran into the garden", "climbed the old fence", "drank from the river", "barked at the postman",
               "hid under the bed", "played in the grass", "watched the birds all morning",
               "licked its paws", "rolled in the mud", "followed the farmer home"]
MACHINE_DOES = ["answered every question", "crashed during the update", "sorted the files overnight",
                "translated the letter", "predicted the weather", "beeped twice and restarted",
                "wrote a short program", "recognised the faces in the photo", "processed the data",
                "charged its battery", "ran the calculation again", "scanned the documents"]
PLACES = ["in the kitchen", "on the farm", "near the lake", "in the park", "at the zoo", "in the forest",
          "in the office", "in the laboratory", "at the station", "in the city"]
FILLER = [
    "The weather was {w} in {c} on {d}.", "She bought {f} at the market on {d}.",
    "The train to {c} left at {t} o'clock.", "We painted the kitchen {col} last {d}.",
    "The meeting about the budget lasted {n} hours.", "He read a long book about the history of {c}.",
    "The museum in {c} opens at {t} in the morning.", "They cooked {f} for dinner on {d}.",
    "Her favourite colour has always been {col}.", "The bridge over the river was built in {y}.",
    "A {col} umbrella was left on the bus.", "The library closes early on {d}.",
    "Prices in {c} rose again this year.", "The children walked to school in the {w} weather.",
]
FILL = {"w": ["sunny", "rainy", "cold", "windy", "warm", "foggy"],
        "c": ["Paris", "Lisbon", "Cairo", "Oslo", "Lima", "Seoul", "Boston", "Nairobi", "Vienna"],
        "d": ["Monday", "Tuesday", "Friday", "Sunday", "Saturday"],
        "f": ["bread", "apples", "rice", "cheese", "soup", "fish", "tomatoes"],
        "t": ["six", "seven", "eight", "nine", "ten"],
        "col": ["blue", "green", "yellow", "red", "grey", "orange"],
        "n": ["two", "three", "four", "five"], "y": ["1889", "1901", "1932", "1964", "1987"]}


def plural(word: str) -> str:
    if word in PLURAL:
        return PLURAL[word]
    return word + ("es" if word.endswith(("s", "x")) else "s")


def article(word: str) -> str:
    return "an" if word[0].lower() in "aeiou" or word.startswith("AI") else "a"


def animal_sentence(r: random.Random) -> str:
    a = r.choice(ANIMALS)
    return r.choice([
        lambda: f"The {r.choice(ANIMAL_ADJ)} {a} {r.choice(ANIMAL_DOES)}.",
        lambda: f"{article(a).capitalize()} {a} {r.choice(ANIMAL_DOES)} {r.choice(PLACES)}.",
        lambda: (lambda adj: f"My neighbour has {article(adj)} {adj} {a} and two {plural(r.choice(ANIMALS))}.")(r.choice(ANIMAL_ADJ)),
        lambda: f"The {plural(a)} {r.choice(PLACES)} were {r.choice(ANIMAL_ADJ)} today.",
        lambda: f"Every morning the {a} waits for the children.",
    ])()


def machine_sentence(r: random.Random) -> str:
    m = r.choice(MACHINES)
    return r.choice([
        lambda: f"The {r.choice(MACHINE_ADJ)} {m} {r.choice(MACHINE_DOES)}.",
        lambda: f"{article(m).capitalize()} {m} {r.choice(MACHINE_DOES)} {r.choice(PLACES)}.",
        lambda: f"Engineers tested the {m} and the {r.choice(MACHINES)} for a week.",
        lambda: f"The company built {article(m)} {r.choice(MACHINE_ADJ)} {m} for its customers.",
        lambda: f"Her {m} {r.choice(MACHINE_DOES)} before lunch.",
    ])()


def negation_sentence(r: random.Random) -> str:
    a, m = r.choice(ANIMALS), r.choice(MACHINES)
    return r.choice([
        lambda: f"The {a} is not {article(m)} {m}.",
        lambda: f"This {m} is not {article(a)} {a}, whatever the children say.",
        lambda: f"A {m} doesn't get hungry like a {a}.",
        lambda: f"The {a} never {r.choice(ANIMAL_DOES)}.",
        lambda: f"No {a} has ever {r.choice(MACHINE_DOES)}.",
        lambda: f"The {m} can't feel happy or sad.",
        lambda: f"Nobody thinks the {m} {r.choice(ANIMAL_DOES)}.",
        lambda: f"It isn't {article(a)} {a}; it is {article(m)} {m}.",
        lambda: f"Neither the {a} nor the {m} won the prize.",
        lambda: f"We don't keep {plural(a)} in the office.",
        lambda: f"The {m} won't work without power.",
        lambda: f"Nothing in the room was {r.choice(ANIMAL_ADJ)}, not even the {a}.",
        lambda: f"The weather in {r.choice(FILL['c'])} wasn't {r.choice(FILL['w'])} at all.",
        lambda: f"She didn't buy any {r.choice(FILL['f'])} on {r.choice(FILL['d'])}.",
    ])()


def filler_sentence(r: random.Random) -> str:
    template = r.choice(FILLER)
    return template.format(**{k: r.choice(v) for k, v in FILL.items()})


def sentences(n: int = SENTENCES, seed: int = SEED) -> list[str]:
    r = random.Random(seed)
    kinds = [animal_sentence, machine_sentence, negation_sentence, filler_sentence]
    weights = [0.25, 0.25, 0.25, 0.25]
    out, seen = [], set()
    while len(out) < n:
        s = r.choices(kinds, weights)[0](r)
        if s not in seen:  # varied: no sentence twice
            seen.add(s)
            out.append(s)
    return out


def main() -> None:
    """No arguments: rewrite founding_story.txt. ``--seed S --out FILE``: a held-out story of the same kind
    (other sentences from the same templates and words), to judge settings on text they were not tuned on."""
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=SEED, help=f"the sentences' random seed (default {SEED})")
    parser.add_argument("--out", default=str(HERE / "founding_story.txt"), help="where to write the story")
    args = parser.parse_args()
    lines = sentences(seed=args.seed)
    paragraphs = [" ".join(lines[i : i + PER_PARAGRAPH]) for i in range(0, len(lines), PER_PARAGRAPH)]
    Path(args.out).write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
    vocabulary = {w.lower() for s in lines for w in s.replace(";", " ").replace(",", " ").replace(".", " ").split()}
    for name, words in CONCEPTS.items():
        used = sorted(set(words) & vocabulary)
        print(f"{name}: {len(used)} of {len(words)} words appear")


if __name__ == "__main__":
    main()
