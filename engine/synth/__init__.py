"""The synthesizer: reproducible music whose emotions are known functions of musical factors.

It sits on :mod:`engine.vocabulary` only; :mod:`engine.datasets.synthetic` adapts it to the
dataset interface.

Modules
-------
:mod:`engine.synth.common`
    the latent factors and how they sound, streams of randomness, wavetables, song themes.
:mod:`engine.synth.emotions`
    the emotion model: ratings and label as functions of the factors.
:mod:`engine.synth.score`
    a clip's harmony, melody, bass and drums composed as note events.
:mod:`engine.synth.render`
    a score synthesised into four stems and their mixture
    (:func:`~engine.synth.render.render_factors`).
:mod:`engine.synth.corpus`
    the plan of a corpus: songs, clips, factors, emotions, splits and the confound.
"""
