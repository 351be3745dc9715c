"""Views: pure folds over the log, with checkpoints, in their own LMDB environment."""
