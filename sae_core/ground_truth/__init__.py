"""The ground-truth lab: synthetic activations built from known feature directions, SAEs trained
on them, and how much of the truth they recovered.

- ``generators``: the data (Sharkey-style sparse combinations; Toy Models of Superposition; SAELens'
  hierarchy, children firing only with their parent),
- ``lab``: one lab run (each architecture's recipe, a time budget, recovery over time),
- ``recovery``: the metrics (MMCS, Hungarian cosine, what became of each true feature),
- ``hierarchy``: absorption against the true parent directions (hierarchical data),
- ``charts``: the Superposition page's charts.
"""
