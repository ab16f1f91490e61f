"""The storage seam: the system database, one store per concern, over a SQLite or Postgres backend."""
