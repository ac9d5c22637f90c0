"""Audio in and out: loading and encoding, the STFT, spectrograms, chromagrams and the model inputs built on them."""
