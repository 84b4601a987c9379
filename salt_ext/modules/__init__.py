"""Salt loader modules (found through the salt.loader entry point; Salt skips this file)."""
