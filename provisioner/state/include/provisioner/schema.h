// The state's schema history, one list for both backends: migration N
// brings a database from version N - 1 to N, with its SQL for SQLite and for
// PostgreSQL side by side (the same tables, columns and rules; types and
// triggers in each one's dialect). To change the schema, append a step to
// kMigrations in state/src/migrations.cpp with both texts and raise
// Store::kSchemaVersion; the store schema tests check that every older
// version migrates with its data kept and that both backends end with the
// same tables and columns. Immutable data: thread-safe.
#pragma once

#include <span>

namespace darasa::schema {

struct Migration {
  int version;           // the version it brings the schema to
  const char* sqlite;    // DDL (several statements), run in one transaction
  const char* postgres;  // the same in PostgreSQL's dialect
};

std::span<const Migration> migrations();

}  // namespace darasa::schema
