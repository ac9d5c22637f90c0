"""Models of both routes: CNN, MLP and ridge heads, the perceptual ViT and CNN, training, metrics and storage."""
