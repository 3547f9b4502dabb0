"""Test helpers shared across areas: ``from helpers.<module> import ...`` (pytest puts tests/
on sys.path). gitrepo: real git repos; wheels: tiny wheels; fakehub: loopback Civitai/Hugging
Face/CDN; payloads: valid model files."""
