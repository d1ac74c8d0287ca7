"""Training CLIR rankers on artificially code-switched data, and exporting a trainable encoder."""
