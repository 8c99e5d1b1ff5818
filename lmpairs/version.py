"""The single place the package version is declared (setup.py and manifests read it)."""
__version__ = "0.2.1"
