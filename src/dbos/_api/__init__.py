"""The DBOS facade, split by concern; each public method is a short delegation."""
