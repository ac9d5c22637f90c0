"""Music analysis with Essentia and NumPy: harmony, melody, rhythm and the mid-level descriptor estimates."""
