# The local system (emulator, Runtime API, event source, feed) and `make demo`.
