"""The library: audio, music analysis, the synthesizer, datasets, models and explanations (no I/O of results)."""
