"""The tooling that runs and teaches the book (pipeline, sweep, student, exercises, widgets,
provenance); nothing in the science or the claims imports it."""
