"""LMDB in POSIX-semaphore mode (macOS's locking), reproduced on Linux."""
