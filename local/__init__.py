"""The local system: AWS emulator (moto server), terraform driver, checkov gate; later the Runtime API."""
