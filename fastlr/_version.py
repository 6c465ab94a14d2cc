"""fastlr's version, in a module of its own so that the kernel cache guard
can read it without importing the rest of the package."""

__version__ = "0.4.0"
