"""The built-in problem set (package data): every worked example of the seed texts, as TOML."""
