"""``python -m maskgen_trainer train|evaluate|predict ...`` (what ``torchrun -m`` runs)."""
from .cli import main

main()
