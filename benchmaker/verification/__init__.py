"""Program-verified answer keys: a generated program computes the answer; a sandbox runs it; the
result is matched to an option."""
