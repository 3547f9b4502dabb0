"""Models: references, sources (Civitai, Hugging Face, plain URLs), the transfer engine, the
shared store and pickle safety. See docs/models.md for how the pieces fit."""
