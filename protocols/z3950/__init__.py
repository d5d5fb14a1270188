"""Z39.50 version 3 target (see issue: Z39.50 endpoint)."""
