"""The Kumpel node firmware package (firmware/README.md). Imports nothing: modules load on first use."""
