"""Rebuild colors_and_shapes.csv and .features.json (python data/make_colors_and_shapes.py OUT_PREFIX).

Five concepts in three dimensions: red = -blue and circle = -square (no token is both), big on
the third axis, all turned by one fixed random rotation (numpy seed 3) so that every dimension
mixes concepts. Each token is the sum of its concepts' unit directions, each scaled by a factor
in [0.9, 1.1], plus noise (sd 0.01), rounded to 2 decimals. Not run by the app.
"""

import json
import sys

import numpy as np

TOKENS = ["red circle", "red square", "blue circle", "blue square", "big red circle", "big blue square",
          "big red square", "big blue circle", "red", "blue", "circle", "square",
          "big red", "big blue", "big circle", "big square", "big"]


def main(out: str, seed: int = 3, spread: float = 0.1) -> None:
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    rotation = q * np.sign(np.diag(r))
    e = np.eye(3)
    directions = {"red": e[0], "blue": -e[0], "circle": e[1], "square": -e[1], "big": e[2]}
    directions = {name: rotation @ v for name, v in directions.items()}
    with open(out + ".csv", "w") as f:
        f.write("token,d0,d1,d2\n")
        for token in TOKENS:
            x = sum(rng.uniform(1 - spread, 1 + spread) * directions[p] for p in token.split())
            x = x + rng.normal(0, 0.01, 3)
            f.write(token + "," + ",".join(f"{v:.2f}" for v in x) + "\n")
    features = [{"name": n, "tokens": [t for t in TOKENS if n in t.split()]} for n in directions]
    with open(out + ".features.json", "w") as f:
        json.dump({"features": features}, f, indent=2)


if __name__ == "__main__":
    main(sys.argv[1])
