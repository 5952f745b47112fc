"""Training content as data; see README.md in this folder."""
