"""Explanations: relevance maps of the perceptual models, their faithfulness and sanity checks, and SHAP for tabular heads."""
