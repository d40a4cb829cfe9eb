"""Capacity runs: step the open-model offered rate up until the system (or the generator)
stops keeping up, and put native tools' ceilings beside the figure."""
