"""The storage seam: the system database, one store per concern, over SQLite or Postgres."""
