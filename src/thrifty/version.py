"""thrifty's version, in a module of its own. thrifty/__init__.py is the Python API's front door and
reaches every capability, so modules that only need the version or the package's location name this
module instead (`from thrifty.version import __version__`, or `import thrifty.version` for
`thrifty.__file__`): the import graph keeps no circle through the front door (tests/test_layering.py)."""

__version__ = "0.1.0"
