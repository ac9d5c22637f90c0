"""The offline precompute engine: reads a profile, runs the engine's units of work and writes a results database."""
